package eventing

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/antchfx/xpath"
	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// MaxFilterLength caps the length of a filter expression in bytes.
const MaxFilterLength = 4096

// SupportedDialects lists the filter dialects Herald evaluates.
var supportedDialects = []string{DialectXPath10, DialectTopic}

// SupportedDialects returns the filter dialect URIs Herald evaluates.
func SupportedDialects() []string { return slices.Clone(supportedDialects) }

// A FilterSpec is a filter as the subscriber wrote it: what is stored.
type FilterSpec struct {
	Dialect    string `json:"dialect"`
	Expression string `json:"expression"`
	// Namespaces are the prefix bindings in scope at the wse:Filter
	// element, for XPath expressions.
	Namespaces map[string]string `json:"namespaces,omitempty"`
}

// TopicFilter returns the filter that selects the events of one topic.
func TopicFilter(topic string) *FilterSpec {
	return &FilterSpec{Dialect: DialectTopic, Expression: topic}
}

func (f *FilterSpec) canonical() string {
	var b strings.Builder
	b.WriteString(f.Dialect + "\x00" + f.Expression)
	for _, k := range slices.Sorted(maps.Keys(f.Namespaces)) {
		b.WriteString("\x00" + k + "=" + f.Namespaces[k])
	}
	return b.String()
}

// A Filter decides whether an event is for a subscription.
type Filter interface {
	// Match reports whether e is for the subscription; an error
	// (ErrFilterBudget, wrapped) means the evaluation was stopped.
	Match(e *Event) (bool, error)
}

// ErrFilterPanic is wrapped by the error of a Match that stopped because
// the XPath library panicked on the expression; the event does not match.
var ErrFilterPanic = errors.New("eventing: the XPath filter failed to evaluate")

type topicFilter string

func (t topicFilter) Match(e *Event) (bool, error) { return e.Topic == string(t), nil }

type matchAll struct{}

func (matchAll) Match(*Event) (bool, error) { return true, nil }

// xpathFilter evaluates a compiled XPath expression. An xpath.Expr keeps
// evaluation state, so each goroutine takes its own from a pool.
type xpathFilter struct {
	text string // the expression, for errors
	pool *sync.Pool
}

func (x *xpathFilter) Match(e *Event) (ok bool, err error) {
	expr := x.pool.Get().(*xpath.Expr)
	defer func() {
		if r := recover(); r != nil {
			// expr may be left mid-evaluation: it is not put back, the
			// pool compiles a fresh one.
			ok, err = false, fmt.Errorf("%w: %q: %v", ErrFilterPanic, x.text, r)
			return
		}
		x.pool.Put(expr)
	}()
	return truth(expr.Evaluate(newNavigator(e.Document()))), nil
}

// truth converts an XPath 1.0 result to a boolean as boolean() does.
func truth(v any) bool {
	switch r := v.(type) {
	case bool:
		return r
	case float64:
		return r != 0 && !math.IsNaN(r)
	case string:
		return r != ""
	case *xpath.NodeIterator:
		return r.MoveNext()
	}
	return false
}

// ParseFilter reads a wse:Filter element. The dialect defaults to XPath 1.0;
// an XPath expression is compiled with the element's in-scope namespace
// bindings. It returns wse:FilteringRequestedUnavailable for an unknown
// dialect and wse:InvalidMessage for an expression that does not compile,
// is empty, or is longer than MaxFilterLength.
func ParseFilter(el *etree.Element) (*FilterSpec, error) {
	dialect := strings.TrimSpace(el.SelectAttrValue("Dialect", ""))
	if dialect == "" || dialect == DialectXPath10W3C {
		dialect = DialectXPath10
	}
	spec := &FilterSpec{Dialect: dialect, Expression: strings.TrimSpace(el.Text())}
	if len(el.ChildElements()) > 0 {
		return nil, InvalidMessage("wse:Filter must contain only the expression text, not elements")
	}
	if dialect == DialectXPath10 {
		ns := addressing.Namespaces(el)
		delete(ns, "") // XPath 1.0 has no default namespace for name tests
		if len(ns) > 0 {
			spec.Namespaces = ns
		}
	}
	if _, err := CompileFilter(spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// CompileFilter turns a stored filter into a Filter; nil means all events.
func CompileFilter(spec *FilterSpec) (Filter, error) {
	if spec == nil {
		return matchAll{}, nil
	}
	if spec.Expression == "" {
		return nil, InvalidMessage("the filter expression is empty")
	}
	if len(spec.Expression) > MaxFilterLength {
		return nil, InvalidMessage(fmt.Sprintf("the filter expression is %d bytes long, more than the limit of %d", len(spec.Expression), MaxFilterLength))
	}
	switch spec.Dialect {
	case DialectTopic:
		return topicFilter(spec.Expression), nil
	case DialectXPath10:
		if p := unboundPrefix(spec.Expression, spec.Namespaces); p != "" {
			return nil, InvalidMessage(fmt.Sprintf("the XPath expression %q does not compile: the prefix %q is not bound to a namespace (declare it on wse:Filter)", spec.Expression, p))
		}
		expr, err := xpath.CompileWithNS(spec.Expression, spec.Namespaces)
		if err != nil {
			return nil, InvalidMessage(fmt.Sprintf("the XPath expression %q does not compile: %v", spec.Expression, err))
		}
		text, ns := spec.Expression, spec.Namespaces
		pool := &sync.Pool{New: func() any {
			e, _ := xpath.CompileWithNS(text, ns) // compiled once above: cannot fail
			return e
		}}
		pool.Put(expr)
		return &xpathFilter{text: text, pool: pool}, nil
	}
	return nil, FilteringRequestedUnavailable(spec.Dialect, supportedDialects)
}

// unboundPrefix returns the first QName prefix in an XPath expression that
// has no binding in ns ("" when all are bound). String literals and axis
// names (child::) are skipped.
func unboundPrefix(expr string, ns map[string]string) string {
	isStart := func(c byte) bool { return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= 0x80 }
	isName := func(c byte) bool { return isStart(c) || c == '-' || c == '.' || c >= '0' && c <= '9' }
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'':
			j := strings.IndexByte(expr[i+1:], c)
			if j < 0 {
				return ""
			}
			i += j + 2
		case isStart(c) && (i == 0 || !isName(expr[i-1]) && expr[i-1] != '$'):
			j := i
			for j < len(expr) && isName(expr[j]) {
				j++
			}
			if j+1 < len(expr) && expr[j] == ':' && expr[j+1] != ':' && (isStart(expr[j+1]) || expr[j+1] == '*') {
				if _, ok := ns[expr[i:j]]; !ok {
					return expr[i:j]
				}
			}
			i = j
		default:
			i++
		}
	}
	return ""
}

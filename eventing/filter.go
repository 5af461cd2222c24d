package eventing

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/antchfx/xpath"
	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// MaxFilterLength caps the length of a filter expression in bytes.
const MaxFilterLength = 4096

// SupportedDialects lists the filter dialects Herald evaluates.
var supportedDialects = []string{DialectXPath10, DialectXPath10W3C, DialectTopic}

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

// appendCanonical appends f's canonical form to b: its dialect, 0, its
// expression, then 0 and prefix=URI for each namespace, by prefix.
func (f *FilterSpec) appendCanonical(b []byte) []byte {
	b = append(b, f.Dialect...)
	b = append(b, 0)
	b = append(b, f.Expression...)
	if len(f.Namespaces) == 0 {
		return b
	}
	for _, k := range slices.Sorted(maps.Keys(f.Namespaces)) {
		b = append(b, 0)
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, f.Namespaces[k]...)
	}
	return b
}

// A Filter decides whether an event is for a subscription.
type Filter interface {
	// Match reports whether e is for the subscription; an error
	// (ErrFilterBudget, wrapped) means the evaluation was stopped.
	Match(e *Event) (bool, error)
}

// ErrFilterBudget is wrapped by the error of a Match that stopped because
// the XPath evaluation used up its budget of DefaultFilterBudget navigator
// steps; the event does not match.
var ErrFilterBudget = errors.New("eventing: the XPath filter exceeded its evaluation budget")

// DefaultFilterBudget is how many navigator steps (moves and copies, and a
// step per 64 bytes of each string value read) one evaluation of an XPath
// filter may take. A realistic filter takes 10 to 400 steps on a message,
// a few thousand on one with a 64 KiB text (TestFilterBudget_Realistic);
// a hundred thousand leaves that a wide margin and still stops the
// quadratic and exponential expressions within a few milliseconds.
const DefaultFilterBudget = 100_000

// ErrFilterPanic is wrapped by the error of a Match that stopped because
// the XPath library panicked on the expression; the event does not match.
var ErrFilterPanic = errors.New("eventing: the XPath filter failed to evaluate")

// A topicFilter matches the events of one topic. It points at its spec's
// Expression (which the subscription's record keeps) rather than holding
// the string: a type of one pointer is stored in a Filter as it is, where
// a string is boxed in 16 bytes of its own, one per subscription.
type topicFilter struct{ topic *string }

func (t topicFilter) Match(e *Event) (bool, error) { return e.Topic == *t.topic, nil }

type matchAll struct{}

func (matchAll) Match(*Event) (bool, error) { return true, nil }

// xpathFilter evaluates a compiled XPath expression. An xpath.Expr keeps
// evaluation state, so each goroutine takes its own from a pool.
type xpathFilter struct {
	text  string // the expression, for errors
	pool  *sync.Pool
	topic string // the topic the expression pins (see FilterTopic)
}

// newXPathFilter compiles an expression with antchfx/xpath.
func newXPathFilter(text string, ns map[string]string) (*xpathFilter, error) {
	expr, err := xpath.CompileWithNS(text, ns)
	if err != nil {
		return nil, err
	}
	pool := &sync.Pool{New: func() any {
		e, _ := xpath.CompileWithNS(text, ns) // compiled once above: cannot fail
		return e
	}}
	pool.Put(expr)
	return &xpathFilter{text: text, pool: pool}, nil
}

func (x *xpathFilter) Match(e *Event) (bool, error) {
	ok, _, err := x.evaluate(e, DefaultFilterBudget)
	return ok, err
}

// evaluate matches e within budget steps, and returns how many it used.
func (x *xpathFilter) evaluate(e *Event, budget int) (ok bool, used int, err error) {
	expr := x.pool.Get().(*xpath.Expr)
	nav := newNavigator(e.Document(), budget)
	st := nav.ev
	defer func() {
		used = min(budget-st.left, budget)
		// After a panic or an exhausted budget expr may be left
		// mid-evaluation: it is not put back, the pool compiles a fresh one.
		switch r := recover(); {
		case r != nil:
			ok, err = false, fmt.Errorf("%w: %s: %v", ErrFilterPanic, shortExpr(x.text), r)
		case st.exhausted():
			ok, err = false, fmt.Errorf("%w: %s took more than %d steps", ErrFilterBudget, shortExpr(x.text), budget)
		default:
			x.pool.Put(expr)
		}
	}()
	return truth(expr.Evaluate(nav)), 0, nil
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
// dialect and an ErrInvalidFilter for an expression that does not compile,
// is empty, or breaks one of CompileFilter's limits.
func ParseFilter(el *etree.Element) (*FilterSpec, error) {
	dialect := strings.TrimSpace(el.SelectAttrValue("Dialect", ""))
	if dialect == "" || dialect == DialectXPath10W3C {
		dialect = DialectXPath10
	}
	spec := &FilterSpec{Dialect: dialect, Expression: strings.TrimSpace(el.Text())}
	if len(el.ChildElements()) > 0 {
		return nil, invalidFilter("wse:Filter must contain only the expression text, not elements")
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
// An XPath expression must compile with antchfx/xpath and be nothing more:
// text after a complete expression, which the library would ignore, is
// refused. It must also keep within the static limits: MaxFilterLength
// bytes, predicates and function calls nested at most MaxFilterDepth deep
// (brackets of any kind at most twice that), at most MaxFilterSteps
// location steps, only XPath 1.0 functions but id() and lang() (and the
// library's ends-with, lower-case, matches, reverse and string-join, not
// replace) with their numbers of arguments, and neither variables nor the
// namespace axis, nor prefix:* (which the library never matches).
// translate()'s second argument must be a literal of at most 64
// characters, a matches() pattern a literal of at most 256 bytes, and
// string-join() must not contain string-join(): those are the costs that
// the evaluation budget (DefaultFilterBudget) cannot see. The arguments of
// contains(), starts-with(), ends-with(), substring() and sum() must have
// the types the library can convert (it panics on others). Refusals are
// ErrInvalidFilter errors whose reason names the limit or the rule, and an
// expression that can never be true (false(), 1 = 2) is an ErrEmptyFilter.
func CompileFilter(spec *FilterSpec) (Filter, error) {
	if spec == nil {
		return matchAll{}, nil
	}
	if spec.Expression == "" {
		return nil, invalidFilter("the filter expression is empty")
	}
	if len(spec.Expression) > MaxFilterLength {
		return nil, invalidFilter(fmt.Sprintf("the filter expression is %d bytes long, more than the limit of %d", len(spec.Expression), MaxFilterLength))
	}
	switch spec.Dialect {
	case DialectTopic:
		return topicFilter{&spec.Expression}, nil
	case DialectXPath10:
		if p := unboundPrefix(spec.Expression, spec.Namespaces); p != "" {
			return nil, invalidFilter(fmt.Sprintf("the XPath expression %s does not compile: the prefix %q is not bound to a namespace (declare it on wse:Filter)", shortExpr(spec.Expression), p))
		}
		tree, why := checkXPath(spec.Expression)
		if why != "" {
			return nil, invalidFilter(fmt.Sprintf("the XPath expression %s %s", shortExpr(spec.Expression), why))
		}
		f, err := newXPathFilter(spec.Expression, spec.Namespaces)
		if err != nil {
			return nil, invalidFilter(fmt.Sprintf("the XPath expression %s does not compile: %v", shortExpr(spec.Expression), err))
		}
		f.topic = pinnedTopic(tree, spec.Namespaces)
		if constant(tree) {
			if ok, err := f.Match(probeEvent); err == nil && !ok {
				return nil, emptyFilter(fmt.Sprintf("the XPath expression %s does not depend on the event and is false", shortExpr(spec.Expression)))
			}
		}
		return f, nil
	}
	return nil, FilteringRequestedUnavailable(spec.Dialect, supportedDialects)
}

// shortExpr quotes an expression for a message, cut to 100 bytes.
func shortExpr(s string) string {
	const max = 100
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
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

// contextFunctions are the functions whose value depends on the context
// node even without arguments.
var contextFunctions = map[string]bool{
	"position": true, "last": true, "name": true, "local-name": true, "namespace-uri": true,
	"string": true, "number": true, "normalize-space": true, "string-length": true, "lang": true,
	"current": true,
}

// constant reports whether an expression's value does not depend on the
// event: no location path, no variable, no function of the context.
func constant(e *xexpr) bool {
	ok := true
	e.walk(func(x *xexpr) bool {
		switch {
		case x.op == xPath || x.op == xFilter || x.op == xVariable || len(x.steps) > 0 || x.abs:
			ok = false
		case x.op == xFunction && contextFunctions[x.str]:
			ok = false
		}
		return ok
	})
	return ok
}

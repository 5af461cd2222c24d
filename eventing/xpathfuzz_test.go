package eventing

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/antchfx/xpath"
)

// fuzzEvents are the messages FuzzCompileFilter evaluates filters on.
var fuzzEvents = []*Event{
	diskEvent,
	NewEvent(5, time.Now(), Message{Topic: "05"}),
	NewEvent(6, time.Now(), Message{Topic: " a&b<c> ", InstanceID: "(", Timestamp: "1.5", Text: "x\r\ny", Info: "é"}),
}

var compileSeeds = []string{
	"/m:message[m:topic='disk' and contains(m:text, 'full')]",
	"/m:message/m:topic = 'storms'",
	"contains(//m:text, 'wind') and count(/m:message/*) = 4",
	"//m:info",
	"/message/topic = 't'",
	"string(/*/*[2]) = 'a<b'",
	"count(//*) = 3",
	"/m:message/m:topic/text() = 't'",
	"/m:message/m:topic/following-sibling::m:text",
	"/m:message/m:text/preceding-sibling::m:info",
	"local-name(/*) = 'message'",
	"namespace-uri(/*) = 'http://cloud42.jw.de/message'",
	"/m:message/@nope",
	"0",
	"'x'",
	"/child::m:message and 'a:b' = 'a:b'",
	"count(//*[count(//*[count(//*[count(//*)>0])>0])>0])>0",
	"count(//node()[count(//node()[count(//node()[count(//node()|//node())>0])>0])>0])>0",
	"/m:message[m:topic='a'] garbage",
	"/m:message/(m:topic, m:text)[1]",
	"/m:message/m:* and true()",
	"-1 < --2 and 3 div 4 mod 5 * 6 > 0",
	"matches(/m:message/m:topic, '^disk-(full|warn)$')",
	"translate(//m:text, 'abc', 'ABC') = 'x'",
	"string-join(/m:message/*, ',') != ''",
	"//m:topic/ancestor::* | //m:text/preceding::node() | //m:topic/following::node()",
	"/m:message[last()][position() = 1]",
	"child :: m:message [ m:topic = \"a\" ]",
	"sum(//m:timestamp) > 1 and round(number(//m:timestamp)) = 2",
	"substring('abc', 2, 1) = 'b' or normalize-space(' a ') = 'a'",
}

// FuzzCompileFilter checks that CompileFilter never panics, that what it
// compiles evaluates without a library panic (an error is only the step
// budget), and that the parser behind the limits and the pinning reads
// expressions as antchfx/xpath does: when it refuses one the library
// compiles, it is for text after a complete expression, which the library
// ignores.
func FuzzCompileFilter(f *testing.F) {
	for _, s := range compileSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := CompileFilter(&FilterSpec{Dialect: DialectXPath10, Expression: expr, Namespaces: budgetNS})
		if err != nil {
			var fault *Error
			if !errors.As(err, &fault) || (fault.Kind != ErrInvalidFilter && fault.Kind != ErrEmptyFilter) {
				t.Fatalf("%q: error %v is not an InvalidMessage fault", expr, err)
			}
			checkAgreement(t, expr)
			return
		}
		for _, ev := range fuzzEvents {
			if _, err := flt.Match(ev); err != nil && !errors.Is(err, ErrFilterBudget) {
				t.Errorf("%q on %+v: %v", expr, ev.Message, err)
			}
		}
	})
}

// checkAgreement fails when the tokenizer or the parser refuses, other than
// for text after the expression, an expression that the library compiles.
func checkAgreement(t *testing.T, expr string) {
	if len(expr) > MaxFilterLength || strings.ContainsRune(expr, 0) || unboundPrefix(expr, budgetNS) != "" {
		return
	}
	lib, err := xpath.CompileWithNS(expr, budgetNS)
	if err != nil {
		return
	}
	toks, err := tokenize(expr)
	if err == nil {
		_, err = parseXPath(toks)
	}
	var se *xsyntaxError
	if !errors.As(err, &se) {
		return // refused by a limit or a rule
	}
	first := se
	// The library stopped before what Herald refuses. A parser that reads
	// as the library does refuses the library's lookahead token as
	// trailing text; the tokenizer, which reads on, may refuse text
	// beyond it first. Cut the text there until Herald reads an
	// expression, which must be one the library compiles and evaluates
	// the same.
	if toks != nil && !se.trailing {
		t.Fatalf("%q: the library compiles it; Herald's parser refuses it: %v", expr, se)
	}
	head := expr
	for {
		if se.pos == 0 || se.pos >= len(head) {
			t.Fatalf("%q: the library compiles it; Herald refuses %q: %v", expr, head, se)
		}
		head = head[:se.pos]
		toks, err := tokenize(head)
		if err != nil {
			errors.As(err, &se)
			continue
		}
		if _, err = parseXPath(toks); err == nil {
			break
		}
		if errors.As(err, &se); !se.trailing {
			t.Fatalf("%q: the library compiles it; Herald's parser refuses %q: %v", expr, head, se)
		}
	}
	headLib, err := xpath.CompileWithNS(head, budgetNS)
	if err != nil {
		t.Fatalf("%q: Herald refuses it (%v) and the library compiles it, but not %q: %v", expr, first, head, err)
	}
	if startsWithPrefixedStar(expr[len(head):]) {
		// The library reads a name test followed by a prefix:* token
		// as *: it looks at the lookahead token's name. Herald refuses
		// such text anyway.
		return
	}
	for _, ev := range fuzzEvents {
		if a, b := evalLib(lib, ev), evalLib(headLib, ev); a != b {
			t.Fatalf("%q: Herald refuses it (%v), but the library reads past %q: %s on %+v, %s without the tail", expr, first, head, a, ev.Message, b)
		}
	}
}

// evalLib evaluates a library expression within the budget: "true",
// "false", or "stopped".
func evalLib(x *xpath.Expr, ev *Event) (out string) {
	nav := newNavigator(ev.Document(), DefaultFilterBudget)
	st := nav.ev
	defer func() {
		if recover() != nil || st.exhausted() {
			out = "stopped"
		}
	}()
	if truth(x.Evaluate(nav)) {
		return "true"
	}
	return "false"
}

// startsWithPrefixedStar reports whether s starts with a prefix:* token.
func startsWithPrefixedStar(s string) bool {
	s = strings.TrimLeftFunc(s, isXPathSpace)
	name := strings.IndexFunc(s, func(r rune) bool { return !isNameChar(r) })
	return name > 0 && strings.HasPrefix(s[name:], ":*")
}

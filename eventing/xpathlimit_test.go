package eventing_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
)

var mNS = map[string]string{"m": eventing.MessageNS}

func xpathSpec(expr string) *eventing.FilterSpec {
	return &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: expr, Namespaces: mNS}
}

// bomb returns count(//*[count(//*[… count(//*)>0 …])>0])>0 nested n deep:
// n function calls and n-1 predicates; bomb(10) is the 138-byte filter
// that used to stall Herald.
func bomb(n int) string {
	s := "count(//*)>0"
	for range n - 1 {
		s = "count(//*[" + s + "])>0"
	}
	return s
}

func nest(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

func topicList(n int) string {
	var alts []string
	for i := range n {
		alts = append(alts, fmt.Sprintf("m:topic='t%d'", i))
	}
	return "/m:message[" + strings.Join(alts, " or ") + "]"
}

func TestCompileFilter_Refused(t *testing.T) {
	tests := []struct {
		name, expr string
		reason     []string // the fault's reason says each
	}{
		{"the 138-byte bomb", bomb(10), []string{"19 deep", "limit of 8", "MaxFilterDepth"}},
		{"bomb nested 5 deep", bomb(5), []string{"9 deep", "limit of 8"}},
		{"9 predicates", "/" + nest("*[", "]", 9, "*"), []string{"9 deep", "limit of 8"}},
		{"9 function calls", nest("not(", ")", 9, "true()"), []string{"10 deep", "limit of 8"}},
		{"closing brackets in literals do not close", `/m:message[m:text=']]])' and m:info="']])" and ` + bomb(5) + "]", []string{"10 deep"}},
		{"grouping parentheses", nest("(", ")", 17, "1"), []string{"17 deep", "limit of 16"}},
		{"too many steps", topicList(128), []string{"129 location steps", "limit of 128", "MaxFilterSteps"}},
		{"too long", strings.Repeat("/a", eventing.MaxFilterLength), []string{"limit of 4096"}},
		{"text after the expression", "/m:message[m:topic='a'] garbage", []string{"does not compile", "unexpected garbage after the expression"}},
		{"a closing parenthesis too many", "/m:message[m:topic='a'])", []string{"does not compile", "unexpected )"}},
		{"two numbers", "1 2", []string{"does not compile", "unexpected number 2"}},
		{"a NUL, which the library takes for the end", "/m:message[m:topic='a']\x00 or true()", []string{"does not compile", "NUL"}},
		{"an unterminated literal", "/m:message[m:topic='a]", []string{"does not compile", "unterminated"}},
		{"id()", "id('x')", []string{"id()", "no ID attributes"}},
		{"lang()", "/m:message[lang('en')]", []string{"lang()", "xml:lang"}},
		{"an unknown function", "/m:message[frobnicate(m:text)]", []string{"frobnicate()", "not an XPath 1.0 function"}},
		{"a prefixed function", "m:count(//*) > 0", []string{"m:count()", "no prefix"}},
		{"replace()", "replace(/m:message/m:text, '', 'xx') = ''", []string{"replace()", "not XPath 1.0"}},
		{"too few arguments", "count() = 0", []string{"count() with 0 arguments; it takes 1"}},
		{"too many arguments", "contains(//m:text, 'a', 'b')", []string{"contains() with 3 arguments; it takes 2"}},
		{"number() of the context node, on which the library crashes", "number() = 1", []string{"number() with 0 arguments; it takes 1"}},
		{"concat of one", "concat('a') = 'a'", []string{"concat() with 1 arguments; it takes at least 2"}},
		{"substring of one", "substring('a') = 'a'", []string{"substring() with 1 arguments; it takes 2 to 3"}},
		{"string-join in string-join", "string-join(//node(), string-join(//node(), 'x')) = ''", []string{"string-join() within string-join()"}},
		{"translate() of many characters", "translate(//m:text, '" + strings.Repeat("a", 65) + "', '') = ''", []string{"translate()", "64 characters"}},
		{"translate() of computed characters", "translate(//m:text, //m:info, '') = ''", []string{"translate()", "literal"}},
		{"matches() with a computed pattern", "matches(//m:text, string(//m:info))", []string{"matches()", "literal", "256 bytes"}},
		{"matches() with a long pattern", "matches(//m:text, '" + strings.Repeat("a|", 130) + "a')", []string{"matches()", "256 bytes"}},
		{"contains() of two node-sets", "/m:message[contains(m:text, m:info)]", []string{"contains()", "second argument that is a node-set", "string()"}},
		{"starts-with() of a number", "starts-with(1, '1')", []string{"starts-with()", "first argument that is a number"}},
		{"substring() from a node-set", "substring('abc', /m:message/m:info) = ''", []string{"substring()", "second argument that is a node-set", "number()"}},
		{"sum() of a string", "sum('1') = 1", []string{"sum()", "first argument that is a string"}},
		{"a prefixed wildcard, which the library never matches", "/m:message/m:*", []string{"m:*", "matches with nothing"}},
		{"a variable", "$x = 1", []string{"variable $x"}},
		{"the namespace axis", "count(/m:message/namespace::*) > 0", []string{"namespace axis"}},
		{"an unknown axis", "/m:message/sideways::m:topic", []string{"sideways::", "not an XPath axis"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eventing.CompileFilter(xpathSpec(tt.expr))
			if got := faultSubcode(err); got != "InvalidFilter" {
				t.Fatalf("subcode = %q (%v); want InvalidFilter", got, err)
			}
			for _, want := range tt.reason {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("reason %q does not say %q", err, want)
				}
			}
		})
	}
}

// The subscribe path (ParseFilter) refuses the bomb with the same fault.
func TestParseFilter_Bomb(t *testing.T) {
	el := filterElement(t, `<wse:Filter xmlns:wse="`+eventing.NS+`">`+bomb(10)+`</wse:Filter>`)
	_, err := eventing.ParseFilter(el)
	if faultSubcode(err) != "InvalidFilter" || !strings.Contains(err.Error(), "limit of 8") {
		t.Fatalf("ParseFilter(bomb) = %v; want InvalidFilter naming the limit of 8", err)
	}
}

func TestCompileFilter_WithinLimits(t *testing.T) {
	for _, expr := range []string{
		bomb(4), // 7 deep: the step budget stops what the limits let through
		"/" + nest("*[", "]", 8, "*"),
		nest("not(", ")", 7, "/m:message"),
		nest("(", ")", 16, "1"),
		topicList(127),
		// Brackets and quotes inside literals are text.
		`/m:message[m:text=']]]]]]]]]]' or m:text="[[[[[[[[[[(((((((((('" or m:info='"((((((((((']`,
		"/m:message[m:topic='disk' and contains(m:text, 'full')]",
		"/m:message[m:text[text()[node()]]]",
		"translate(//m:text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = 'x'",
		"matches(/m:message/m:topic, '^disk-(full|warn)$')",
		"lower-case(//m:topic) = 'disk' and ends-with(//m:text, 'full')",
		"string-join(/m:message/*, ',') != ''",
		"count(reverse(//*)) > 1",
		"/m:message/(m:topic, m:text)",
		"child :: m:message [ m:topic = 'a' ]",
		"/m:message/m:topic/processing-instruction('x')",
		"-1 < --2 and 3 div 4 mod 5 * 6 > 0 and /m:message/*[namespace-uri() = 'http://cloud42.jw.de/message']",
		"string-length(//m:text) > 0 and string() != 1 and normalize-space() != 1",
		"substring('abc', 2) = 'bc' and substring('abc', 2, 1) = 'b'",
		"name() = '' and local-name(/*) = 'message' and namespace-uri(/*) != ''",
		"sum(//m:nothing) = 0 and floor(1.5) = 1 and ceiling(1.5) = 2 and round(1.5) = 2 and number('1') = 1",
		"/m:message[last()] and /m:message[position() = 1] and boolean(//m:topic) and not(false())",
		"normalize-space(' a ') = 'a' and starts-with('ab', 'a') and substring-before('a-b', '-') = 'a' and substring-after('a-b', '-') = 'b'",
		"//m:topic/ancestor::* | //m:topic/ancestor-or-self::node() | //m:topic/following::node() | //m:text/preceding::node() | //m:topic/following-sibling::* | //m:text/preceding-sibling::* | //m:text/descendant::text() | //m:text/descendant-or-self::node() | /m:message/@x | /m:message/attribute::x | //m:topic/parent::* | //m:topic/self::*",
	} {
		f, err := eventing.CompileFilter(xpathSpec(expr))
		if err != nil {
			t.Errorf("%.80s: %v", expr, err)
			continue
		}
		if _, err := f.Match(storm); err != nil {
			t.Errorf("%.80s: Match: %v", expr, err)
		}
	}
}

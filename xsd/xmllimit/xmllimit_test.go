package xmllimit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// check runs both paths on doc: the token scan and the tree check (when
// etree reads doc), fails t if they disagree, and returns the verdict.
func check(t *testing.T, doc string, l Limits) error {
	t.Helper()
	scanned := scan([]byte(doc), l)
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		t.Fatalf("etree does not read the document: %v", err)
	}
	tree := CheckTree(d, l)
	if fmt.Sprint(scanned) != fmt.Sprint(tree) {
		t.Fatalf("the token scan says %v, the tree check %v", scanned, tree)
	}
	return tree
}

func attrs(n int, format string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " "+format+`="v"`, i)
	}
	return b.String()
}

func TestLimits_EachAtAndPastItsValue(t *testing.T) {
	small := Limits{MaxDepth: 3, MaxAttrs: 2, MaxNamespaceDecls: 2, MaxElements: 5, MaxTextBytes: 10}
	tests := []struct {
		name      string
		at, past  string
		limit     Limit
		l         Limits
		errSuffix string
	}{
		{"depth", `<a><b><c/></b></a>`, `<a><b><c><d/></c></b></a>`, Depth, small, "deeper than 3 levels"},
		{"attributes", `<a x="1" y="2" xmlns:p="u"/>`, `<a x="1" y="2" p:z="3" xmlns:p="u"/>`, Attrs, small, "element a has more than 2 attributes"},
		{"namespace declarations", `<p:a xmlns="u" xmlns:p="u" x="1"/>`, `<p:a xmlns="u" xmlns:p="u" xmlns:q="u"/>`, NamespaceDecls, small, "element p:a has more than 2 namespace declarations"},
		{"elements", `<a><b/><b/><b/><b/></a>`, `<a><b/><b/><b/><b/><b/></a>`, Elements, small, "more than 5 elements"},
		{"text", `<a>12345<![CDATA[67]]>&lt;9</a> `, `<a>12345<![CDATA[67]]>&lt;9</a>  `, TextBytes, small, "more than 10 bytes of text"},
		{"default attributes", `<a` + attrs(32, "a%d") + `/>`, `<a` + attrs(33, "a%d") + `/>`, Attrs, Limits{}, "more than 32 attributes"},
		{"default namespace declarations", `<a` + attrs(32, "xmlns:p%d") + `/>`, `<a` + attrs(33, "xmlns:p%d") + `/>`, NamespaceDecls, Limits{}, "more than 32 namespace declarations"},
		{"default depth", strings.Repeat("<a>", 64) + strings.Repeat("</a>", 64), strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65), Depth, Limits{}, "deeper than 64 levels"},
		{"default elements", "<a>" + strings.Repeat("<b/>", 9999) + "</a>", "<a>" + strings.Repeat("<b/>", 10000) + "</a>", Elements, Limits{}, "more than 10000 elements"},
		{"default text", "<a>" + strings.Repeat("x", 256<<10) + "</a>", "<a>" + strings.Repeat("x", 128<<10) + "</a><!----> " + strings.Repeat(" ", 128<<10), TextBytes, Limits{}, "more than 262144 bytes of text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := check(t, tt.at, tt.l); err != nil {
				t.Errorf("at the limit: %v", err)
			}
			err := check(t, tt.past, tt.l)
			var le *Error
			if !errors.As(err, &le) || le.Limit != tt.limit || !strings.HasSuffix(err.Error(), tt.errSuffix) {
				t.Fatalf("past the limit: %v; want %s, saying %q", err, tt.limit, tt.errSuffix)
			}
		})
	}
}

func TestLimits_RepeatedAttributeCountsOnce(t *testing.T) {
	doc := `<a` + strings.Repeat(` x="1" xmlns:p="u"`, 100) + `/>`
	if err := check(t, doc, Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestLimits_NegativeMeansNone(t *testing.T) {
	l := Limits{MaxDepth: -1, MaxAttrs: -1, MaxNamespaceDecls: 1, MaxElements: -1, MaxTextBytes: -1}
	doc := strings.Repeat("<a>", 100) + "<b" + attrs(100, "a%d") + ` xmlns="u">` + strings.Repeat("x", 300<<10) + "</b>" + strings.Repeat("</a>", 100)
	if err := check(t, doc, l); err != nil {
		t.Fatal(err)
	}
	if err := check(t, `<a xmlns="u" xmlns:p="u"/>`, l); err == nil {
		t.Fatal("two namespace declarations past a limit of one")
	}
}

func TestLimits_WithDefaults(t *testing.T) {
	got := Limits{MaxDepth: 5, MaxTextBytes: -1}.WithDefaults()
	want := Limits{MaxDepth: 5, MaxAttrs: 32, MaxNamespaceDecls: 32, MaxElements: 10000, MaxTextBytes: -1}
	if got != want {
		t.Fatalf("%+v; want %+v", got, want)
	}
	if Default() != (Limits{}).WithDefaults() {
		t.Fatal("Default is not the zero Limits with defaults")
	}
}

func TestPrecheck(t *testing.T) {
	many := `<a` + attrs(50000, "xmlns:p%d") + `/>`
	tests := []struct {
		name   string
		doc    string
		scans  bool   // whether the byte counts leave it to the token scan
		refuse string // what Precheck says, "" for nil
	}{
		{"the specification's Subscribe", subscribe, false, ""},
		{"50,000 namespace declarations on one element", many, true, "element a has more than 32 namespace declarations"},
		{"33 attributes on one element", `<a` + attrs(33, "a%d") + `/>`, true, "element a has more than 32 attributes"},
		{"many attributes, few on each element", "<a>" + strings.Repeat(`<b x="1" xmlns:p="u"/>`, 100) + "</a>", false, ""},
		{"many '=' in one text", "<a>" + strings.Repeat("k=v&amp;", 40) + "</a>", true, ""},
		{"more start tags than MaxElements", "<a>" + strings.Repeat("<b/>", 20000) + "</a>", true, "the document has more than 10000 elements"},
		{"more '<' than MaxElements, not of start tags", "<a>" + strings.Repeat("<b/><!---->", 6000) + "</a>", true, ""},
		{"more '<' than MaxElements, half of end tags", "<a>" + strings.Repeat("<b>x</b>", 9000) + "</a>", false, ""},
		{"not well-formed before a limit", "<a>" + strings.Repeat("<b/>", 20) + "<" + strings.Repeat("<b/>", 20000), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayExceed([]byte(tt.doc), Default()); got != tt.scans {
				t.Errorf("mayExceed = %v", got)
			}
			err := Precheck([]byte(tt.doc), Limits{})
			if (err == nil) != (tt.refuse == "") || (err != nil && err.Error() != tt.refuse) {
				t.Errorf("Precheck: %v; want %q", err, tt.refuse)
			}
		})
	}
}

func TestError_LongNameShortened(t *testing.T) {
	e := &Error{Limit: Attrs, Max: 1, Element: strings.Repeat("é", 100)}
	if s := e.Error(); len(s) > 120 || !strings.Contains(s, "...") || !strings.HasSuffix(s, "more than 1 attributes") {
		t.Fatalf("%q", s)
	}
}

// FuzzCheck checks that the token scan and the tree check agree on every
// document etree reads, and that Precheck's byte counts never rule out an
// element or attribute limit the document exceeds, with limits small
// enough for fuzzed documents to reach them.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("../testdata/vectors/*.xml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b, uint8(0))
	}
	f.Add([]byte(`<a x="1" y="2" xmlns:p="u"><p:b xmlns="v">t<![CDATA[x]]></p:b><c/>&#65;</a>`), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		d := etree.NewDocument()
		if d.ReadFromBytes(data) != nil {
			return
		}
		n := int(k%8) + 1
		for _, l := range []Limits{{}, {MaxDepth: n, MaxAttrs: n, MaxNamespaceDecls: n, MaxElements: 2 * n, MaxTextBytes: 4 * n}} {
			scanned, tree := scan(data, l), CheckTree(d, l)
			if fmt.Sprint(scanned) != fmt.Sprint(tree) {
				t.Fatalf("limits %+v: the token scan says %v, the tree check %v: %q", l, scanned, tree, data)
			}
			// The byte counts never rule out a limit they guard.
			var le *Error
			if errors.As(scanned, &le) && le.Limit != Depth && le.Limit != TextBytes && !mayExceed(data, l.WithDefaults()) {
				t.Fatalf("limits %+v: mayExceed rules out %v: %q", l, scanned, data)
			}
		}
	})
}

// subscribe is the specification's Subscribe example (BenchmarkParse's in
// transports/soap).
const subscribe = `<s12:Envelope xmlns:s12="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><s12:Header><wsa:Action>http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe</wsa:Action><wsa:MessageID>uuid:e1886c5c-5e86-48d1-8c77-fc1c28d47180</wsa:MessageID></s12:Header><s12:Body><wse:Subscribe><wse:Delivery><wse:NotifyTo><wsa:Address>http://www.other.example.com/OnStormWarning</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe></s12:Body></s12:Envelope>`

// BenchmarkPrecheck is what Precheck adds to parsing a request: counting '<'.
func BenchmarkPrecheck(b *testing.B) {
	data := []byte(subscribe)
	for b.Loop() {
		if err := Precheck(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckTree is what CheckTree adds to parsing a request.
func BenchmarkCheckTree(b *testing.B) {
	d := etree.NewDocument()
	if err := d.ReadFromString(subscribe); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckTree(d, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan is the token scan Precheck falls back on, on the same
// document: what a pre-pass over every request would add.
func BenchmarkScan(b *testing.B) {
	data := []byte(subscribe)
	b.ReportAllocs()
	for b.Loop() {
		if err := scan(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

package soap_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/transports/soap"
	"github.com/herald-eventing/herald/xsd/xmllimit"
)

// envelopeWith is a SOAP 1.2 envelope whose Envelope element carries
// rootAttrs and whose Body holds body.
func envelopeWith(rootAttrs, body string) string {
	return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"` + rootAttrs + `><s:Body>` + body + `</s:Body></s:Envelope>`
}

// nAttrs writes n attributes named by format (with %d) on one element.
func nAttrs(n int, format string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " "+format+`="u"`, strconv.FormatInt(int64(i), 36))
	}
	return b.String()
}

func TestParse_Limits(t *testing.T) {
	tests := []struct {
		name     string
		at, past string // a document at the limit, and one past it
		says     string
	}{
		{"namespace declarations", envelopeWith(nAttrs(31, "xmlns:p%s"), ""), envelopeWith(nAttrs(50000, "xmlns:p%s"), ""),
			"element s:Envelope has more than 32 namespace declarations"},
		{"attributes", envelopeWith("", `<x`+nAttrs(32, "a%s")+`/>`), envelopeWith("", `<x`+nAttrs(33, "a%s")+`/>`),
			"element x has more than 32 attributes"},
		{"elements", envelopeWith("", strings.Repeat("<i/>", 10000-2)), envelopeWith("", strings.Repeat("<i/>", 10000-1)),
			"more than 10000 elements"},
		{"elements, each with an end tag", envelopeWith("", strings.Repeat("<i>x</i>", 10000-2)), envelopeWith("", strings.Repeat("<i>x</i>", 10000-1)),
			"more than 10000 elements"},
		{"text in one node", envelopeWith("", "<x>"+strings.Repeat("a", 256<<10)+"</x>"), envelopeWith("", "<x>"+strings.Repeat("a", 256<<10+1)+"</x>"),
			"more than 262144 bytes of text"},
		{"text in total", envelopeWith("", strings.Repeat("<x>"+strings.Repeat("a", 1024)+"</x>", 256)), envelopeWith("", strings.Repeat("<x>"+strings.Repeat("a", 1024)+"</x>", 256)+" "),
			"more than 262144 bytes of text"},
		{"depth", envelopeWith("", strings.Repeat("<a>", 62)+strings.Repeat("</a>", 62)), envelopeWith("", strings.Repeat("<a>", 63)+strings.Repeat("</a>", 63)),
			"deeper than 64 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.past) > soap.DefaultMaxBody {
				t.Fatalf("the test document is %d bytes, over the SOAP body cap", len(tt.past))
			}
			if _, err := soap.Parse([]byte(tt.at), 0); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
			_, err := soap.Parse([]byte(tt.past), 0)
			var pe *soap.ParseError
			if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.says) {
				t.Fatalf("past the limit: %v; want a *ParseError saying %q", err, tt.says)
			}
		})
	}
}

func TestParseLimits_Custom(t *testing.T) {
	doc := []byte(envelopeWith("", `<x a="1" b="2">text</x>`))
	if _, err := soap.ParseLimits(doc, xmllimit.Limits{}); err != nil {
		t.Fatal(err)
	}
	for l, says := range map[xmllimit.Limits]string{
		{MaxAttrs: 1}:     "element x has more than 1 attributes",
		{MaxElements: 2}:  "more than 2 elements",
		{MaxTextBytes: 3}: "more than 3 bytes of text",
		{MaxDepth: 2}:     "deeper than 2 levels",
	} {
		if _, err := soap.ParseLimits(doc, l); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%+v: %v; want one saying %q", l, err, says)
		}
	}
	if _, err := soap.ParseLimits(doc, xmllimit.Limits{MaxAttrs: -1, MaxElements: -1, MaxTextBytes: -1}); err != nil {
		t.Errorf("no limits: %v", err)
	}
}

// TestClient_LongAnswers checks that a Client reads answers longer than
// Herald accepts requests: a getDeadLetters answer lists every dead letter.
func TestClient_LongAnswers(t *testing.T) {
	answer := envelopeWith("", "<r>"+strings.Repeat("<e>"+strings.Repeat("x", 100)+"</e>", 12000)+"</r>")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", soap.V12.ContentType(""))
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	env, err := (&soap.Client{}).Call(t.Context(), srv.URL, "urn:x", nil, etree.NewElement("x"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(env.Payload().ChildElements()); n != 12000 {
		t.Fatalf("%d entries", n)
	}
}

// within fails t when the document of env exceeds l, counted independently
// of the parser: depth, attributes and namespace declarations per element,
// elements, and all character data.
func within(t *testing.T, env *soap.Envelope, l xmllimit.Limits) {
	t.Helper()
	l = l.WithDefaults()
	over := func(n, limit int) bool { return limit >= 0 && n > limit }
	elements, text := 0, 0
	var walk func(el *etree.Element, depth int)
	walk = func(el *etree.Element, depth int) {
		for _, tok := range el.Child {
			switch tok := tok.(type) {
			case *etree.CharData:
				text += len(tok.Data)
			case *etree.Element:
				elements++
				if over(depth+1, l.MaxDepth) {
					t.Fatalf("accepted an element at depth %d, past %d", depth+1, l.MaxDepth)
				}
				ns, plain := 0, 0
				for _, a := range tok.Attr {
					if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
						ns++
					} else {
						plain++
					}
				}
				if over(ns, l.MaxNamespaceDecls) || over(plain, l.MaxAttrs) {
					t.Fatalf("accepted an element with %d namespace declarations and %d attributes, past %d and %d", ns, plain, l.MaxNamespaceDecls, l.MaxAttrs)
				}
				walk(tok, depth+1)
			}
		}
	}
	walk(&env.Doc.Element, 0)
	if over(elements, l.MaxElements) {
		t.Fatalf("accepted %d elements, past %d", elements, l.MaxElements)
	}
	if over(text, l.MaxTextBytes) {
		t.Fatalf("accepted %d bytes of text, past %d", text, l.MaxTextBytes)
	}
}

// FuzzParseLimits checks that Parse never panics and never returns an
// envelope beyond its limits, the defaults or limits small enough for
// fuzzed documents to reach (k chooses them).
func FuzzParseLimits(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/vectors/*.xml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b, uint8(0))
		f.Add(b, uint8(9))
	}
	f.Add([]byte(envelopeWith(` xmlns:a="u" xmlns:b="v" x="1"`, `<a:x y="1" z="2">t<![CDATA[u]]>&amp;</a:x><!-- c --><b:y/>`)), uint8(3))
	f.Add([]byte(envelopeWith("", strings.Repeat("<i/><!---->", 12))), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		var l xmllimit.Limits
		if k != 0 {
			n := int(k % 16)
			l = xmllimit.Limits{MaxDepth: n + 1, MaxAttrs: n / 2, MaxNamespaceDecls: n/4 + 1, MaxElements: 2*n + 3, MaxTextBytes: 8 * n}
			if l.MaxAttrs == 0 {
				l.MaxAttrs = -1 // no limit: the zero value would mean the default
			}
			if l.MaxTextBytes == 0 {
				l.MaxTextBytes = -1
			}
		}
		env, err := soap.ParseLimits(data, l)
		if err != nil {
			var pe *soap.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *soap.ParseError", err, err)
			}
			return
		}
		within(t, env, l)
	})
}

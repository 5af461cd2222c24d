package xsd

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// manyAttrs writes n attributes named prefix followed by a number.
func manyAttrs(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` %s%x="u"`, prefix, i)
	}
	return b.String()
}

func TestParseMessageLimits(t *testing.T) {
	const ns = ` xmlns="http://cloud42.jw.de/message"`
	tests := []struct {
		name string
		in   string
		says string // "" for accepted
	}{
		{"32 namespace declarations", `<message` + ns + manyAttrs(31, "xmlns:p") + `><topic>t</topic></message>`, ""},
		{"32 namespace declarations, off the canonical path", `<message` + ns + manyAttrs(31, "xmlns:p") + `><!-- c --><topic>t</topic></message>`, ""},
		{"33 namespace declarations", `<message` + ns + manyAttrs(32, "xmlns:p") + `><topic>t</topic></message>`, "element message has more than 32 namespace declarations"},
		{"50,000 namespace declarations", `<message` + ns + manyAttrs(50000, "xmlns:p") + `><topic>t</topic></message>`, "element message has more than 32 namespace declarations"},
		{"33 namespace declarations on a child", q(`<topic` + manyAttrs(33, "xmlns:p") + `>t</topic>`), "element topic has more than 32 namespace declarations"},
		// The schema allows no attribute there: 32 are refused for that,
		// 33 for the limit.
		{"32 attributes", q(`<topic` + manyAttrs(32, "a") + `>t</topic>`), "attribute a0 is not allowed on element topic"},
		{"33 attributes", q(`<topic` + manyAttrs(33, "a") + `>t</topic>`), "element topic has more than 32 attributes"},
		{"too many elements", q(`<topic>t</topic><text>` + strings.Repeat("<b/>", 10000-2) + `</text>`), "more than 10000 elements"},
		{"elements within the limit, refused by the schema", q(`<topic>t</topic><text>` + strings.Repeat("<b/>", 10000-3) + `</text>`), "must contain only text"},
		{"text at the limit", q(`<topic>t</topic><text>` + strings.Repeat("x", 256<<10-1) + `</text>`), ""},
		{"text past the limit", q(`<topic>t</topic><text>` + strings.Repeat("x", 256<<10) + `</text>`), "more than 262144 bytes of text"},
		{"text past the limit, in total", q(`<topic>t</topic><text>` + strings.Repeat("x", 128<<10) + `</text><info>` + strings.Repeat("x", 128<<10) + `</info>`), "more than 262144 bytes of text"},
		{"too deep", q(`<topic>t</topic><text>` + strings.Repeat("<b>", 63) + strings.Repeat("</b>", 63) + `</text>`), "deeper than 64 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMessage([]byte(tt.in))
			if tt.says == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var me *MessageError
			if !errors.As(err, &me) || !strings.Contains(me.Msg, tt.says) || strings.ContainsAny(me.Msg, "\r\n") {
				t.Fatalf("%v; want a one-line *MessageError saying %q", err, tt.says)
			}
		})
	}
}

// TestParseMessageLimits_FastPaths checks that neither fast path accepts
// a message past a limit.
func TestParseMessageLimits_FastPaths(t *testing.T) {
	// Canonical but for its length: the text is past the limit.
	long := []byte(q(`<topic>t</topic><text>` + strings.Repeat("x", 256<<10) + `</text>`))
	if _, ok := canonical(long); !ok {
		t.Fatal("the long message is not canonical")
	}
	if _, err := ParseMessage(long); err == nil {
		t.Fatal("canonical path accepts text past the limit")
	}
	// Valid, read by extract, 33 namespace declarations.
	many := []byte(`<message xmlns="http://cloud42.jw.de/message"` + manyAttrs(32, "xmlns:p") + `><!-- c --><topic>t</topic></message>`)
	if m, ok := extract(many); !ok || m.attrs != 33 {
		t.Fatalf("extract: %v, %d attributes", ok, m.attrs)
	}
	if _, err := ParseMessage(many); err == nil {
		t.Fatal("extract path accepts 33 namespace declarations")
	}
}

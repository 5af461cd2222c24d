package addressing_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// FuzzReadHeaders checks that ReadHeaders never panics, that every error
// is an *addressing.HeaderError naming a header of a known version, and
// that what it accepts holds together. The fuzzed document is a SOAP
// envelope, whose Header element is read, or else a Header element itself.
func FuzzReadHeaders(f *testing.F) {
	files, _ := filepath.Glob("../testdata/vectors/*.xml")
	more, _ := filepath.Glob("../testdata/*.xml")
	files = append(files, more...)
	if len(files) < 10 {
		f.Fatalf("only %d seed files", len(files))
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		// The vectors are in WS-Addressing 2004/08; each is also seeded in
		// 1.0.
		f.Add(b)
		f.Add([]byte(strings.ReplaceAll(string(b), addressing.NS200408, addressing.NS10)))
	}
	for _, s := range []string{
		`<Header xmlns:wsa="` + addressing.NS10 + `"><wsa:Action>urn:a</wsa:Action><wsa:RelatesTo RelationshipType="http://www.w3.org/2005/08/addressing/reply">urn:uuid:1</wsa:RelatesTo>` +
			`<wsa:FaultTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address><wsa:ReferenceParameters><x:Id xmlns:x="urn:x" wsa:IsReferenceParameter="true">7</x:Id></wsa:ReferenceParameters></wsa:FaultTo>` +
			`<wsa:From><wsa:Address>http://from.example/</wsa:Address></wsa:From></Header>`,
		`<Header xmlns:a="` + addressing.NS200408 + `" xmlns:b="` + addressing.NS10 + `"><a:Action>urn:a</a:Action><b:To>urn:b</b:To></Header>`,
		`<Header xmlns:wsa="` + addressing.NS200408 + `"><wsa:Action> </wsa:Action><wsa:ReplyTo/><wsa:To>a</wsa:To><wsa:To>b</wsa:To></Header>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		if doc.ReadFromBytes(data) != nil || doc.Root() == nil {
			return
		}
		header := doc.Root()
		for _, c := range header.ChildElements() {
			if c.Tag == "Header" {
				header = c
				break
			}
		}
		h, err := addressing.ReadHeaders(header)
		if err != nil {
			var he *addressing.HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("error %v (%T) is not an *addressing.HeaderError", err, err)
			}
			if he.Header == "" || he.Version == addressing.VersionNone || he.Subcode() == "" {
				t.Fatalf("header error %+v names no header, version or subcode", he)
			}
			return
		}
		if h.Version == addressing.VersionNone && (h.Action != "" || h.To != "" || h.MessageID != "" || h.RelatesTo != "" || h.ReplyTo != nil || h.FaultTo != nil || h.From != nil) {
			t.Fatalf("headers %+v read without a version", h)
		}
		for _, epr := range []*addressing.EndpointReference{h.ReplyTo, h.FaultTo, h.From, h.ReplyEPR(), h.FaultEPR()} {
			if epr != nil && epr.Version == addressing.VersionNone {
				t.Fatalf("endpoint reference %+v without a version", epr)
			}
		}
	})
}

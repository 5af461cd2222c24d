package eventing

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// storedMessageSeeds are Subscribe-like documents whose first child of
// the root is the element stored: inherited prefixes (used by elements,
// by attributes, by the secret only), a default namespace, comments,
// indentation, text beside elements, CDATA, escapes.
var storedMessageSeeds = []string{
	`<w xmlns:wse="` + NS + `" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:h="` + HeraldNS + `">
	<wse:Subscribe><!-- c --><wse:Delivery>
		<wse:NotifyTo><wsa:Address> http://127.0.0.1:9/s/1 </wsa:Address></wse:NotifyTo>
	</wse:Delivery><h:Secret>s3cret</h:Secret></wse:Subscribe></w>`,
	`<w xmlns="urn:d" xmlns:s="` + HeraldNS + `"><Subscribe a="1 &amp; &lt;2&gt; &quot;"><s:Secret>x</s:Secret>text &amp; more<x/><![CDATA[ <raw> ]]></Subscribe></w>`,
	`<w xmlns:p="urn:p" xmlns:q="urn:q"><p:a q:attr="v" xmlns:r="urn:r"><r:b/>  <c xmlns="">t</c></p:a></w>`,
	`<w><a><?pi data?><b>  </b></a></w>`,
	`<w xmlns:h="` + HeraldNS + `"><a><h:Secret>only child</h:Secret></a></w>`,
}

// FuzzStoredMessage checks storedMessage against the deep copy it
// replaces, elementString(StripSecret(el)): the same bytes after the start
// tag, and the same attributes on it (Detach adds the inherited
// declarations in a map's order).
func FuzzStoredMessage(f *testing.F) {
	for _, s := range storedMessageSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		d := etree.NewDocument()
		if err := d.ReadFromString(doc); err != nil || d.Root() == nil {
			return
		}
		el := d.Root()
		if c := el.ChildElements(); len(c) > 0 {
			el = c[0]
		}
		want, _ := elementString(StripSecret(el))
		got := storedMessage(el)
		if got == want {
			return
		}
		g, w := etree.NewDocument(), etree.NewDocument()
		if err := g.ReadFromString(got); err != nil {
			t.Fatalf("storedMessage = %q does not parse: %v (want %q)", got, err, want)
		}
		if err := w.ReadFromString(want); err != nil {
			return // the old path wrote something unreadable: nothing to compare
		}
		attrs := func(e *etree.Element) []string {
			var s []string
			for _, a := range e.Attr {
				s = append(s, a.FullKey()+"="+a.Value)
			}
			slices.Sort(s)
			return s
		}
		if ga, wa := attrs(g.Root()), attrs(w.Root()); !slices.Equal(ga, wa) {
			t.Fatalf("storedMessage's root attributes %q; want %q\n got %q\nwant %q", ga, wa, got, want)
		}
		g.Root().Attr, w.Root().Attr = nil, nil
		gs, _ := g.WriteToString()
		wsStr, _ := w.WriteToString()
		if gs != wsStr {
			t.Fatalf("storedMessage = %q; want %q", got, want)
		}
	})
}

// elementString is how a subscribe wrote its stored element before
// storedMessage: the reference FuzzStoredMessage compares it with.
func elementString(el *etree.Element) (string, error) {
	var b strings.Builder
	el.WriteTo(&b, &etree.WriteSettings{})
	return b.String(), nil
}

// storedMessage allocates about its result, not a copy of the tree.
func TestStoredMessage_Allocations(t *testing.T) {
	d := etree.NewDocument()
	if err := d.ReadFromString(storedMessageSeeds[0]); err != nil {
		t.Fatal(err)
	}
	el := d.Root().ChildElements()[0]
	got := storedMessage(el)
	if strings.Contains(got, "s3cret") || !strings.Contains(got, `xmlns:wsa=`) {
		t.Fatalf("storedMessage = %q: holds the secret, or lost an inherited namespace", got)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 100
	for range runs {
		storedMessage(el)
	}
	runtime.ReadMemStats(&after)
	if n := (after.TotalAlloc - before.TotalAlloc) / runs; n > 900 {
		t.Fatalf("storedMessage allocates %d bytes; want at most 900", n)
	}
}

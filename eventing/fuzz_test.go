package eventing_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
)

// subscribeElement returns the first wse:Subscribe in doc, depth first, or
// the root when there is none (ParseSubscribe then refuses it).
func subscribeElement(doc *etree.Document) *etree.Element {
	stack := []*etree.Element{doc.Root()}
	for len(stack) > 0 {
		el := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if addressing.Is(el, eventing.NS, "Subscribe") {
			return el
		}
		children := el.ChildElements()
		for i := len(children) - 1; i >= 0; i-- {
			stack = append(stack, children[i])
		}
	}
	return doc.Root()
}

// FuzzParseSubscribe checks that ParseSubscribe never panics, that every
// error is an *eventing.Error for the subscriber (with a
// reason), and that what it accepts holds together: the filter compiles
// again, as when a subscription is restored.
func FuzzParseSubscribe(f *testing.F) {
	var files []string
	for _, pattern := range []string{"../testdata/vectors/*subscribe*", "../testdata/subscribe-request-*.xml"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 4 {
		f.Fatalf("only %d seed files", len(files))
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add([]byte(strings.ReplaceAll(string(b), addressing.NS200408, addressing.NS10)))
	}
	const open = `<wse:Subscribe xmlns:wse="` + eventing.NS + `" xmlns:wsa="` + addressing.NS10 + `" xmlns:h="` + eventing.HeraldNS + `">`
	const open11 = `<wse:Subscribe xmlns:wse="` + eventing.NS2011 + `" xmlns:wsa="` + addressing.NS10 + `" xmlns:h="` + eventing.HeraldNS + `">`
	for _, s := range []string{
		open + `<wse:Delivery Mode="` + eventing.NS + `/DeliveryModes/Push"><wse:NotifyTo><wsa:Address>http://sink.example/</wsa:Address></wse:NotifyTo></wse:Delivery>` +
			`<wse:Expires>PT1H</wse:Expires><wse:Filter xmlns:m="` + eventing.MessageNS + `">/m:message[m:topic='storms']</wse:Filter><h:Secret>s3cret</h:Secret></wse:Subscribe>`,
		open + `<wse:Delivery><wse:NotifyTo><wsa:Address>http://sink.example/</wsa:Address></wse:NotifyTo></wse:Delivery><wse:Expires>P1Y2M</wse:Expires>` +
			`<wse:Filter Dialect="` + eventing.DialectTopic + `">storms</wse:Filter></wse:Subscribe>`,
		open + `<wse:Delivery/><wse:Delivery/></wse:Subscribe>`,
		open + `<wse:Delivery/><wse:Filter>/m:x</wse:Filter><wse:Expires>-PT1S</wse:Expires></wse:Subscribe>`,
		open + `<wse:EndTo><x/></wse:EndTo></wse:Subscribe>`,
		// 2011: Format, BestEffort, PT0S, h:Processor, no Dialect.
		open11 + `<wse:Delivery><wse:NotifyTo><wsa:Address>http://sink.example/</wsa:Address></wse:NotifyTo></wse:Delivery>` +
			`<wse:Format Name="` + eventing.FormatWrap + `"/><wse:Expires BestEffort="true">PT0S</wse:Expires>` +
			`<wse:Filter xmlns:m="` + eventing.MessageNS + `">/m:message[m:topic='storms']</wse:Filter></wse:Subscribe>`,
		open11 + `<wse:Delivery><h:Processor>pull</h:Processor></wse:Delivery><wse:Expires>2026-03-02T00:00:00Z</wse:Expires>` +
			`<wse:EndTo><wsa:Address>http://end.example/</wsa:Address></wse:EndTo></wse:Subscribe>`,
		open11 + `<wse:Delivery Mode="x"/><wse:Format/><wse:Expires BestEffort="maybe">P1D1Y</wse:Expires></wse:Subscribe>`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc := etree.NewDocument()
		if doc.ReadFromBytes(data) != nil || doc.Root() == nil {
			return
		}
		el := subscribeElement(doc)
		req, err := eventing.ParseSubscribe(el, now)
		if err != nil {
			var fault *eventing.Error
			if !errors.As(err, &fault) {
				t.Fatalf("error %v (%T) is not an *eventing.Error", err, err)
			}
			if fault.Kind == eventing.ErrUnableToProcess || fault.Reason == "" {
				t.Fatalf("error %+v is not one for the subscriber, with a reason", fault)
			}
			return
		}
		if req.Message != el {
			t.Fatal("the request's Message is not the Subscribe element")
		}
		// What is stored (without the secret) gives the processor the same
		// delivery after a restart.
		d, err := eventing.ParseDelivery(eventing.StripSecret(el))
		if err != nil {
			t.Fatalf("the stored Subscribe does not parse again: %v", err)
		}
		if d.Version != req.Version || d.Processor != req.Delivery.Processor || d.Format != req.Delivery.Format ||
			d.Mode != req.Delivery.Mode || (d.NotifyTo == nil) != (req.Delivery.NotifyTo == nil) || len(d.Extensions) != len(req.Delivery.Extensions) {
			t.Fatalf("the stored Subscribe parses into %+v; the request had %+v", d, req.Delivery)
		}
		if req.Filter != nil {
			if _, err := eventing.CompileFilter(req.Filter); err != nil {
				t.Fatalf("the accepted filter %+v does not compile again: %v", req.Filter, err)
			}
		}
		if req.Expires != nil {
			_ = req.Expires.At(now)
		}
	})
}

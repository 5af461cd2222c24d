package soap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/soap"
)

// BenchmarkNotification builds the SOAP envelope of one notification.
func BenchmarkNotification(b *testing.B) {
	d, _ := eventing.LookupDriver(soap.ProcessorName)
	p, _ := d.Open(eventing.Config{})
	ep, err := processortest.Endpoint(b, p, `<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://www.w3.org/2005/08/addressing">http://sink.example/</wsa:Address><wsa:ReferenceParameters xmlns:wsa="http://www.w3.org/2005/08/addressing"><x:Id xmlns:x="urn:x">7</x:Id></wsa:ReferenceParameters></wse:NotifyTo></wse:Delivery></wse:Subscribe>`)
	if err != nil {
		b.Fatal(err)
	}
	n := &eventing.Notification{Event: eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "t", Text: "x"}), MessageID: "urn:uuid:6f1f2c5e-3f0a-5d4e-9b7a-2d1c0e8f4a11"}
	for b.Loop() {
		ep.(*soap.Endpoint).Envelope(n)
	}
}

// BenchmarkParse parses the specification's Subscribe example.
func BenchmarkParse(b *testing.B) {
	data := []byte(`<s12:Envelope xmlns:s12="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><s12:Header><wsa:Action>http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe</wsa:Action><wsa:MessageID>uuid:e1886c5c-5e86-48d1-8c77-fc1c28d47180</wsa:MessageID></s12:Header><s12:Body><wse:Subscribe><wse:Delivery><wse:NotifyTo><wsa:Address>http://www.other.example.com/OnStormWarning</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe></s12:Body></s12:Envelope>`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := soap.Parse(data, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseVectors parses every envelope among the specification's
// test vectors, one after the other.
func BenchmarkParseVectors(b *testing.B) {
	var docs [][]byte
	files, _ := filepath.Glob("../../testdata/vectors/*.xml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
	}
	if len(docs) == 0 {
		b.Fatal("no vectors")
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range docs {
			if _, err := soap.Parse(d, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkParseLarge parses an envelope of 5,000 elements (about 80 KB).
func BenchmarkParseLarge(b *testing.B) {
	data := []byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x:list xmlns:x="urn:x">` +
		strings.Repeat(`<x:item k="v">some text</x:item>`, 5000) + `</x:list></s:Body></s:Envelope>`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := soap.Parse(data, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCommented parses an envelope of 5,000 empty elements each
// followed by a comment: more markup ('<') than elements.
func BenchmarkParseCommented(b *testing.B) {
	data := []byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` +
		strings.Repeat(`<i/><!-- c -->`, 5000) + `</s:Body></s:Envelope>`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := soap.Parse(data, 0); err != nil {
			b.Fatal(err)
		}
	}
}

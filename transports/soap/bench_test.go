package soap_test

import (
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
	ep, err := p.Endpoint(b.Context(), &eventing.EndpointRequest{Message: processortest.Element(b, `<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://www.w3.org/2005/08/addressing">http://sink.example/</wsa:Address><wsa:ReferenceParameters xmlns:wsa="http://www.w3.org/2005/08/addressing"><x:Id xmlns:x="urn:x">7</x:Id></wsa:ReferenceParameters></wse:NotifyTo></wse:Delivery></wse:Subscribe>`)})
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

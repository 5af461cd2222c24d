package soap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/soap"

	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/soap/soaptest"
)

func TestProcessorSuite(t *testing.T) { processortest.Run(t, soaptest.Fixture()) }

// Whatever a subscriber puts into its NotifyTo, the notification is a
// well-formed envelope with the event in its Body.
func TestNotification_AddressCannotBreakTheEnvelope(t *testing.T) {
	d, _ := eventing.LookupDriver(soap.ProcessorName)
	p, _ := d.Open(eventing.Config{})
	for _, addr := range []string{"http://example.org/@@herald-body@@", "http://example.org/@@herald-message-id@@?a=<b>&c"} {
		msg := `<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">` + strings.ReplaceAll(strings.ReplaceAll(addr, "&", "&amp;"), "<", "&lt;") + `</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`
		ep, err := processortest.Endpoint(t, p, msg)
		if err != nil {
			t.Fatal(err)
		}
		env, err := soap.Parse(ep.(*soap.Endpoint).Envelope(&eventing.Notification{Event: eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "t"}), MessageID: "urn:uuid:1"}), 0)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if env.Payload() == nil || env.Payload().Tag != "message" || env.Header.FindElement("To").Text() != addr {
			t.Fatalf("%s: envelope broken", addr)
		}
	}
}

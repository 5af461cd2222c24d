package sms_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/sms/smstest"
)

// A WS-Eventing Subscribe chooses the sms processor with its delivery mode
// and carries the phone-book entry in wse:Delivery; the next event on its
// topic reaches the gateway.
func TestWSEventingSubscribe_SMSDeliveryMode(t *testing.T) {
	gw := smstest.Start(t)
	h := httpapitest.Start(t, "", eventing.Options{Setting: httpapitest.Settings(gw.Settings())})
	env := `<s12:Envelope xmlns:s12="http://www.w3.org/2003/05/soap-envelope"
    xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wse="` + eventing.NS + `">
  <s12:Header>
    <wsa:Action>` + eventing.NS + `/Subscribe</wsa:Action>
    <wsa:MessageID>uuid:6c1b5d53-4c0e-4a57-a9a2-3d8f0e1b2c01</wsa:MessageID>
    <wsa:To>` + h.URL + `/eventing</wsa:To>
  </s12:Header>
  <s12:Body>
    <wse:Subscribe>
      <wse:Delivery Mode="` + eventing.DeliveryModePrefix + `sms">
        <tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number> 408 726 4390 </tb:Number></tb:Entry>
      </wse:Delivery>
      <wse:Expires>PT1H</wse:Expires>
      <wse:Filter Dialect="` + eventing.DialectTopic + `">pager</wse:Filter>
    </wse:Subscribe>
  </s12:Body>
</s12:Envelope>`
	post := func(path, ctype, body string) (int, string) {
		resp, err := http.Post(h.URL+path, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := post("/eventing", "application/soap+xml", env); st != 200 || !strings.Contains(body, "SubscribeResponse") {
		t.Fatalf("Subscribe: HTTP %d\n%s", st, body)
	}
	event := `<message xmlns="http://cloud42.jw.de/message"><topic>pager</topic><instanceId>i-1</instanceId>` +
		`<timestamp>2026-11-22 10:00:00 GMT</timestamp><text>disk full</text><info>sda1</info></message>`
	if st, body := post("/messages", "text/xml", event); st != 202 {
		t.Fatalf("event: HTTP %d\n%s", st, body)
	}
	m := gw.NextMessage(t)
	if m.To != "+14087264390" || !strings.Contains(m.Body, "disk full") || !strings.Contains(m.Body, "pager") {
		t.Fatalf("gateway got %+v", m)
	}
}

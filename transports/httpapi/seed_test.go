package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
)

// subscribeSeed posts the seed's subscribe request, byte for byte except
// the NotifyTo address (and optionally the topic), and returns the id.
func subscribeSeed(t *testing.T, h *herald, notifyTo, topic string) (string, response) {
	t.Helper()
	body := strings.Replace(seed(t, "subscribe-request-soap.xml"), "http://localhost:8085/monitor", notifyTo, 1)
	if topic != "" {
		body = strings.Replace(body, "<web:topic>myTopic</web:topic>", "<web:topic>"+topic+"</web:topic>", 1)
	}
	r := h.post(t, "/eventing", soap12, body)
	if r.status != 200 {
		t.Fatalf("seed subscribe: HTTP %d\n%s", r.status, r.body)
	}
	return bodyText(t, parse(t, r.body), "subscribeResponse/return"), r
}

func TestSeed_SubscribePublishUnsubscribe(t *testing.T) {
	h := start(t, "", eventing.Options{})
	s := newSink(t)
	id, r := subscribeSeed(t, h, s.URL+"/monitor", "")
	if !strings.HasPrefix(id, "uuid:") {
		t.Fatalf("id %q does not start with uuid:", id)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/soap+xml") {
		t.Fatalf("response Content-Type %q", ct)
	}
	// Shaped like the seed's subscribe-response.xml.
	golden(t, "seed-subscribe-response", normalize(t, r.body))
	want := normalize(t, seed(t, "subscribe-response.xml"))
	want = strings.Replace(want, "uuid:99733DEDFB3443D5281222782013924", "uuid:ID", 1)
	if got := normalize(t, r.body); !sameShape(got, want) {
		t.Errorf("response is not shaped like the seed's:\n%s\nwant\n%s", got, want)
	}
	if again, _ := subscribeSeed(t, h, s.URL+"/monitor", ""); again != id {
		t.Fatalf("same endpoint and topic: %s then %s", id, again)
	}

	r = h.post(t, "/messages", "text/xml", seed(t, "event-message.xml"))
	if r.status != 202 {
		t.Fatalf("seed event message: HTTP %d %s", r.status, r.body)
	}
	got := s.next(t)
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/soap+xml") || !strings.Contains(ct, eventing.NotifyAction) {
		t.Fatalf("notification Content-Type %q", ct)
	}
	env := got.env
	if env == nil || env.Version != 1 {
		t.Fatalf("notification is not a SOAP 1.2 envelope:\n%s", got.body)
	}
	for path, want := range map[string]string{
		"message/topic":      "myTopic",
		"message/instanceId": "i-38e24051",
		"message/timestamp":  "2008-09-30 11:19:10 GMT",
		"message/text":       "message text",
		"message/info":       "additional message info",
	} {
		if v := bodyText(t, env, path); v != want {
			t.Errorf("%s = %q; want %q", path, v, want)
		}
	}
	if to := env.Header.FindElement("To"); to == nil || strings.TrimSpace(to.Text()) != s.URL+"/monitor" {
		t.Errorf("wsa:To missing or wrong:\n%s", got.body)
	}
	if a := env.Header.FindElement("Action"); a == nil || a.Text() != eventing.NotifyAction {
		t.Errorf("wsa:Action missing or wrong")
	}
	if m := env.Header.FindElement("MessageID"); m == nil || !strings.HasPrefix(m.Text(), "urn:uuid:") {
		t.Errorf("wsa:MessageID missing")
	}

	unsub := strings.Replace(seed(t, "unsubscribe-request.xml"), "uuid:99733DEDFB3443D5281222782013924", id, 1)
	r = h.post(t, "/eventing", soap12, unsub)
	if r.status != 200 || bodyText(t, parse(t, r.body), "unsubscribeResponse/return") != "true" {
		t.Fatalf("unsubscribe: HTTP %d\n%s", r.status, r.body)
	}
	golden(t, "seed-unsubscribe-response", normalize(t, r.body))

	// Later messages are not delivered: a fresh subscription on the same
	// topic gets the next event, the old endpoint nothing.
	s2 := newSink(t)
	subscribeSeed(t, h, s2.URL+"/after", "")
	h.post(t, "/messages", "text/xml", seed(t, "event-message.xml"))
	s2.next(t)
	s.nothing(t)
}

// sameShape compares two normalized envelopes ignoring the prefixes'
// names, which the seed chose freely.
func sameShape(a, b string) bool {
	strip := strings.NewReplacer("soapenv:", "", "s:", "", "ns:", "", `xmlns:soapenv`, "xmlns:p", `xmlns:s`, "xmlns:p", `xmlns:ns`, "xmlns:q")
	return strip.Replace(a) == strip.Replace(b)
}

func TestSeed_NotificationCarriesReferenceParameters(t *testing.T) {
	for _, tt := range []struct {
		name, wsa  string
		isRefParam bool
	}{
		{"2004/08", "http://schemas.xmlsoap.org/ws/2004/08/addressing", false},
		{"1.0", "http://www.w3.org/2005/08/addressing", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, "", eventing.Options{})
			s := newSink(t)
			body := strings.Replace(seed(t, "subscribe-request-soap.xml"), `<wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">
                http://localhost:8085/monitor
              </wsa:Address>`, `<wsa:Address xmlns:wsa="`+tt.wsa+`">`+s.URL+`</wsa:Address>
              <wsa:ReferenceParameters xmlns:wsa="`+tt.wsa+`"><ew:MySubscription xmlns:ew="http://www.example.com/warnings">2597</ew:MySubscription></wsa:ReferenceParameters>`, 1)
			if r := h.post(t, "/eventing", soap12, body); r.status != 200 {
				t.Fatalf("subscribe: %d %s", r.status, r.body)
			}
			h.post(t, "/messages", "text/xml", seed(t, "event-message.xml"))
			got := s.next(t)
			p := got.env.Header.FindElement("MySubscription")
			if p == nil || p.Text() != "2597" || p.NamespaceURI() != "http://www.example.com/warnings" {
				t.Fatalf("reference parameter not echoed as a header:\n%s", got.body)
			}
			attr := p.SelectAttr("IsReferenceParameter")
			if tt.isRefParam != (attr != nil && attr.Value == "true" && attr.NamespaceURI() == "http://www.w3.org/2005/08/addressing") {
				t.Fatalf("IsReferenceParameter = %v; want present=%v:\n%s", attr, tt.isRefParam, got.body)
			}
			if to := got.env.Header.FindElement("To"); to == nil || to.NamespaceURI() != tt.wsa {
				t.Fatalf("wsa:To not in %s", tt.wsa)
			}
		})
	}
}

func TestRestart_SubscriptionSurvives(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, eventing.Options{})
	s := newSink(t)
	subscribeSeed(t, h, s.URL, "")
	h.stop()

	h = start(t, dir, eventing.Options{})
	if r := h.post(t, "/messages", "text/xml", seed(t, "event-message.xml")); r.status != 202 {
		t.Fatalf("publish after restart: %d", r.status)
	}
	if got := s.next(t); !strings.Contains(got.body, "myTopic") {
		t.Fatalf("delivered after restart: %s", got.body)
	}
}

func TestEndpointAddress_MovesAndPersists(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, eventing.Options{})
	call := func(op, inner string) string {
		body := `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:web="http://webservice.cloud42.jw.de"><soap:Body><web:` + op + `>` + inner + `</web:` + op + `></soap:Body></soap:Envelope>`
		r := h.post(t, "/eventing", soap12, body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", op, r.status, r.body)
		}
		return bodyText(t, parse(t, r.body), op+"Response/return")
	}
	if got := call("getEndpointAddress", ""); got != h.URL+"/messages" {
		t.Fatalf("getEndpointAddress = %q", got)
	}
	if got := call("setEndpointAddress", "<web:address> /events/in </web:address>"); got != h.URL+"/events/in" {
		t.Fatalf("setEndpointAddress = %q", got)
	}
	if r := h.post(t, "/messages", "text/xml", seed(t, "event-message.xml")); r.status != 404 {
		t.Fatalf("old path answers %d; want 404", r.status)
	}
	if r := h.post(t, "/events/in", "text/xml", seed(t, "event-message.xml")); r.status != 202 {
		t.Fatalf("new path answers %d; want 202", r.status)
	}
	h.stop()
	h = start(t, dir, eventing.Options{})
	if got := call("getEndpointAddress", ""); got != h.URL+"/events/in" {
		t.Fatalf("after restart getEndpointAddress = %q", got)
	}
}

// The server reuses a request's tree once it answered it (pooled slabs):
// every subscription still gets its own reference parameter, whether its
// endpoint was parsed again from the stored record (a new subscription)
// or kept from the request (a repeated WS-Eventing Subscribe keeps the
// endpoint it parsed), so nothing kept a pointer into a request's tree.
func TestSeed_ReusedRequestTreesKeepEachSubscriptionsReferenceParameter(t *testing.T) {
	h := start(t, "", eventing.Options{})
	s := newSink(t)
	const n = 40
	subscribe := func(i int) {
		t.Helper()
		body := fmt.Sprintf(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing">
  <s:Header><wsa:Action>http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe</wsa:Action><wsa:MessageID>uuid:%08d-0000-4000-8000-000000000000</wsa:MessageID><wsa:To>%s/eventing</wsa:To></s:Header>
  <s:Body><wse:Subscribe><wse:Delivery><wse:NotifyTo><wsa:Address>%s/%d</wsa:Address><wsa:ReferenceParameters><ew:MySubscription xmlns:ew="http://www.example.com/warnings">ref-%d</ew:MySubscription></wsa:ReferenceParameters></wse:NotifyTo></wse:Delivery></wse:Subscribe></s:Body>
</s:Envelope>`, i, h.URL, s.URL, i, i)
		if r := h.post(t, "/eventing", soap12, body); r.status != 200 {
			t.Fatalf("subscribe %d: %d %s", i, r.status, r.body)
		}
	}
	for i := range n {
		subscribe(i)
	}
	for i := range n / 2 {
		subscribe(i) // again: the subscription keeps this request's endpoint
	}
	for i := range n {
		subscribe(n + i) // more trees through the same slabs
	}
	h.post(t, "/messages", "text/xml", seed(t, "event-message.xml"))
	seen := map[string]bool{}
	for range 2 * n {
		got := s.next(t)
		p := got.env.Header.FindElement("MySubscription")
		if p == nil {
			t.Fatalf("no reference parameter:\n%s", got.body)
		}
		path := strings.TrimPrefix(got.env.Header.FindElement("To").Text(), s.URL+"/")
		if want := "ref-" + path; p.Text() != want || seen[want] {
			t.Fatalf("the notification to /%s carries %q (seen before: %v); want %q", path, p.Text(), seen[p.Text()], want)
		}
		seen[p.Text()] = true
	}
}

package webhook_test

import (
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/httpsend"
	"github.com/herald-eventing/herald/transports/webhook"
	"github.com/herald-eventing/herald/transports/webhook/webhooktest"
)

// herald is a running Herald over a real bbolt file and HTTP.
type herald struct {
	*httptest.Server
	svc *eventing.Service
}

func startHerald(t *testing.T, d eventing.DispatcherOptions) *herald {
	t.Helper()
	h := httpapitest.Start(t, "", eventing.Options{Dispatcher: d})
	return &herald{Server: h.Server, svc: h.Service}
}

func (h *herald) post(t *testing.T, path, ctype, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(h.URL+path, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var returnRE = regexp.MustCompile(`<(?:\w+:)?return>([^<]*)</`)

// subscribe makes a management subscription (SOAP 1.2) and returns its id.
func (h *herald) subscribe(t *testing.T, topic, subscriptionMessage string) string {
	t.Helper()
	status, body := h.post(t, "/eventing", "application/soap+xml; charset=utf-8",
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>`+
			`<web:subscribe xmlns:web="http://webservice.cloud42.jw.de"><web:subscriptionProcessor>webhook</web:subscriptionProcessor>`+
			`<web:topic>`+topic+`</web:topic><web:subscriptionMessage>`+subscriptionMessage+`</web:subscriptionMessage></web:subscribe>`+
			`</s:Body></s:Envelope>`)
	m := returnRE.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("subscribe: HTTP %d\n%s", status, body)
	}
	return m[1]
}

func (h *herald) publishSeed(t *testing.T) {
	t.Helper()
	seed, err := os.ReadFile("../../testdata/event-message.xml")
	if err != nil {
		t.Fatal(err)
	}
	if status, body := h.post(t, "/messages", "text/xml", string(seed)); status != http.StatusAccepted {
		t.Fatalf("publish: HTTP %d %s", status, body)
	}
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// The acceptance: a CloudEvents webhook delivery validates against
// the CloudEvents JSON format and its signature checks.
func TestEndToEnd_CloudEventsSigned(t *testing.T) {
	h := startHerald(t, eventing.DispatcherOptions{})
	rcv := webhooktest.New(t, webhooktest.Options{Secret: secret})
	id := h.subscribe(t, "myTopic", rcv.MessageFormat("cloudevents")+`<h:Secret xmlns:h="`+eventing.HeraldNS+`">`+secret+`</h:Secret>`)
	h.publishSeed(t)

	got := rcv.NextRequest(t) // the receiver verified the signature already
	if !httpsend.Verify(got.Header, secret, got.Body) {
		t.Fatalf("the signature does not verify: %v", got.Header)
	}
	if httpsend.Verify(got.Header, "whsec_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", got.Body) {
		t.Fatal("the signature verifies with another secret")
	}
	mt, params, err := mime.ParseMediaType(got.Header.Get("Content-Type"))
	if err != nil || mt != "application/cloudevents+json" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type %q; want application/cloudevents+json; charset=utf-8", got.Header.Get("Content-Type"))
	}
	if p := checkCloudEvent(got.Body); p != nil {
		t.Fatalf("the delivery is not a valid CloudEvent: %v\n%s", p, got.Body)
	}
	ce := got.Event
	if ce.Type != "myTopic" || ce.Source != "i-38e24051" || ce.ID == "" || ce.Data.Text != "message text" || ce.Data.Info != "additional message info" {
		t.Errorf("CloudEvent %+v", ce)
	}
	if ce.HeraldSubscription != id {
		t.Errorf("heraldsubscription = %q; want %q", ce.HeraldSubscription, id)
	}
	if wid := got.Header.Get("webhook-id"); wid == "" || wid != ce.HeraldMessageID || len(got.Header.Values("webhook-id")) != 1 {
		t.Errorf("webhook-id %q; want one, the heraldmessageid %q", got.Header.Values("webhook-id"), ce.HeraldMessageID)
	}
	if ce.Time != "2008-09-30T11:19:10Z" {
		t.Errorf("time %q is not the seed event's own timestamp (2008-09-30 11:19:10 GMT)", ce.Time)
	}
	t.Logf("%s", got.Body)
}

func TestEndToEnd_XMLUnsigned(t *testing.T) {
	h := startHerald(t, eventing.DispatcherOptions{})
	rcv := webhooktest.New(t, webhooktest.Options{Format: webhook.FormatXML})
	h.subscribe(t, "myTopic", rcv.Message())
	h.publishSeed(t)

	got := rcv.NextRequest(t)
	if ct := got.Header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	want := `<message xmlns="http://cloud42.jw.de/message"><topic>myTopic</topic><instanceId>i-38e24051</instanceId><timestamp>2008-09-30 11:19:10 GMT</timestamp><text>message text</text><info>additional message info</info></message>`
	if string(got.Body) != want {
		t.Errorf("body %s\nwant %s", got.Body, want)
	}
	if got.Header.Get("webhook-signature") != "" || got.Header.Get("webhook-timestamp") != "" {
		t.Error("a subscription without a secret got a signature")
	}
	if !strings.HasPrefix(got.Header.Get("webhook-id"), "urn:uuid:") {
		t.Errorf("webhook-id %q; want the notification's MessageID", got.Header.Get("webhook-id"))
	}
}

func TestEndToEnd_RetryAfter503(t *testing.T) {
	h := startHerald(t, eventing.DispatcherOptions{Schedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}, Jitter: -1, MaxRetryAfter: 5 * time.Second})
	rcv := webhooktest.New(t, webhooktest.Options{Secret: secret, RetryAfter: "1"})
	id := h.subscribe(t, "myTopic", rcv.Message()+`<h:Secret xmlns:h="`+eventing.HeraldNS+`">`+secret+`</h:Secret>`)
	rcv.FailNext(1)
	h.publishSeed(t)

	got := rcv.NextRequest(t)
	reqs := rcv.Requests()
	if len(reqs) != 2 || reqs[0].Status != http.StatusServiceUnavailable {
		t.Fatalf("requests: %d; want a 503 and then the delivery", len(reqs))
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < 900*time.Millisecond {
		t.Errorf("retried after %v; the endpoint asked for Retry-After: 1", gap)
	}
	if reqs[0].Header.Get("webhook-id") != got.Header.Get("webhook-id") || string(reqs[0].Body) != string(got.Body) {
		t.Error("the retry is not the same message (webhook-id and body)")
	}
	if !httpsend.Verify(reqs[0].Header, secret, reqs[0].Body) {
		t.Error("the failed attempt was not signed")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		d, err := h.svc.Describe(t.Context(), id)
		if err == nil && len(d.State.Log) == 2 {
			if l := d.State.Log; l[0].OK || l[0].Status != http.StatusServiceUnavailable || !l[1].OK {
				t.Errorf("delivery log %+v; want a 503 and then a success", l)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery log does not show two attempts: %+v, %v", d, err)
		}
	}
}

func TestEndToEnd_SameEndpointSameSubscription(t *testing.T) {
	h := startHerald(t, eventing.DispatcherOptions{})
	rcv := webhooktest.New(t, webhooktest.Options{})
	a := h.subscribe(t, "myTopic", rcv.MessageFormat("cloudevents"))
	b := h.subscribe(t, "myTopic", `<h:Webhook xmlns:h="`+eventing.HeraldNS+`"><h:URL> `+rcv.URL+`/hook </h:URL></h:Webhook>`)
	c := h.subscribe(t, "myTopic", rcv.MessageFormat("xml"))
	if a != b || a == c {
		t.Errorf("ids %s %s %s: the same URL and format must give the same subscription, another format another", a, b, c)
	}
}

package httpapi_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpsend"
	"github.com/herald-eventing/herald/transports/soap"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestSigning_DeliveriesCarryStandardWebhooksSignatures(t *testing.T) {
	var logs bytes.Buffer
	h := start(t, "", eventing.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	wseSink, mgmtSink, plainSink := newSink(t), newSink(t), newSink(t)
	secretEl := `<h:Secret xmlns:h="` + eventing.HeraldNS + `">` + secret + `</h:Secret>`

	// In a wse:Subscribe, as an extension element.
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"),
		`<wse:Subscribe><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="`+wsa04+`">`+wseSink.URL+`</wsa:Address></wse:NotifyTo></wse:Delivery>`+
			`<wse:Filter Dialect="`+eventing.DialectTopic+`">signed</wse:Filter>`+secretEl+`</wse:Subscribe>`))
	if r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	id := bodyText(t, parse(t, r.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
	// In the management subscriptionMessage, beside the processor's part.
	r = h.post(t, "/eventing", soap12, envelope(soap.V12, "", manageSubscribe("soap", "signed", notifyTo(mgmtSink.URL)+secretEl)))
	if r.status != 200 {
		t.Fatalf("management subscribe: %d %s", r.status, r.body)
	}
	subscribeSeed(t, h, plainSink.URL, "signed")

	h.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>signed</topic><text>hello</text></message>`)
	for name, s := range map[string]*sink{"wse:Subscribe": wseSink, "subscriptionMessage": mgmtSink} {
		got := s.next(t)
		if !httpsend.Verify(got.header, secret, []byte(got.body)) {
			t.Errorf("%s: the signature does not verify (headers %v)", name, got.header)
		}
		if mid := got.env.Header.FindElement("MessageID"); mid == nil || got.header.Get("webhook-id") != mid.Text() {
			t.Errorf("%s: webhook-id %q is not the notification's MessageID", name, got.header.Get("webhook-id"))
		}
	}
	if got := plainSink.next(t); got.header.Get("webhook-signature") != "" {
		t.Error("a subscription without a secret got a signature")
	}

	// No operation, stored message or log shows the secret.
	d := h.post(t, "/eventing", soap12, envelope(soap.V12, "", `<h:describeSubscription xmlns:h="`+eventing.HeraldNS+`"><h:subscriptionId>`+id+`</h:subscriptionId></h:describeSubscription>`))
	if d.status != 200 || !strings.Contains(d.body, "<h:signed>true</h:signed>") {
		t.Fatalf("describe: %d %s", d.status, d.body)
	}
	for where, text := range map[string]string{"describeSubscription": d.body, "logs": logs.String()} {
		if strings.Contains(text, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
			t.Errorf("the secret shows in %s", where)
		}
	}
	sub, err := h.db.Subscription(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sub.Message, "Secret") {
		t.Errorf("the stored endpoint description keeps the secret element: %s", sub.Message)
	}
}

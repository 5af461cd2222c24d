package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/soap"
)

// subscribeWithEndTo makes a WS-Eventing subscription whose EndTo (with a
// reference parameter) is endTo and returns its identifier.
func subscribeWithEndTo(t *testing.T, h *herald, notify, endTo, wsa string) string {
	t.Helper()
	body := `<wse:Subscribe><wse:EndTo><wsa:Address xmlns:wsa="` + wsa + `">` + endTo + `</wsa:Address>` +
		`<wsa:ReferenceParameters xmlns:wsa="` + wsa + `"><ew:MySubscription xmlns:ew="http://www.example.com/warnings">2597</ew:MySubscription></wsa:ReferenceParameters></wse:EndTo>` +
		`<wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="` + wsa + `">` + notify + `</wsa:Address></wse:NotifyTo></wse:Delivery>` +
		`<wse:Filter Dialect="` + eventing.DialectTopic + `">t</wse:Filter></wse:Subscribe>`
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa, wse+"/Subscribe"), body))
	if r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	return bodyText(t, parse(t, r.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
}

// checkEnd checks a SubscriptionEnd message.
func checkEnd(t *testing.T, got received, id, status, wsa string) {
	t.Helper()
	env := got.env
	if env == nil {
		t.Fatalf("not a SOAP envelope: %s", got.body)
	}
	if a := env.Header.FindElement("Action"); a == nil || a.Text() != eventing.ActionSubscriptionEnd || a.NamespaceURI() != wsa {
		t.Errorf("Action header wrong:\n%s", got.body)
	}
	if p := env.Header.FindElement("MySubscription"); p == nil || p.Text() != "2597" {
		t.Errorf("EndTo's reference parameter not echoed:\n%s", got.body)
	}
	if v := bodyText(t, env, "SubscriptionEnd/Status"); v != status {
		t.Errorf("Status %q; want %q", v, status)
	}
	if v := bodyText(t, env, "SubscriptionEnd/SubscriptionManager/ReferenceParameters/Identifier"); v != id {
		t.Errorf("manager EPR names %q; want %q", v, id)
	}
	if r := env.Body.FindElement("SubscriptionEnd/Reason"); r == nil || r.SelectAttrValue("xml:lang", "") != "en" || strings.TrimSpace(r.Text()) == "" {
		t.Errorf("Reason missing or without xml:lang:\n%s", got.body)
	}
}

func TestSubscriptionEnd_OnCancel(t *testing.T) {
	for _, wsa := range []string{wsa04, wsa10} {
		h := start(t, "", eventing.Options{})
		notify, end := newSink(t), newSink(t)
		id := subscribeWithEndTo(t, h, notify.URL, end.URL, wsa)
		r := h.post(t, "/eventing", soap12, envelope(soap.V12, "", `<h:cancelSubscription xmlns:h="`+eventing.HeraldNS+`"><h:subscriptionId>`+id+`</h:subscriptionId></h:cancelSubscription>`))
		if r.status != 200 {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		checkEnd(t, end.next(t), id, string(eventing.EndSourceCancelling), wsa)
		if r := h.post(t, "/subscriptions", soap12, envelope(soap.V12, wsaHeaders(wsa, wse+"/GetStatus")+`<wse:Identifier>`+id+`</wse:Identifier>`, `<wse:GetStatus/>`)); r.status != 400 {
			t.Fatalf("GetStatus after cancel: %d", r.status)
		}
	}
}

func TestSubscriptionEnd_NoneOnUnsubscribeOrExpiry(t *testing.T) {
	h := start(t, "", eventing.Options{SweepInterval: 10 * time.Millisecond})
	notify, end := newSink(t), newSink(t)
	id := subscribeWithEndTo(t, h, notify.URL, end.URL, wsa04)
	if r := h.post(t, "/subscriptions", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Unsubscribe")+`<wse:Identifier>`+id+`</wse:Identifier>`, `<wse:Unsubscribe/>`)); r.status != 200 {
		t.Fatalf("unsubscribe: %d", r.status)
	}
	short := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"),
		`<wse:Subscribe><wse:EndTo><wsa:Address xmlns:wsa="`+wsa04+`">`+end.URL+`</wsa:Address></wse:EndTo><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="`+wsa04+`">`+notify.URL+`/2</wsa:Address></wse:NotifyTo></wse:Delivery><wse:Expires>PT0.05S</wse:Expires></wse:Subscribe>`))
	sid := bodyText(t, parse(t, short.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
	// Wait until the sweeper reclaimed the expired subscription.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := h.db.Subscription(t.Context(), sid); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired subscription was not reclaimed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	end.nothing(t)
}

func TestSubscriptionEnd_OnShutdownWhenAsked(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, eventing.Options{EndOnShutdown: true})
	notify, end := newSink(t), newSink(t)
	id := subscribeWithEndTo(t, h, notify.URL, end.URL, wsa04)
	h.stop()
	checkEnd(t, end.next(t), id, string(eventing.EndSourceShuttingDown), wsa04)
	h = start(t, dir, eventing.Options{})
	if _, err := h.db.Subscription(t.Context(), id); err == nil {
		t.Fatal("the subscription outlived the shutdown that ended it")
	}
}

func TestSubscriptionEnd_NotOnPlainShutdown(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, eventing.Options{})
	notify, end := newSink(t), newSink(t)
	id := subscribeWithEndTo(t, h, notify.URL, end.URL, wsa04)
	h.stop()
	end.nothing(t)
	h = start(t, dir, eventing.Options{})
	if _, err := h.db.Subscription(context.Background(), id); err != nil {
		t.Fatalf("the subscription did not survive a restart: %v", err)
	}
}

func TestSubscriptionEnd_OnDeliveryFailure(t *testing.T) {
	h := start(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{time.Millisecond}, Jitter: -1, FailureLimit: 2, FailureWindow: time.Millisecond}})
	notify, end, operator := newSink(t), newSink(t), newSink(t)
	notify.status = 500
	subscribeSeed(t, h, operator.URL, eventing.EndedTopic)
	id := subscribeWithEndTo(t, h, notify.URL, end.URL, wsa04)
	h.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>t</topic></message>`)
	notify.next(t)
	checkEnd(t, end.next(t), id, string(eventing.EndDeliveryFailure), wsa04)
	op := operator.next(t)
	if !strings.Contains(op.body, id) || !strings.Contains(op.body, "DeliveryFailure") {
		t.Fatalf("operator event does not name the subscription and the reason:\n%s", op.body)
	}
}

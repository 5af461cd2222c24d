package eventing_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// expensive passes the static limits and runs out of its evaluation
// budget on any message.
const expensive = "count(//node()[count(//node()[count(//node()[count(//node())+count(//node())+count(//node())>0])>0])>0])>0"

// budgetFilter runs out of its budget on every event.
type budgetFilter struct{}

func (budgetFilter) Match(*eventing.Event) (bool, error) {
	return false, fmt.Errorf("%w: after %d steps", eventing.ErrFilterBudget, eventing.DefaultFilterBudget)
}

// A filter that costs too much on a full message is refused at subscribe;
// one that runs out of its budget at delivery anyway is ended loudly
// (SubscriptionEnd DeliveryFailure, an operator event), not retried, and
// the healthy subscription beside it gets every event.
func TestFilter_OverBudget(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	healthy := newSink(t, e.clock)
	bombed := newSink(t, e.clock)
	ops := newSink(t, e.clock)
	e.subscribe(t, healthy.URL, eventing.TopicFilter("t"), nil)
	e.subscribe(t, ops.URL, eventing.TopicFilter(eventing.EndedTopic), nil)
	_, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(bombed.URL),
		Filter: &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: expensive}})
	var f *eventing.Error
	if !errors.As(err, &f) || f.Kind != eventing.ErrInvalidFilter || !strings.Contains(f.Reason, "budget") {
		t.Fatalf("subscribe with a filter over budget: %v; want wse:InvalidMessage naming the budget", err)
	}
	g, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(bombed.URL),
		Filter: &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: "/m:message[contains(m:text, 'x')]", Namespaces: map[string]string{"m": eventing.MessageNS}},
		EndTo:  endTo(t, "http://end.example/")})
	if err != nil {
		t.Fatal(err)
	}
	// What the probe cannot foresee (a filter costlier on some message
	// than on the full one) is caught at delivery.
	ep := recorder(make(chan string, 16))
	e.svc.Dispatcher().Replace(g.Subscription, budgetFilter{}, ep)
	for i := range 5 {
		e.publish(t, "t", "healthy-"+string(rune('0'+i)))
	}
	for i := range 5 {
		if got := healthy.next(t); got.text != "healthy-"+string(rune('0'+i)) {
			t.Fatalf("healthy got %q", got.text)
		}
	}
	select {
	case end := <-e.ender.ch:
		if end != g.Subscription.ID+" DeliveryFailure" {
			t.Fatalf("SubscriptionEnd %q; want DeliveryFailure for %s", end, g.Subscription.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no SubscriptionEnd for the subscription whose filter ran out of budget")
	}
	if got := ops.next(t); !strings.Contains(got.text, g.Subscription.ID) || !strings.Contains(got.text, "FilterBudget") {
		t.Fatalf("operator event %q", got.text)
	}
	if _, err := e.svc.GetStatus(t.Context(), g.Subscription.ID); err == nil {
		t.Fatal("the subscription is still there")
	}
	if len(ep) != 0 || len(bombed.delivered()) != 0 {
		t.Fatal("the over-budget subscription got deliveries")
	}
}

// A stored subscription whose filter this server refuses (stored by an
// older, laxer Herald) is ended the same way at start.
func TestFilter_StoredBombEndedAtStart(t *testing.T) {
	for _, bomb := range []string{filterBomb(10), expensive} {
		testStoredFilterEndedAtStart(t, bomb)
	}
}

func filterBomb(k int) string {
	e := "count(//*)"
	for range k - 1 {
		e = "count(//*[" + e + ">0])"
	}
	return e + ">0"
}

func testStoredFilterEndedAtStart(t *testing.T, bomb string) {
	dir := t.TempDir()
	e := newEnv(t, dir, eventing.Options{})
	sub := e.subscribe(t, "http://sink.example/", eventing.TopicFilter("t"), nil)
	if _, err := e.db.UpdateSubscription(t.Context(), sub.ID, func(s *eventing.Subscription) error {
		s.Filter = &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: bomb}
		s.EndTo = endToXML(t, "http://end.example/")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	e = newEnv(t, dir, eventing.Options{})
	select {
	case end := <-e.ender.ch:
		if end != sub.ID+" DeliveryFailure" {
			t.Fatalf("SubscriptionEnd %q", end)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no SubscriptionEnd for the stored bomb")
	}
	if _, err := e.svc.GetStatus(t.Context(), sub.ID); err == nil {
		t.Fatal("the stored bomb is still subscribed")
	}
}

const endToDoc = `<EndTo xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"><wsa:Address>%s</wsa:Address></EndTo>`

func endTo(t *testing.T, url string) *addressingEPR {
	return mustEPR(t, strings.Replace(endToDoc, "%s", url, 1))
}

func endToXML(t *testing.T, url string) string { return endTo(t, url).String() }

package eventing_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

func TestDispatcher_Page(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{time.Hour}}})
	ok := newSink(t, e.clock)
	failing := newSink(t, e.clock)
	failing.status = func(int) (int, http.Header) { return 500, nil }
	var ids []string
	for i := range 23 {
		topic := fmt.Sprintf("acc.%d", i%3)
		url := ok.URL
		if i == 7 {
			url = failing.URL
		}
		ids = append(ids, e.subscribe(t, url+fmt.Sprintf("/%d", i), eventing.TopicFilter(topic), nil).ID)
		e.clock.Advance(time.Second)
	}
	e.subscribe(t, ok.URL+"/xpath", &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: "/m:message", Namespaces: map[string]string{"m": eventing.MessageNS}}, nil)
	e.clock.Advance(time.Second)
	expiring := e.subscribe(t, ok.URL+"/lease", eventing.TopicFilter("acc.0"), &eventing.Expiration{IsDuration: true, Duration: time.Minute})
	e.publish(t, "acc.1", "x") // to subscription 7, which fails
	failing.next(t)
	for range 7 {
		ok.next(t)
	}
	e.clock.Advance(2 * time.Minute)
	d := e.svc.Dispatcher()
	now := e.clock.Now()
	waitFor(t, "the deliveries' outcomes", func() bool {
		p, _ := d.Page(eventing.SubscriptionQuery{State: eventing.SubscriptionOK}, now)
		f, _ := d.Page(eventing.SubscriptionQuery{State: eventing.SubscriptionFailing}, now)
		return p.Matching == 23 && f.Matching == 1
	})

	// Newest first, in pages, each subscription once.
	var got []string
	after := ""
	for {
		p, err := d.Page(eventing.SubscriptionQuery{Limit: 10, After: after}, now)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 25 || p.Matching != 25-len(got) {
			t.Fatalf("total %d, matching %d after %d rows", p.Total, p.Matching, len(got))
		}
		for _, r := range p.Rows {
			got = append(got, r.Subscription.ID)
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(got) != 25 || got[0] != expiring.ID || got[2] != ids[22] || got[24] != ids[0] {
		t.Fatalf("order: %v", got)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("%s twice", id)
		}
		seen[id] = true
	}

	page := func(q eventing.SubscriptionQuery) *eventing.SubscriptionPage {
		t.Helper()
		p, err := d.Page(q, now)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := page(eventing.SubscriptionQuery{Topic: "acc.1"}); p.Matching != 8 {
		t.Errorf("topic acc.1: %d", p.Matching)
	}
	if p := page(eventing.SubscriptionQuery{Topic: "acc.*"}); p.Matching != 24 {
		t.Errorf("topic acc.*: %d (XPath subscriptions have no topic)", p.Matching)
	}
	if p := page(eventing.SubscriptionQuery{Processor: "post", Limit: 100}); p.Matching != 25 || len(p.Rows) != 25 || p.Next != "" {
		t.Errorf("processor post: %d, %d rows, next %q", p.Matching, len(p.Rows), p.Next)
	}
	if p := page(eventing.SubscriptionQuery{State: eventing.SubscriptionFailing}); p.Matching != 1 || p.Rows[0].Subscription.ID != ids[7] || p.Rows[0].Failures != 1 || p.Rows[0].NextAttempt.IsZero() {
		t.Errorf("failing: %+v", p.Rows)
	}
	if p := page(eventing.SubscriptionQuery{State: eventing.SubscriptionExpired}); p.Matching != 1 || p.Rows[0].Subscription.ID != expiring.ID {
		t.Errorf("expired: %+v", p.Rows)
	}
	if p := page(eventing.SubscriptionQuery{State: eventing.SubscriptionOK}); p.Matching != 23 {
		t.Errorf("ok: %d", p.Matching)
	}
	for _, q := range []eventing.SubscriptionQuery{{Topic: "acc.>.x"}, {Processor: "nope"}, {State: "sad"}, {After: "x"}} {
		if _, err := d.Page(q, now); err == nil {
			t.Errorf("%+v: no error", q)
		}
	}
}

// BenchmarkDispatcher_Page measures one page among 100,000 subscriptions.
func BenchmarkDispatcher_Page(b *testing.B) {
	registerPost()
	db, err := store.Open(b.TempDir(), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	d := eventing.NewDispatcher(db, nil, nil, eventing.DispatcherOptions{})
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for i := range 100_000 {
		spec := eventing.TopicFilter(fmt.Sprintf("t.%d", i%100))
		f, _ := eventing.CompileFilter(spec)
		sub := &eventing.Subscription{ID: fmt.Sprintf("uuid:%08d", i), Processor: postProcessor, Filter: spec, Created: t0.Add(time.Duration(i) * time.Millisecond)}
		d.Add(sub, f, nil)
	}
	for _, q := range []eventing.SubscriptionQuery{{}, {Topic: "t.7"}, {State: eventing.SubscriptionFailing}} {
		b.Run(fmt.Sprintf("%+v", q), func(b *testing.B) {
			for b.Loop() {
				if _, err := d.Page(q, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

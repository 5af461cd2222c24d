package eventing_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// A dispatcher starts once: a second Start is refused rather than starting
// a second worker pool.
func TestDispatcher_StartTwiceIsRefused(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	if err := e.svc.Dispatcher().Start(t.Context()); err == nil {
		t.Fatal("a second Start succeeded")
	}
}

// Shutdown stops the timers of subscriptions waiting for a retry.
func TestShutdown_StopsPendingRetryTimers(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	s.status = func(int) (int, http.Header) { return 500, nil }
	e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	t0 := e.clock.Now()
	e.publish(t, "t", "one")
	s.next(t)
	waitTimer(t, e.clock, t0.Add(5*time.Second))
	if err := e.svc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := pending(e.clock); len(p) != 0 {
		t.Fatalf("timers pending after Shutdown: %v", p)
	}
}

// The lease sweeper finds the ended leases among many, and a renewed lease
// is not reclaimed at its old end.
func TestExpired_FindsTheEndedLeasesOnly(t *testing.T) {
	e := newEnv(t, "", eventing.Options{SweepInterval: never})
	s := newSink(t, e.clock)
	var short, renewed *eventing.Subscription
	for i := range 50 {
		d := eventing.Expiration{IsDuration: true, Duration: time.Duration(i+1) * time.Hour}
		sub := e.subscribe(t, fmt.Sprintf("%s/%d", s.URL, i), eventing.TopicFilter("t"), &d)
		switch i {
		case 0:
			short = sub
		case 1:
			renewed = sub
		}
	}
	if _, err := e.svc.Renew(t.Context(), renewed.ID, &eventing.Expiration{IsDuration: true, Duration: 100 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2*time.Hour + time.Minute)
	got := e.svc.Dispatcher().Expired(e.clock.Now())
	if len(got) != 1 || got[0].ID != short.ID {
		ids := []string{}
		for _, g := range got {
			ids = append(ids, g.ID)
		}
		t.Fatalf("expired %v; want only %s", ids, short.ID)
	}
	if again := e.svc.Dispatcher().Expired(e.clock.Now()); len(again) != 0 {
		t.Fatalf("expired again: %d", len(again))
	}
}

// Removing subscriptions from the middle of a topic's list keeps the
// others in it.
func TestTopicIndex_UnsubscribeKeepsTheOthers(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	sinks := make([]*sink, 4)
	subs := make([]*eventing.Subscription, 4)
	for i := range sinks {
		sinks[i] = newSink(t, e.clock)
		subs[i] = e.subscribe(t, sinks[i].URL, eventing.TopicFilter("t"), nil)
	}
	for _, i := range []int{1, 0} {
		if err := e.svc.Unsubscribe(t.Context(), subs[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	e.publish(t, "t", "after")
	for _, i := range []int{2, 3} {
		if d := sinks[i].next(t); d.text != "after" {
			t.Fatalf("subscription %d got %q", i, d.text)
		}
	}
}

// A subscription waiting for its next retry is woken when its subscriber
// subscribes again (its endpoint fixed): the next attempt is made at once,
// not at the retry's time.
func TestReplace_WakesASubscriptionWaitingForARetry(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	s.status = func(n int) (int, http.Header) {
		if n == 0 {
			return 500, nil
		}
		return 202, nil
	}
	e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	t0 := e.clock.Now()
	e.publish(t, "t", "one")
	if d := s.next(t); d.attempt != 1 {
		t.Fatalf("attempt %d; want 1", d.attempt)
	}
	waitTimer(t, e.clock, t0.Add(5*time.Second))
	e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil) // the same endpoint and filter: a replace
	if d := s.next(t); d.attempt != 2 || !d.at.Equal(t0) {
		t.Fatalf("attempt %d at %v; want attempt 2 at once (%v)", d.attempt, d.at, t0)
	}
}

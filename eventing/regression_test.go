package eventing_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// A repeated WS-Eventing Subscribe with another filter updates the
// subscription in place: it carries on from where it was, and the events
// published before the update are not delivered anew under the new filter.
func TestResubscribe_KeepsThePosition(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("a"), nil)
	e.publish(t, "a", "a1")
	for i := range 20 {
		e.publish(t, "b", fmt.Sprint("old-b", i))
	}
	if d := s.next(t); d.text != "a1" {
		t.Fatalf("got %q", d.text)
	}
	waitFor(t, "the cursor to reach the head", func() bool {
		st, _ := e.svc.Dispatcher().State(sub.ID)
		return st.Cursor == e.db.Head()
	})
	e.subscribe(t, s.URL, eventing.TopicFilter("b"), nil)
	e.publish(t, "b", "new-b")
	if d := s.next(t); d.text != "new-b" {
		t.Fatalf("after the update got %q; want only what came after it", d.text)
	}
}

// A dead letter replayed while the oldest event waits for its next retry
// has its own attempt count, and the oldest event keeps its own.
func TestReplay_KeepsItsOwnAttemptCount(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute}}})
	s := newSink(t, e.clock)
	s.status = func(n int) (int, http.Header) {
		if n < 2 {
			return 500, nil // the oldest event's first two attempts
		}
		return 200, nil
	}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("a"), nil)
	t0 := e.clock.Now()
	e.publish(t, "a", "head")
	s.next(t)
	waitTimer(t, e.clock, t0.Add(5*time.Second))
	e.clock.Advance(5 * time.Second)
	if d := s.next(t); d.attempt != 2 {
		t.Fatalf("attempt %d; want 2", d.attempt)
	}
	waitTimer(t, e.clock, t0.Add(5*time.Second+5*time.Minute))
	e.svc.Dispatcher().Replay(sub.ID, []*eventing.DeadLetter{{Seq: 99, Message: eventing.Message{Topic: "a", Text: "replayed"}, Received: t0}})
	e.clock.Advance(5 * time.Minute)
	var got []string
	for len(got) < 2 {
		d := s.next(t)
		got = append(got, fmt.Sprintf("%s#%d", d.text, d.attempt))
	}
	if got[0] != "replayed#1" || got[1] != "head#3" {
		t.Fatalf("attempts %v; want replayed#1 then head#3", got)
	}
}

// flakyStore fails DeleteSubscription a given number of times.
type flakyStore struct {
	*store.DB
	failDeletes atomic.Int32
}

func (f *flakyStore) DeleteSubscription(ctx context.Context, id string) (*eventing.Subscription, error) {
	if f.failDeletes.Add(-1) >= 0 {
		return nil, errors.New("disk full")
	}
	return f.DB.DeleteSubscription(ctx, id)
}

// When the failure limit is reached but the subscription cannot be ended,
// delivery goes on rather than stopping silently.
func TestFailureLimit_DeliveryGoesOnWhenTheEndFails(t *testing.T) {
	registerPost()
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fs := &flakyStore{DB: db}
	fs.failDeletes.Store(1)
	e := newEnv(t, "", eventing.Options{})
	clock := e.clock
	svc, err := eventing.NewService(t.Context(), eventing.Options{Store: fs, Clock: clock, SweepInterval: never, Dispatcher: eventing.DispatcherOptions{
		Jitter: -1, FailureLimit: 2, FailureWindow: time.Second, Schedule: []time.Duration{time.Second, time.Second, time.Second},
		FlushInterval: never, RetentionInterval: never}})
	if err != nil {
		t.Fatal(err)
	}
	svc.Start(t.Context())
	defer svc.Shutdown(context.Background())
	s := newSink(t, clock)
	s.status = func(n int) (int, http.Header) {
		if n < 2 {
			return 500, nil
		}
		return 200, nil
	}
	_, err = svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(s.URL), Filter: eventing.TopicFilter("t")})
	if err != nil {
		t.Fatal(err)
	}
	t0 := clock.Now()
	svc.Publish(t.Context(), &eventing.Message{Topic: "t", Text: "x"})
	s.next(t)
	waitTimer(t, clock, t0.Add(time.Second))
	clock.Advance(time.Second)
	s.next(t) // the second failure reaches the limit; ending fails (disk full)
	waitTimer(t, clock, t0.Add(2*time.Second))
	clock.Advance(time.Second)
	if d := s.next(t); d.text != "x" || d.attempt != 3 {
		t.Fatalf("after the failed end: %q attempt %d", d.text, d.attempt)
	}
}

// A delivery cut short by shutdown is not an attempt: after the restart the
// event is tried as if nothing happened.
func TestShutdown_CutAttemptDoesNotCount(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, eventing.Options{})
	s := newSink(t, e.clock)
	s.block = make(chan struct{})
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	e.publish(t, "t", "cut")
	waitFor(t, "the delivery to start", func() bool {
		st, _ := e.svc.Dispatcher().State(sub.ID)
		return st != nil && st.Attempts == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	e.svc.Shutdown(ctx)
	e.db.Close()
	s.mu.Lock()
	close(s.block)
	s.block = nil
	s.mu.Unlock()
	e2 := newEnv(t, dir, eventing.Options{})
	st, _ := e2.svc.Dispatcher().State(sub.ID)
	if st.Failures != 0 {
		t.Fatalf("the cut attempt counted: %+v", st)
	}
	for {
		d := s.next(t)
		if d.text == "cut" && d.attempt == 1 {
			break // the restart's first attempt (the cut one may also show up)
		}
		if d.attempt > 1 {
			t.Fatalf("the restart's attempt is number %d", d.attempt)
		}
	}
}

// Events published while the dispatcher starts reach every subscription.
func TestStart_EventsPublishedMeanwhileAreNotLost(t *testing.T) {
	registerPost()
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := newSink(t, eventing.SystemClock{})
	svc, err := eventing.NewService(t.Context(), eventing.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		if _, err := svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(fmt.Sprintf("%s/%d", s.URL, i)), Filter: eventing.TopicFilter("t")}); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 8 { // at most 8,000 deliveries: the sink's buffer holds them
			select {
			case <-stop:
				return
			default:
			}
			svc.Publish(t.Context(), &eventing.Message{Topic: "t"})
		}
	}()
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	defer svc.Shutdown(context.Background())
	head := db.Head()
	waitFor(t, "every subscription to catch up", func() bool {
		for _, sub := range svc.Dispatcher().Subscriptions() {
			if st, _ := svc.Dispatcher().State(sub.ID); st.Cursor < head {
				return false
			}
		}
		return true
	})
	got := map[string]int{}
	for len(s.ch) > 0 {
		d := <-s.ch
		got[fmt.Sprint(d.seq)]++
	}
	short := 0
	for seq := uint64(1); seq <= head; seq++ {
		if got[fmt.Sprint(seq)] < n {
			short++
		}
	}
	if short > 0 {
		t.Fatalf("%d of %d events did not reach all %d subscriptions", short, head, n)
	}
}

package eventing_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/eventingtest"
	"github.com/herald-eventing/herald/store"
)

// newEnvAt starts a service on a real bbolt file in dir whose fake clock
// reads start; jitter is off unless o asks for it.
func newEnvAt(t *testing.T, dir string, start time.Time, o eventing.Options) *env {
	t.Helper()
	registerPost()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	clock := eventingtest.NewClock(start)
	ender := &recordingEnder{ch: make(chan string, 16)}
	o.Store, o.Clock, o.Ender = db, clock, ender
	if o.Dispatcher.Jitter == 0 {
		o.Dispatcher.Jitter = -1
	}
	// The periodic loops run on the fake clock too: left to themselves
	// they would fire whenever a test moves the time. A test that wants
	// them sets its own interval, or calls Flush, Sweep or Trim.
	if o.Dispatcher.FlushInterval == 0 {
		o.Dispatcher.FlushInterval = never
	}
	if o.Dispatcher.RetentionInterval == 0 {
		o.Dispatcher.RetentionInterval = never
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = never
	}
	svc, err := eventing.NewService(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, db: db, clock: clock, ender: ender, dir: dir}
	t.Cleanup(func() { e.stop() })
	return e
}

// never is the periodic loops' interval in tests: far beyond any time a
// test moves the clock to (see pending).
const never = 100000 * time.Hour

// pending returns the due times of c's timers, without the periodic
// loops' (see never).
func pending(c *eventingtest.Clock) []time.Time {
	var out []time.Time
	horizon := c.Now().Add(never / 2)
	for _, p := range c.Pending() {
		if p.Before(horizon) {
			out = append(out, p)
		}
	}
	return out
}

// A restart in the middle of a retry schedule continues it: the attempt
// count and the next attempt's time survive, so an endpoint cannot be
// retried forever by restarts, nor is it hammered right after one.
func TestRetry_ScheduleSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	opts := eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}}}
	e := newEnvAt(t, dir, t0, opts)
	s := newSink(t, e.clock)
	s.status = func(n int) (int, http.Header) {
		if n < 3 {
			return 500, nil
		}
		return 200, nil
	}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	e.publish(t, "t", "x")
	s.next(t)
	waitTimer(t, e.clock, t0.Add(5*time.Second))
	e.clock.Advance(5 * time.Second)
	if d := s.next(t); d.attempt != 2 {
		t.Fatalf("attempt %d; want 2", d.attempt)
	}
	waitTimer(t, e.clock, t0.Add(5*time.Second+5*time.Minute))
	e.stop()

	// One minute later Herald is back: the next attempt is still due at
	// 5 s + 5 min, and it is the third.
	e2 := newEnvAt(t, dir, t0.Add(time.Minute), opts)
	s.clock = e2.clock
	due := t0.Add(5*time.Second + 5*time.Minute)
	waitTimer(t, e2.clock, due)
	select {
	case d := <-s.ch:
		t.Fatalf("attempt %d right after the restart; want none before %v", d.attempt, due)
	default:
	}
	e2.clock.Set(due)
	if d := s.next(t); d.attempt != 3 || !d.at.Equal(due) {
		t.Fatalf("after the restart: attempt %d at %v; want 3 at %v", d.attempt, d.at, due)
	}
	waitFor(t, "the third attempt in the delivery log", func() bool {
		st, _ := e2.svc.Describe(t.Context(), sub.ID)
		return st != nil && len(st.State.Log) == 3 && !st.State.Log[2].OK && st.State.Failures == 3
	})
	e2.clock.Advance(30 * time.Minute)
	if d := s.next(t); d.attempt != 4 {
		t.Fatalf("attempt %d; want 4", d.attempt)
	}
	waitFor(t, "the delivery log to record the success", func() bool {
		st, _ := e2.svc.Describe(t.Context(), sub.ID)
		return st != nil && len(st.State.Log) == 4 && st.State.Log[3].OK && st.State.Failures == 0
	})
}

func TestRetry_PermanentFailureGoesStraightToTheDeadLetters(t *testing.T) {
	registerPermanent()
	e := newEnv(t, "", eventing.Options{})
	g, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: "permanent", Message: target("x"), Filter: eventing.TopicFilter("t")})
	if err != nil {
		t.Fatal(err)
	}
	e.publish(t, "t", "doomed")
	waitFor(t, "a dead letter", func() bool {
		dl, _ := e.svc.DeadLetters(t.Context(), g.Subscription.ID)
		return len(dl) == 1 && dl[0].Attempts == 1 && strings.Contains(dl[0].Error, "gone for good")
	})
	if p := pending(e.clock); len(p) != 0 {
		t.Fatalf("a permanent failure was scheduled for retry at %v", p)
	}
}

var permanentOnce = make(chan struct{}, 1)

func registerPermanent() {
	select {
	case permanentOnce <- struct{}{}:
		eventing.Register(eventing.Driver{Name: "permanent", Open: func(eventing.Config) (eventing.Processor, error) { return permanentProc{}, nil }})
	default:
	}
}

type permanentProc struct{}

func (permanentProc) Endpoint(context.Context, *eventing.EndpointRequest) (eventing.Endpoint, error) {
	return permanentEndpoint{}, nil
}

type permanentEndpoint struct{}

func (permanentEndpoint) Key() string { return "" }
func (permanentEndpoint) Deliver(context.Context, *eventing.Notification) error {
	return eventing.Permanent(errors.New("gone for good"))
}

func TestRetry_JitterStaysWithinItsBounds(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		registerPost()
		db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		clock := eventingtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		svc, err := eventing.NewService(t.Context(), eventing.Options{Store: db, Clock: clock, Dispatcher: eventing.DispatcherOptions{
			Schedule: []time.Duration{100 * time.Second}, Jitter: 0.2, Random: func() float64 { return r }}})
		if err != nil {
			t.Fatal(err)
		}
		svc.Start(t.Context())
		s := newSink(t, clock)
		s.status = func(int) (int, http.Header) { return 500, nil }
		svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(s.URL), Filter: eventing.TopicFilter("t")})
		svc.Publish(t.Context(), &eventing.Message{Topic: "t"})
		s.next(t)
		want := clock.Now().Add(time.Duration(float64(100*time.Second) * (1 + 0.2*(2*r-1))))
		waitTimer(t, clock, want)
		svc.Shutdown(context.Background())
		db.Close()
	}
}

// An endpoint that is down for a while gets everything once it recovers,
// in order, each event once acknowledged.
func TestOutage_EverythingArrivesInOrderAfterRecovery(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}}})
	s := newSink(t, e.clock)
	down := true
	s.status = func(int) (int, http.Header) {
		if down {
			return 503, nil
		}
		return 202, nil
	}
	e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	t0 := e.clock.Now()
	for i := range 50 {
		e.publish(t, "t", fmt.Sprint(i))
	}
	s.next(t) // the first attempt of event 0 fails
	waitTimer(t, e.clock, t0.Add(5*time.Second))
	e.clock.Advance(5 * time.Second)
	s.next(t) // so does the second
	waitTimer(t, e.clock, t0.Add(5*time.Second+5*time.Minute))
	s.mu.Lock()
	down = false
	s.mu.Unlock()
	e.clock.Advance(5 * time.Minute)
	var got []string
	for len(got) < 50 {
		d := s.next(t)
		got = append(got, d.text)
	}
	for i, g := range got {
		if g != fmt.Sprint(i) {
			t.Fatalf("after the outage event %d arrived as %q: %v", i, g, got)
		}
	}
	if n := len(s.delivered()); n != 50 {
		t.Fatalf("%d acknowledged deliveries; want 50", n)
	}
}

func TestReplay_DeadLettersAreDeliveredAgain(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{}}})
	s := newSink(t, e.clock)
	failing := true
	s.status = func(int) (int, http.Header) {
		if failing {
			return 500, nil
		}
		return 200, nil
	}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	e.publish(t, "t", "lost")
	s.next(t)
	waitFor(t, "the dead letter", func() bool { dl, _ := e.svc.DeadLetters(t.Context(), sub.ID); return len(dl) == 1 })
	s.mu.Lock()
	failing = false
	s.mu.Unlock()
	n, err := e.svc.Replay(t.Context(), sub.ID, time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v", n, err)
	}
	if d := s.next(t); d.text != "lost" {
		t.Fatalf("replayed %q", d.text)
	}
	waitFor(t, "the dead letter to go", func() bool { dl, _ := e.svc.DeadLetters(t.Context(), sub.ID); return len(dl) == 0 })
	if n, _ := e.svc.Replay(t.Context(), sub.ID, time.Time{}); n != 0 {
		t.Fatalf("a second replay found %d", n)
	}
}

// A replayed dead letter that fails keeps its own retry schedule across a
// restart, like the oldest event does: a restart neither resets its
// attempt count nor retries it at once.
func TestReplay_RetryScheduleSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	opts := eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}}}
	e := newEnvAt(t, dir, t0, opts)
	s := newSink(t, e.clock)
	s.status = func(n int) (int, http.Header) {
		if n < 2 { // the first two attempts fail, the third succeeds
			return 500, nil
		}
		return 200, nil
	}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	dl := &eventing.DeadLetter{Seq: 42, Received: t0, Message: eventing.Message{Topic: "t", Text: "died"}, Attempts: 4, Error: "HTTP 500", Time: t0}
	if err := e.db.AddDeadLetter(t.Context(), sub.ID, dl); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Replay(t.Context(), sub.ID, time.Time{}); err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v", n, err)
	}
	if d := s.next(t); d.text != "died" || d.attempt != 1 {
		t.Fatalf("replayed %q, attempt %d", d.text, d.attempt)
	}
	waitTimer(t, e.clock, t0.Add(5*time.Second))
	e.clock.Advance(5 * time.Second)
	if d := s.next(t); d.attempt != 2 {
		t.Fatalf("attempt %d; want 2", d.attempt)
	}
	due := t0.Add(5*time.Second + 5*time.Minute)
	waitTimer(t, e.clock, due)
	e.stop()

	e2 := newEnvAt(t, dir, t0.Add(time.Minute), opts)
	s.clock = e2.clock
	waitTimer(t, e2.clock, due)
	select {
	case d := <-s.ch:
		t.Fatalf("attempt %d right after the restart; want none before %v", d.attempt, due)
	default:
	}
	e2.clock.Set(due)
	if d := s.next(t); d.text != "died" || d.attempt != 3 || !d.at.Equal(due) {
		t.Fatalf("after the restart: %q attempt %d at %v; want attempt 3 at %v", d.text, d.attempt, d.at, due)
	}
	waitFor(t, "the replayed dead letter to go", func() bool { dls, _ := e2.svc.DeadLetters(t.Context(), sub.ID); return len(dls) == 0 })
}

// Under steady load with retention, freed pages are reused: the file stops
// growing.
func TestRetention_TheFileStopsGrowing(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, eventing.Options{Dispatcher: eventing.DispatcherOptions{Retention: time.Minute}})
	s := newSink(t, e.clock)
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	size := func() int64 {
		st, err := os.Stat(filepath.Join(dir, store.FileName))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	var sizes []int64
	for round := range 6 {
		for i := range 2000 {
			e.publish(t, "t", fmt.Sprintf("%d-%d %s", round, i, strings.Repeat("x", 200)))
		}
		for range 2000 {
			s.next(t)
		}
		waitFor(t, "the cursor to reach the head", func() bool {
			st, _ := e.svc.Dispatcher().State(sub.ID)
			return st.Cursor == e.db.Head()
		})
		if err := e.svc.Dispatcher().Flush(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Minute)
		n, err := e.svc.Dispatcher().Trim(t.Context())
		if err != nil || n != 2000 {
			t.Fatalf("round %d trimmed %d, %v; want 2000", round, n, err)
		}
		sizes = append(sizes, size())
	}
	if sizes[5] > sizes[2] {
		t.Fatalf("file sizes by round %v: still growing", sizes)
	}
}

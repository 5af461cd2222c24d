package eventing_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// The scale tests of issue 12: with many subscriptions present, a flush
// writes only what changed, and a restart delivers at once. They count
// writes through the store interface and use synctest's fake time, so they
// measure no speed.

const scaleSubscriptions = 100_000

// memProcessor delivers to channels by name: <mem name="x"/> sends the
// event's text to memSinks["x"], or, when that name has no sink, to
// nothing. A sink named "block" holds every delivery until its context
// ends.
const memProcessor = "mem"

var (
	memOnce  sync.Once
	memMu    sync.Mutex
	memSinks = map[string]chan string{}
	// memBlocked names the sinks whose deliveries hold until their
	// context ends.
	memBlocked = map[string]bool{}
)

type memEndpoint struct{ name string }

func (m memEndpoint) Key() string { return m.name }

func (m memEndpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	memMu.Lock()
	ch, blocked := memSinks[m.name], memBlocked[m.name]
	memMu.Unlock()
	if m.name == "block" || blocked {
		<-ctx.Done()
		return ctx.Err()
	}
	if ch != nil {
		ch <- n.Event.Text
	}
	return nil
}

type memProc struct{}

func (memProc) Endpoint(_ context.Context, r *eventing.EndpointRequest) (eventing.Endpoint, error) {
	return memEndpoint{r.Message.SelectAttrValue("name", "")}, nil
}

func registerMem() {
	memOnce.Do(func() {
		eventing.Register(eventing.Driver{Name: memProcessor, Open: func(eventing.Config) (eventing.Processor, error) { return memProc{}, nil }})
	})
}

// memSink returns a channel that receives what <mem name="name"/> gets.
func memSink(t *testing.T, name string) chan string {
	ch := make(chan string, 16)
	memMu.Lock()
	memSinks[name] = ch
	memMu.Unlock()
	t.Cleanup(func() {
		memMu.Lock()
		delete(memSinks, name)
		memMu.Unlock()
	})
	return ch
}

func parseElement(xml string) (*etree.Element, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		return nil, err
	}
	return doc.Root(), nil
}

// countingStore counts the delivery states written through the store
// interface.
type countingStore struct {
	eventing.Store
	mu     sync.Mutex
	writes []int // states per SaveDeliveryStates call
	fail   bool  // refuse every write from now on (a crash: nothing more is saved)
}

// errRefused is a countingStore's refusal.
var errRefused = errors.New("refused")

func (c *countingStore) SaveDeliveryStates(ctx context.Context, through uint64, states map[string]*eventing.DeliveryState) error {
	c.mu.Lock()
	fail := c.fail
	if !fail {
		c.writes = append(c.writes, len(states))
	}
	c.mu.Unlock()
	if fail {
		return errRefused
	}
	return c.Store.SaveDeliveryStates(ctx, through, states)
}

func (c *countingStore) crash() {
	c.mu.Lock()
	c.fail = true
	c.mu.Unlock()
}

func (c *countingStore) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

// seedScale stores n idle subscriptions on topics s-0 … s-(n-1) in one
// transaction, each delivering to <mem name="s-i"/>.
func seedScale(t *testing.T, dir string, n int) {
	t.Helper()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	subs := make([]*eventing.Subscription, n)
	now := time.Now().UTC()
	for i := range subs {
		name := fmt.Sprintf("s-%d", i)
		subs[i] = &eventing.Subscription{ID: fmt.Sprintf("uuid:scale-%06d", i), Processor: memProcessor,
			Message: `<mem name="` + name + `"/>`, Filter: eventing.TopicFilter(name), Created: now}
	}
	if err := db.CreateSubscriptions(t.Context(), subs); err != nil {
		t.Fatal(err)
	}
}

// openScale opens the service on dir, its store wrapped in a counter. The
// periodic flush is left out (an hour apart): the test flushes.
func openScale(t *testing.T, dir string) (*eventing.Service, *store.DB, *countingStore) {
	t.Helper()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: db}
	svc, err := eventing.NewService(context.Background(), eventing.Options{Store: cs,
		Dispatcher: eventing.DispatcherOptions{FlushInterval: time.Hour, Jitter: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc, db, cs
}

// A flush after one delivery writes one subscription's state, with 100,000
// subscriptions present: state writes are O(changes), not O(subscriptions).
func TestFlush_OneDeliveryWritesOneStateAmong100000(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 subscriptions")
	}
	registerMem()
	dir := t.TempDir()
	seedScale(t, dir, scaleSubscriptions)
	synctest.Test(t, func(t *testing.T) {
		last := fmt.Sprintf("s-%d", scaleSubscriptions-1)
		got := memSink(t, last)
		svc, db, cs := openScale(t, dir)
		defer db.Close()
		defer svc.Shutdown(context.Background())
		// The first flush writes the matched-through position only.
		if err := svc.Dispatcher().Flush(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		if w := cs.take(); len(w) > 1 || len(w) == 1 && w[0] != 0 {
			t.Fatalf("an idle start's flush wrote %v states; want none", w)
		}
		if _, err := svc.Publish(t.Context(), &eventing.Message{Topic: last, Text: "one"}); err != nil {
			t.Fatal(err)
		}
		if text := <-got; text != "one" {
			t.Fatalf("delivered %q; want one", text)
		}
		synctest.Wait() // the attempt's outcome is recorded
		if err := svc.Dispatcher().Flush(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		if w := cs.take(); len(w) != 1 || w[0] != 1 {
			t.Fatalf("the flush after one delivery wrote %v states; want [1] with %d subscriptions", w, scaleSubscriptions)
		}
		// Nothing changed since: the next flush writes nothing.
		if err := svc.Dispatcher().Flush(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		if w := cs.take(); len(w) != 0 {
			t.Fatalf("a flush with nothing changed wrote %v states; want none", w)
		}
	})
}

// A restart with 100,000 subscriptions delivers to the last one created,
// and shutdown returns within its timeout even with a delivery that never
// finishes.
func TestRestart_100000SubscriptionsDeliverToTheLastAndShutdownIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 subscriptions")
	}
	registerMem()
	dir := t.TempDir()
	seedScale(t, dir, scaleSubscriptions)
	synctest.Test(t, func(t *testing.T) {
		svc, db, _ := openScale(t, dir)
		// The last one is created through the service, after the others.
		el, err := parseElement(`<mem name="last"/>`)
		if err != nil {
			t.Fatal(err)
		}
		g, err := svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: memProcessor, Message: el, Filter: eventing.TopicFilter("last")})
		if err != nil {
			t.Fatal(err)
		}
		// One subscription is stuck in a delivery that never returns.
		stuck, err := parseElement(`<mem name="block"/>`)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: memProcessor, Message: stuck, Filter: eventing.TopicFilter("stuck")}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Publish(t.Context(), &eventing.Message{Topic: "stuck", Text: "never"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		const timeout = 10 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		err = svc.Shutdown(ctx)
		if took := time.Since(start); took > timeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("shutdown returned %v after %v; want the deadline after %v", err, took, timeout)
		}
		db.Close()

		got := memSink(t, "last")
		svc, db, _ = openScale(t, dir)
		defer db.Close()
		defer svc.Shutdown(context.Background())
		if _, err := svc.Publish(t.Context(), &eventing.Message{Topic: "last", Text: "after"}); err != nil {
			t.Fatal(err)
		}
		if text := <-got; text != "after" {
			t.Fatalf("the last subscription (%s) got %q after the restart; want after", g.Subscription.ID, text)
		}
	})
}

// After a crash (no state written after the last flush), a restart
// delivers what the stored positions had not covered: events after the
// matched-through position reach the idle subscriptions again (at least
// once), and a subscription with work pending resumes from its own cursor.
func TestRestart_AfterACrashResumesFromTheStoredPositions(t *testing.T) {
	registerMem()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		a, b := memSink(t, "a"), memSink(t, "b")
		memMu.Lock()
		memBlocked["b"] = true
		memMu.Unlock()
		defer func() {
			memMu.Lock()
			delete(memBlocked, "b")
			memMu.Unlock()
		}()
		svc, db, cs := openScale(t, dir)
		for _, name := range []string{"a", "b"} {
			el, _ := parseElement(`<mem name="` + name + `"/>`)
			if _, err := svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: memProcessor, Message: el, Filter: eventing.TopicFilter(name)}); err != nil {
				t.Fatal(err)
			}
		}
		publish := func(svc *eventing.Service, topic, text string) {
			t.Helper()
			if _, err := svc.Publish(t.Context(), &eventing.Message{Topic: topic, Text: text}); err != nil {
				t.Fatal(err)
			}
		}
		publish(svc, "a", "a1")
		if got := <-a; got != "a1" {
			t.Fatalf("a got %q", got)
		}
		publish(svc, "b", "b1") // b's delivery hangs: b has work pending
		synctest.Wait()
		if err := svc.Dispatcher().Flush(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		// Nothing is saved from here on: the crash.
		cs.crash()
		publish(svc, "a", "a2")
		if got := <-a; got != "a2" {
			t.Fatalf("a got %q", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		svc.Shutdown(ctx)
		db.Close()

		memMu.Lock()
		delete(memBlocked, "b")
		memMu.Unlock()
		svc, db, _ = openScale(t, dir)
		defer db.Close()
		defer svc.Shutdown(context.Background())
		if got := <-b; got != "b1" {
			t.Fatalf("after the restart b got %q; want b1 (its own cursor)", got)
		}
		if got := <-a; got != "a2" {
			t.Fatalf("after the restart a got %q; want a2 again (after the matched-through position)", got)
		}
		publish(svc, "a", "a3")
		if got := <-a; got != "a3" {
			t.Fatalf("a got %q; want a3", got)
		}
	})
}

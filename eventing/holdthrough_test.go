package eventing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// matchedThrough waits until the dispatcher has matched every event up to
// seq.
func matchedThrough(t *testing.T, d *eventing.Dispatcher, seq uint64) {
	t.Helper()
	waitFor(t, "the matcher", func() bool { m, _ := d.Matched(); return m >= seq })
}

// The window between a subscription's commit and the dispatcher's Add: the
// bbolt store writes no state for a new subscription, so a flush in that
// window must not store a matched-through position past its Start, or a
// crash before the next flush would start it past its first events. The
// creator's HoldThrough keeps the position at the matcher's position when
// it was taken; after a restart the subscription gets every event after
// its Start. Released, the next flush stores the matcher's position again.
func TestHoldThrough_AFlushBeforeAddStoresNoPositionPastStart(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	d := eventing.NewDispatcher(db, nil, nil, eventing.DispatcherOptions{FlushInterval: time.Hour})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	publish := func(n int) {
		t.Helper()
		for range n {
			if _, err := db.Append(ctx, &eventing.Message{Topic: "t", Text: "x"}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(3)
	matchedThrough(t, d, 3)

	// What Service.Subscribe does up to its Add.
	release := d.HoldThrough()
	sub := &eventing.Subscription{ID: "uuid:held", Processor: "test", Message: "<x/>", Created: time.Now(), Start: db.Head()}
	if _, err := db.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	publish(2)
	matchedThrough(t, d, 5)
	if err := d.Flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	through, states, err := db.DeliveryStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if through > sub.Start || states[sub.ID] != nil {
		t.Fatalf("stored through %d, state %+v, with a subscription at %d being created; want at most %d and none", through, states[sub.ID], sub.Start, sub.Start)
	}
	// The process dies before its Add (Shutdown's flush is one more in
	// the window).
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	release()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d = eventing.NewDispatcher(db, nil, nil, eventing.DispatcherOptions{FlushInterval: time.Hour})
	all, _ := eventing.CompileFilter(nil)
	ep := &seqEndpoint{}
	d.Add(sub, all, ep)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	waitFor(t, "the events after Start", func() bool { return len(ep.got()) >= 2 })
	if got := ep.got(); !slices.Equal(got, []uint64{4, 5}) {
		t.Fatalf("delivered %v after the restart; want [4 5]", got)
	}

	// Without a hold, a flush stores the matcher's position.
	publish(1)
	matchedThrough(t, d, 6)
	waitFor(t, "the sixth event", func() bool { return len(ep.got()) >= 3 })
	if err := d.Flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if through, _, err := db.DeliveryStates(ctx); err != nil || through != 6 {
		t.Fatalf("stored through %d, %v; want 6", through, err)
	}
}

package eventing_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// gappyStore is a Store whose commit feed skips the event with sequence
// number skip, as a watcher recreated after its server died may.
type gappyStore struct {
	*store.DB
	skip uint64
}

func (g *gappyStore) Watch(fn func([]*eventing.Event)) {
	g.DB.Watch(func(evs []*eventing.Event) {
		var kept []*eventing.Event
		for _, ev := range evs {
			if ev.Seq != g.skip {
				kept = append(kept, ev)
			}
		}
		if len(kept) > 0 {
			fn(kept)
		}
	})
}

type seqEndpoint struct {
	mu   sync.Mutex
	seqs []uint64
}

func (e *seqEndpoint) Deliver(_ context.Context, n *eventing.Notification) error {
	e.mu.Lock()
	e.seqs = append(e.seqs, n.Event.Seq)
	e.mu.Unlock()
	return nil
}

func (e *seqEndpoint) Key() string { return "seq" }

func (e *seqEndpoint) got() []uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seqs)
}

// An event the commit feed skipped is read from the log: every live
// subscription still gets it, in order.
func TestDispatcher_FeedGapIsReadFromTheLog(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &gappyStore{DB: db, skip: 2}
	d := eventing.NewDispatcher(st, nil, nil, eventing.DispatcherOptions{FlushInterval: time.Hour})
	all, _ := eventing.CompileFilter(nil)
	ep := &seqEndpoint{}
	sub := &eventing.Subscription{ID: "uuid:gap", Processor: "test", Message: "<x/>", Created: time.Now()}
	if _, err := db.CreateSubscription(t.Context(), sub); err != nil {
		t.Fatal(err)
	}
	d.Add(sub, all, ep)
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	for _, text := range []string{"one", "two", "three"} {
		if _, err := db.Append(t.Context(), &eventing.Message{Topic: "t", Text: text}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three deliveries", func() bool { return len(ep.got()) >= 3 })
	if got := ep.got(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("delivered %v; want [1 2 3]", got)
	}
}

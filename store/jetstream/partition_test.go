package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/eventingtest"
	"github.com/herald-eventing/herald/store/jetstream"
)

// recorder is an endpoint that records the sequence numbers delivered to
// each subscription.
type recorder struct {
	mu   sync.Mutex
	got  map[string][]uint64
	fail atomic.Bool // answer every delivery with an error
	// hold, if set, is called before a delivery is recorded (it may
	// block: a subscriber that takes its time).
	hold func(id string, seq uint64)
}

func newRecorder() *recorder { return &recorder{got: map[string][]uint64{}} }

func (r *recorder) endpoint(id string) eventing.Endpoint { return recEndpoint{r, id} }

func (r *recorder) seqs(id string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.got[id]...)
}

type recEndpoint struct {
	r  *recorder
	id string
}

func (e recEndpoint) Deliver(_ context.Context, n *eventing.Notification) error {
	if e.r.fail.Load() {
		return errors.New("refused")
	}
	if e.r.hold != nil {
		e.r.hold(e.id, n.Event.Seq)
	}
	e.r.mu.Lock()
	e.r.got[e.id] = append(e.r.got[e.id], n.Event.Seq)
	e.r.mu.Unlock()
	return nil
}

func (e recEndpoint) Key() string { return e.id }

// partitionedNode is one node's dispatcher over its own Store on a shared
// prefix, with every subscription added.
func partitionedNode(t *testing.T, st eventing.Store, subs []*eventing.Subscription, rec *recorder, parts int) *eventing.Dispatcher {
	t.Helper()
	d := eventing.NewDispatcher(st, nil, nil, eventing.DispatcherOptions{Partitions: parts, FlushInterval: time.Hour})
	all, err := eventing.CompileFilter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		cp := *sub
		d.Add(&cp, all, rec.endpoint(sub.ID))
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
	return d
}

func appendEvents(t *testing.T, st eventing.Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := st.Append(t.Context(), &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// Partitions move between two nodes: the node that does not hold a
// partition delivers nothing of it, the node that takes it over starts
// where the last flush left it, and every event reaches every
// subscription in order, with repeats only of what was not flushed.
func TestPartitions_Handover(t *testing.T) {
	srv := embedded(t)
	a, b := openStore(t, []string{srv.URL()}, "ph"), openStore(t, []string{srv.URL()}, "ph")
	const parts = 4
	subs := createSubs(t, a, "s", 12)
	recA, recB := newRecorder(), newRecorder()
	da := partitionedNode(t, a, subs, recA, parts)
	db := partitionedNode(t, b, subs, recB, parts)
	all := []int{0, 1, 2, 3}
	allGot := func(r *recorder, n int) func() bool {
		return func() bool {
			for _, s := range subs {
				if got := r.seqs(s.ID); len(got) < n {
					return false
				}
			}
			return true
		}
	}

	// Nobody holds a partition: nothing is delivered.
	appendEvents(t, a, 5)
	if err := da.Acquire(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node A delivers the first events", allGot(recA, 5))
	appendEvents(t, a, 5)
	waitFor(t, "node A delivers ten events", allGot(recA, 10))
	if err := da.Flush(t.Context(), true); err != nil {
		t.Fatal(err)
	}

	// A hands over after a flush: B repeats nothing.
	da.Release(all)
	if err := db.Acquire(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, b, 10)
	waitFor(t, "node B delivers the next ten events", allGot(recB, 10))
	for _, s := range subs {
		if got, want := recA.seqs(s.ID), seqRange(1, 10); !slices.Equal(got, want) {
			t.Errorf("%s on node A: %v, want %v", s.ID, got, want)
		}
		if got, want := recB.seqs(s.ID), seqRange(11, 20); !slices.Equal(got, want) {
			t.Errorf("%s on node B: %v, want %v", s.ID, got, want)
		}
	}

	// B loses half the partitions without a flush (a node that stops
	// renewing): A takes them and repeats what B had not flushed, from
	// the last flush on, in order.
	if err := db.Flush(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, b, 5)
	waitFor(t, "node B delivers five more", allGot(recB, 15))
	db.Release([]int{0, 1})
	if err := da.Acquire(t.Context(), []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, a, 5)
	for _, s := range subs {
		moved := eventing.PartitionOf(s.ID, parts) < 2
		if moved {
			waitFor(t, s.ID+" on node A after the move", func() bool { return len(recA.seqs(s.ID)) >= 10+10 })
			if got, want := recA.seqs(s.ID), append(seqRange(1, 10), seqRange(21, 30)...); !slices.Equal(got, want) {
				t.Errorf("%s moved to node A: %v, want %v", s.ID, got, want)
			}
		} else {
			waitFor(t, s.ID+" on node B", func() bool { return len(recB.seqs(s.ID)) >= 20 })
			if got := recA.seqs(s.ID); len(got) != 10 {
				t.Errorf("%s stayed on node B but node A delivered %v", s.ID, got)
			}
		}
	}
}

// A node that hands its partitions over while it is well (Handover: a
// give-away for balance) saves what it delivered first, so the next holder
// repeats nothing: not the deliveries since the last flush (there is none
// here), and not the one in flight when the handover began, which ends
// and counts. No attempt starts for them after the handover began.
func TestPartitions_HandoverRepeatsNothing(t *testing.T) {
	srv := embedded(t)
	a, b := openStore(t, []string{srv.URL()}, "hn"), openStore(t, []string{srv.URL()}, "hn")
	const parts = 2
	subs := createSubs(t, a, "h", 8)
	slow := subs[0].ID
	entered, gate := make(chan struct{}), make(chan struct{})
	recA, recB := newRecorder(), newRecorder()
	recA.hold = func(id string, seq uint64) {
		if id == slow && seq == 3 {
			close(entered)
			<-gate
		}
	}
	da := partitionedNode(t, a, subs, recA, parts)
	db := partitionedNode(t, b, subs, recB, parts)
	all := []int{0, 1}
	if err := da.Acquire(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, a, 5)
	for _, s := range subs[1:] {
		waitFor(t, s.ID+" delivered on node A", func() bool { return len(recA.seqs(s.ID)) == 5 })
	}
	<-entered // the slow subscriber has event 3 in flight

	handed := make(chan error, 1)
	go func() { handed <- da.Handover(t.Context(), all) }()
	waitFor(t, "the handover to begin", func() bool { return !da.Holds(0) && !da.Holds(1) })
	select {
	case err := <-handed:
		t.Fatalf("Handover returned (%v) with an attempt in flight", err)
	default:
	}
	close(gate)
	if err := <-handed; err != nil {
		t.Fatal(err)
	}
	if got, want := recA.seqs(slow), seqRange(1, 3); !slices.Equal(got, want) {
		t.Errorf("node A delivered %v to %s, want %v: nothing after the attempt in flight", got, slow, want)
	}

	if err := db.Acquire(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, b, 5)
	for _, s := range subs {
		from := uint64(6)
		if s.ID == slow {
			from = 4
		}
		waitFor(t, s.ID+" delivered on node B", func() bool { return len(recB.seqs(s.ID)) >= int(11-from) })
		if got, want := recB.seqs(s.ID), seqRange(from, 10); !slices.Equal(got, want) {
			t.Errorf("%s on node B: %v, want %v (no repeats)", s.ID, got, want)
		}
	}
}

// Partitions handed back and forth between two nodes while events keep
// coming, some deliveries failing and being retried: every event reaches
// every subscription, in order, exactly once. (The handovers race the
// matcher, the workers and the periodic flushes; a position raised past
// an event a subscription had not got would lose it.)
func TestPartitions_HandoverUnderLoadLosesAndRepeatsNothing(t *testing.T) {
	srv := embedded(t)
	a, b := openStore(t, []string{srv.URL()}, "hl"), openStore(t, []string{srv.URL()}, "hl")
	const parts = 4
	subs := createSubs(t, a, "hl", 16)
	var mu sync.Mutex
	got := map[string][]uint64{}
	var n atomic.Int64
	endpoint := func(id string) eventing.Endpoint {
		return funcEndpoint{id: id, deliver: func(ctx context.Context, ev *eventing.Notification) error {
			if n.Add(1)%7 == 0 {
				return errors.New("refused") // retried after the schedule's first step
			}
			mu.Lock()
			got[id] = append(got[id], ev.Event.Seq)
			mu.Unlock()
			return nil
		}}
	}
	node := func(st *jetstream.Store) *eventing.Dispatcher {
		d := eventing.NewDispatcher(st, nil, nil, eventing.DispatcherOptions{Partitions: parts, FlushInterval: 20 * time.Millisecond,
			Schedule: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}})
		all, _ := eventing.CompileFilter(nil)
		for _, sub := range subs {
			cp := *sub
			d.Add(&cp, all, endpoint(sub.ID))
		}
		if err := d.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
		return d
	}
	da, db := node(a), node(b)
	all := []int{0, 1, 2, 3}
	if err := da.Acquire(t.Context(), all); err != nil {
		t.Fatal(err)
	}
	const events = 300
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		for i := range events {
			st := a
			if i%2 == 1 {
				st = b
			}
			if _, err := st.Append(t.Context(), &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, time.Now()); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	from, to := da, db
	handovers := 0
	for done := false; !done; {
		select {
		case <-appended:
			done = true
		default:
		}
		time.Sleep(15 * time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := from.Handover(ctx, all)
		cancel()
		if err != nil {
			t.Fatalf("handover %d: %v", handovers, err)
		}
		if err := to.Acquire(t.Context(), all); err != nil {
			t.Fatal(err)
		}
		handovers++
		from, to = to, from
	}
	for _, s := range subs {
		waitFor(t, s.ID+" to get every event", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got[s.ID]) >= events
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range subs {
		if g, want := got[s.ID], seqRange(1, events); !slices.Equal(g, want) {
			t.Errorf("%s got %d deliveries, want %d in order, once each; first difference at %d", s.ID, len(g), len(want), firstDiff(g, want))
		}
	}
	t.Logf("%d handovers", handovers)
}

// firstDiff returns the first index at which a and b differ.
func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// funcEndpoint delivers with a function.
type funcEndpoint struct {
	id      string
	deliver func(context.Context, *eventing.Notification) error
}

func (e funcEndpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	return e.deliver(ctx, n)
}

func (e funcEndpoint) Key() string { return e.id }

// LowWater is the lowest position of every partition, whichever node
// wrote it: the janitor's bound for trimming.
func TestPartitions_LowWater(t *testing.T) {
	srv := embedded(t)
	a, b := openStore(t, []string{srv.URL()}, "lw"), openStore(t, []string{srv.URL()}, "lw")
	const parts = 2
	subs := createSubs(t, a, "l", 6)
	if low, err := a.LowWater(t.Context(), parts); err != nil || low != 0 {
		t.Fatalf("LowWater before any flush = %d, %v; want 0", low, err)
	}
	recA, recB := newRecorder(), newRecorder()
	da := partitionedNode(t, a, subs, recA, parts)
	db := partitionedNode(t, b, subs, recB, parts)
	appendEvents(t, a, 8)
	if err := da.Acquire(t.Context(), []int{0}); err != nil {
		t.Fatal(err)
	}
	if err := db.Acquire(t.Context(), []int{1}); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		r := recA
		if eventing.PartitionOf(s.ID, parts) == 1 {
			r = recB
		}
		waitFor(t, s.ID+" delivered", func() bool { return len(r.seqs(s.ID)) == 8 })
	}
	if err := da.Flush(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if low, err := a.LowWater(t.Context(), parts); err != nil || low != 0 {
		t.Fatalf("LowWater with partition 1 not flushed = %d, %v; want 0", low, err)
	}
	if err := db.Flush(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if low, err := b.LowWater(t.Context(), parts); err != nil || low != 8 {
		t.Fatalf("LowWater with both flushed = %d, %v; want 8", low, err)
	}
	// Any node reads any subscription's position (describe, pull).
	for _, s := range subs {
		st, err := a.DeliveryState(t.Context(), s.ID, parts)
		if err != nil || st.Cursor != 8 || st.Pending {
			t.Errorf("DeliveryState(%s) = %+v, %v; want cursor 8, nothing pending", s.ID, st, err)
		}
	}
}

// createSubs stores n subscriptions on st, uuid:<prefix>00 and on.
func createSubs(t *testing.T, st *jetstream.Store, prefix string, n int) []*eventing.Subscription {
	t.Helper()
	var subs []*eventing.Subscription
	for i := range n {
		sub := &eventing.Subscription{ID: fmt.Sprintf("uuid:%s%02d", prefix, i), Processor: "test", Message: "<x/>", Created: time.Now()}
		if _, err := st.CreateSubscription(t.Context(), sub); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	return subs
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// A node learns of the subscriptions other nodes create, renew and
// delete, from the revision it started at, in order.
func TestWatchSubscriptions(t *testing.T) {
	srv := embedded(t)
	a, b := openStore(t, []string{srv.URL()}, "ws"), openStore(t, []string{srv.URL()}, "ws")
	before := &eventing.Subscription{ID: "uuid:before", Processor: "test", Message: "<x/>", Created: time.Now()}
	if _, err := a.CreateSubscription(t.Context(), before); err != nil {
		t.Fatal(err)
	}
	rev, err := b.SubscriptionsRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	err = b.WatchSubscriptions(t.Context(), rev+1, func(id string, sub *eventing.Subscription) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case sub == nil:
			seen = append(seen, "-"+id)
		case !sub.Expires.IsZero():
			seen = append(seen, "~"+id)
		default:
			seen = append(seen, "+"+id)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := &eventing.Subscription{ID: "uuid:w1", Processor: "test", Message: "<x/>", Created: time.Now()}
	if _, err := a.CreateSubscription(t.Context(), sub); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateSubscription(t.Context(), sub.ID, func(s *eventing.Subscription) error {
		s.Expires = time.Now().Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DeleteSubscription(t.Context(), sub.ID); err != nil {
		t.Fatal(err)
	}
	// The bucket keeps one revision per key: a change overwritten before
	// the watcher read it is not seen (under load the create can be), but
	// the last one is, and what is seen comes in order.
	want := []string{"+uuid:w1", "~uuid:w1", "-uuid:w1"}
	waitFor(t, "the watch to see the deletion", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == "-uuid:w1"
	})
	mu.Lock()
	defer mu.Unlock()
	rest := want
	for _, c := range seen {
		i := slices.Index(rest, c)
		if i < 0 {
			t.Fatalf("watch saw %v; want an ordered subsequence of %v ending with the deletion", seen, want)
		}
		rest = rest[i+1:]
	}
	if len(seen) < len(want) {
		t.Logf("watch saw %v (an overwritten revision was compacted before it was read)", seen)
	}
}

// failingStates fails PartitionStates while fail is set, after calling
// during (if set) on the failing call.
type failingStates struct {
	*jetstream.Store
	fail   atomic.Bool
	calls  atomic.Int32
	during func()
	// gate, if set, holds every read until it is closed (a store
	// electing a leader), after entered is closed.
	entered, gate chan struct{}
}

func (f *failingStates) PartitionStates(ctx context.Context, parts []int, n int) (map[int]uint64, map[string]*eventing.DeliveryState, error) {
	if f.calls.Add(1) == 1 && f.gate != nil {
		close(f.entered)
		<-f.gate
	}
	if f.fail.Load() {
		if f.during != nil {
			f.during()
		}
		return nil, nil, errors.New("store unreachable")
	}
	return f.Store.PartitionStates(ctx, parts, n)
}

// A partition whose takeover failed, and whose lease was then lost, is
// not taken over when the feed tries again: a node cut off from the store
// must not start delivering what it no longer leases.
func TestPartitionFeed_ReleasedWhileRetrying(t *testing.T) {
	srv := embedded(t)
	st := &failingStates{Store: openStore(t, []string{srv.URL()}, "pf")}
	st.fail.Store(true)
	clock := eventingtest.NewClock(time.Now())
	d := eventing.NewDispatcher(st, clock, nil, eventing.DispatcherOptions{Partitions: 2, FlushInterval: time.Hour, RetentionInterval: time.Hour})
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
	feed := eventing.NewPartitionFeed(d, clock, nil)
	// The lease on partition 0 is lost while its takeover is failing.
	st.during = func() {
		go feed.Released(0)
		waitFor(t, "the lease manager to take partition 0 back", func() bool { return !slices.Contains(feed.Held(), 0) })
	}
	go feed.Run(t.Context())
	feed.Acquired(0)
	feed.Acquired(1)
	waitFor(t, "the failed takeover", func() bool { return st.calls.Load() == 1 })
	st.fail.Store(false)
	waitFor(t, "the retry to be due", func() bool {
		p := clock.Pending() // the first is the retry's: the dispatcher's loops wait an hour
		return len(p) > 0 && p[0].Before(clock.Now().Add(time.Minute))
	})
	clock.Advance(2 * time.Second)
	waitFor(t, "partition 1 taken over on the retry", func() bool { return d.Holds(1) })
	if d.Holds(0) {
		t.Fatal("partition 0 was taken over after its lease was released")
	}
}

// A lease lost while its takeover reads the store is released at once,
// not once the read ends: the lease manager calls Released on the
// goroutine that renews its other leases, which would lapse while it
// waited (the failover test saw a node fence all its leases that way).
// The partition is not taken when the read then succeeds; the others of
// the batch are.
func TestPartitionFeed_ReleasedDuringATakeoverReadWaitsForNoStore(t *testing.T) {
	srv := embedded(t)
	st := &failingStates{Store: openStore(t, []string{srv.URL()}, "pr"), entered: make(chan struct{}), gate: make(chan struct{})}
	d := eventing.NewDispatcher(st, nil, nil, eventing.DispatcherOptions{Partitions: 2, FlushInterval: time.Hour, RetentionInterval: time.Hour})
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
	feed := eventing.NewPartitionFeed(d, nil, nil)
	go feed.Run(t.Context())
	feed.Acquired(0)
	feed.Acquired(1)
	<-st.entered
	released := make(chan struct{})
	go func() {
		feed.Released(0)
		close(released)
	}()
	select {
	case <-released:
	case <-time.After(10 * time.Second): // a bound for a deadlock, not a speed
		close(st.gate)
		t.Fatal("Released waited for the takeover's read of the store")
	}
	close(st.gate)
	waitFor(t, "partition 1 taken over", func() bool { return d.Holds(1) })
	if d.Holds(0) {
		t.Fatal("partition 0 was taken over after its lease was released")
	}
}

// A subscription waiting on a retry timer when its partition goes is
// delivered again when the partition comes back to the same node.
func TestPartitions_BackAfterARetryWait(t *testing.T) {
	srv := embedded(t)
	st := openStore(t, []string{srv.URL()}, "rw")
	sub := createSubs(t, st, "r", 1)[0]
	rec := newRecorder()
	rec.fail.Store(true)
	all, _ := eventing.CompileFilter(nil)
	d := eventing.NewDispatcher(st, nil, nil, eventing.DispatcherOptions{Partitions: 1, FlushInterval: time.Hour, Schedule: []time.Duration{time.Hour}})
	cp := *sub
	d.Add(&cp, all, rec.endpoint(sub.ID))
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
	if err := d.Acquire(t.Context(), []int{0}); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, st, 1)
	waitFor(t, "the failed first attempt", func() bool { s, _ := d.State(sub.ID); return s != nil && s.Attempts == 1 })
	d.Release([]int{0})
	rec.fail.Store(false)
	if err := d.Acquire(t.Context(), []int{0}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery after the partition came back", func() bool { return len(rec.seqs(sub.ID)) == 1 })
}

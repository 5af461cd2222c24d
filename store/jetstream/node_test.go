package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/jetstream"
	"github.com/herald-eventing/herald/store/storetest"
)

func embedded(t *testing.T) *jetstream.Server {
	t.Helper()
	s, err := jetstream.Embedded(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func openStore(t *testing.T, urls []string, prefix string) *jetstream.Store {
	t.Helper()
	return openWith(t, jetstream.Options{URLs: urls, Prefix: prefix})
}

// openWith opens a Store with o for t and closes it after.
func openWith(t *testing.T, o jetstream.Options) *jetstream.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := jetstream.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// waitFor is storetest.WaitFor.
var waitFor = storetest.WaitFor

// cluster starts a 3-node in-process JetStream cluster for t (skipped
// under -short) and shuts it down after.
func cluster(t *testing.T) *jetstream.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("a 3-node cluster")
	}
	c, err := jetstream.StartCluster(t.Context(), t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// A node whose view of a delivery state is out of date (another node wrote
// it since) is refused, and the newer state stays. A node that never saw
// the state reads its revision first and is not refused: fencing a node
// that never owned a subscription is left to partition ownership.
func TestSaveDeliveryStates_RefusesAStaleWriter(t *testing.T) {
	s := embedded(t)
	ctx := t.Context()
	a, b := openStore(t, []string{s.URL()}, "h"), openStore(t, []string{s.URL()}, "h")
	// a creates the subscription, and so wrote its pending state.
	if _, err := a.CreateSubscription(ctx, &eventing.Subscription{ID: "uuid:1", Processor: "soap"}); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveDeliveryStates(ctx, 1, map[string]*eventing.DeliveryState{"uuid:1": {Cursor: 1}}); err != nil {
		t.Fatal(err)
	}
	// b takes over: it reads the state, then writes a newer one.
	if _, _, err := b.DeliveryStates(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveDeliveryStates(ctx, 5, map[string]*eventing.DeliveryState{"uuid:1": {Cursor: 5}}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*eventing.DeliveryState{{Cursor: 2}, {Cursor: 3, Log: []eventing.Attempt{}}, nil} {
		if err := a.SaveDeliveryStates(ctx, 9, map[string]*eventing.DeliveryState{"uuid:1": st}); !errors.Is(err, jetstream.ErrStale) {
			t.Fatalf("stale save of %+v = %v; want ErrStale", st, err)
		}
	}
	// A refused save does not raise the position.
	through, states, err := b.DeliveryStates(ctx)
	if err != nil || through != 5 || states["uuid:1"].Cursor != 5 {
		t.Fatalf("after the stale saves: through %d, state %+v, %v; want 5 and cursor 5", through, states["uuid:1"], err)
	}
	// c never saw the state: it writes over the current revision.
	c := openStore(t, []string{s.URL()}, "h")
	if err := c.SaveDeliveryStates(ctx, 6, map[string]*eventing.DeliveryState{"uuid:1": {Cursor: 6, Pending: true}}); err != nil {
		t.Fatalf("first save of a node that never saw the state: %v", err)
	}
	// Now b is the stale one until it reads again.
	if err := b.SaveDeliveryStates(ctx, 7, map[string]*eventing.DeliveryState{"uuid:1": {Cursor: 7}}); !errors.Is(err, jetstream.ErrStale) {
		t.Fatalf("b after c's save = %v; want ErrStale", err)
	}
	if _, _, err := b.DeliveryStates(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveDeliveryStates(ctx, 7, map[string]*eventing.DeliveryState{"uuid:1": {Cursor: 7}}); err != nil {
		t.Fatalf("b's save after reading again: %v", err)
	}
}

// One state saved with a raised position is two writes to the bucket (the
// state, then the position); without a raise it is one: a flush costs what
// changed, not one write per subscription.
func TestSaveDeliveryStates_WritesWhatChanged(t *testing.T) {
	s := embedded(t)
	ctx := t.Context()
	st := openStore(t, []string{s.URL()}, "h")
	for i := range 20 {
		if _, err := st.CreateSubscription(ctx, &eventing.Subscription{ID: fmt.Sprint("uuid:", i), Processor: "soap"}); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	last := func() uint64 {
		t.Helper()
		str, err := js.Stream(ctx, "KV_h_delivery_state")
		if err != nil {
			t.Fatal(err)
		}
		return str.CachedInfo().State.LastSeq
	}
	for _, tc := range []struct {
		through uint64
		states  map[string]*eventing.DeliveryState
		writes  uint64
	}{
		{3, map[string]*eventing.DeliveryState{"uuid:4": {Cursor: 3}}, 2},
		{3, map[string]*eventing.DeliveryState{"uuid:4": {Cursor: 3, Log: []eventing.Attempt{}}}, 1},
		{2, nil, 0}, // the position never moves back
		{4, nil, 1},
		{4, map[string]*eventing.DeliveryState{"uuid:4": nil}, 1}, // a purge marker
	} {
		before := last()
		if err := st.SaveDeliveryStates(ctx, tc.through, tc.states); err != nil {
			t.Fatal(err)
		}
		if got := last() - before; got != tc.writes {
			t.Errorf("SaveDeliveryStates(%d, %d states) wrote %d messages; want %d", tc.through, len(tc.states), got, tc.writes)
		}
	}
}

// Closing and opening again keeps the log, its head and the records.
func TestOpen_Reopen(t *testing.T) {
	s := embedded(t)
	ctx := t.Context()
	st := openStore(t, []string{s.URL()}, "h")
	for i := range 3 {
		if _, err := st.Append(ctx, &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateSubscription(ctx, &eventing.Subscription{ID: "uuid:1", Processor: "soap"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Trim(ctx, 3, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := st.Subscription(ctx, "uuid:1"); !errors.Is(err, jetstream.ErrClosed) {
		t.Fatalf("a closed store answered: %v", err)
	}
	st = openStore(t, []string{s.URL()}, "h")
	if st.Head() != 3 {
		t.Fatalf("head after reopen = %d; want 3", st.Head())
	}
	if _, err := st.Subscription(ctx, "uuid:1"); err != nil {
		t.Fatal(err)
	}
	if ev, err := st.Append(ctx, &eventing.Message{Topic: "t"}, time.Now()); err != nil || ev.Seq != 4 {
		t.Fatalf("append after reopen = %v, %v; want seq 4", ev, err)
	}
}

// Open refuses streams of another layout version.
func TestOpen_SchemaVersion(t *testing.T) {
	s := embedded(t)
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	if _, err := js.CreateStream(t.Context(), natsjs.StreamConfig{Name: "h_events", Subjects: []string{"h.ev.>"},
		Metadata: map[string]string{"herald_schema_version": "99"}}); err != nil {
		t.Fatal(err)
	}
	_, err = jetstream.Open(t.Context(), jetstream.Options{URLs: []string{s.URL()}, Prefix: "h"})
	if !errors.Is(err, jetstream.ErrSchemaVersion) {
		t.Fatalf("Open = %v; want ErrSchemaVersion", err)
	}
}

// Two nodes on different servers of a cluster share one log: one sequence,
// and each node's watcher and head follow the other's appends.
func TestCluster_TwoNodesShareTheLog(t *testing.T) {
	c := cluster(t)
	ctx := t.Context()
	a := openStore(t, []string{c.Servers[0].URL()}, "h")
	b := openStore(t, []string{c.Servers[2].URL()}, "h")
	var mu sync.Mutex
	var seen []uint64
	b.Watch(func(evs []*eventing.Event) {
		mu.Lock()
		for _, ev := range evs {
			seen = append(seen, ev.Seq)
		}
		mu.Unlock()
	})
	const n = 50
	var wg sync.WaitGroup
	for _, st := range []*jetstream.Store{a, b} {
		wg.Go(func() {
			for i := range n {
				if _, err := st.Append(ctx, &eventing.Message{Topic: fmt.Sprint("t", i%2), Text: fmt.Sprint(i)}, time.Now()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "b to watch every event", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 2*n })
	for i, seq := range seen {
		if seq != uint64(i+1) {
			t.Fatalf("b watched %d at %d", seq, i)
		}
	}
	waitFor(t, "a's head", func() bool { return a.Head() == 2*n })
	evs, through, err := a.ReadEvents(ctx, 0, 1000, "t1")
	if err != nil || len(evs) != n || through != 2*n {
		t.Fatalf("a reads t1: %d events through %d, %v; want %d through %d", len(evs), through, err, n, 2*n)
	}
}

// Appends keep succeeding while the stream's leader changes, and a retried
// publish is stored once: the log holds exactly the appends acknowledged.
func TestCluster_AppendAcrossLeaderChange(t *testing.T) {
	c := cluster(t)
	ctx := t.Context()
	st := openStore(t, c.URLs(), "h")
	nc, err := nats.Connect(c.Servers[1].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const publishers, each = 8, 60
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		acks = map[uint64]bool{}
	)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				ev, err := st.Append(ctx, &eventing.Message{Topic: "t", Text: fmt.Sprint(p, "/", i)}, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acks[ev.Seq] = true
				mu.Unlock()
			}
		})
	}
	for range 2 {
		time.Sleep(100 * time.Millisecond) // let appends be in flight
		if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.h_events", nil, 5*time.Second); err != nil {
			t.Fatalf("step down: %v", err)
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	evs, _, err := st.ReadEvents(ctx, 0, 10*publishers*each, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != publishers*each || len(acks) != publishers*each {
		t.Fatalf("log holds %d events, %d acknowledged; want %d each", len(evs), len(acks), publishers*each)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || !acks[ev.Seq] {
			t.Fatalf("event %d at %d (acknowledged: %v)", ev.Seq, i, acks[ev.Seq])
		}
	}
}

// While the stream's leader does not answer the API, a read of the log
// still returns the events the direct gets found, through the last of
// them: a subscription catching up goes on delivering. Only the end of
// the log waits for the leader's word (a follower may lag behind it).
func TestReadEvents_WithoutTheLeadersAnswer(t *testing.T) {
	srv := embedded(t)
	st := openStore(t, []string{srv.URL()}, "rd")
	ctx := t.Context()
	for i := range 5 {
		if _, err := st.Append(ctx, &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st.DeafLeader(true)
	evs, through, err := st.ReadEvents(ctx, 0, 100, "t")
	if err != nil || len(evs) != 5 || through != 5 {
		t.Fatalf("ReadEvents with the leader deaf = %d events through %d, %v; want the 5 events through 5", len(evs), through, err)
	}
	// An event of another topic: the direct gets find none of "t" after
	// 5, and only the leader can say that there is none.
	if _, err := st.Append(ctx, &eventing.Message{Topic: "u", Text: "other"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if evs, _, err := st.ReadEvents(ctx, 5, 100, "t"); err == nil {
		t.Fatalf("ReadEvents to the end with the leader deaf = %d events, no error; want an error (the end is the leader's to say)", len(evs))
	}
	st.DeafLeader(false)
	if evs, through, err := st.ReadEvents(ctx, 5, 100, "t"); err != nil || len(evs) != 0 || through != 6 {
		t.Fatalf("ReadEvents to the end = %d events through %d, %v; want none through 6", len(evs), through, err)
	}
}

// A listing whose watcher delivers nothing (an ordered consumer placed on
// a server that is still recovering) gives up on it after a stall and
// lists again with a new one, instead of waiting as long as the consumer
// does: a node taking partitions over after a kill waited 10 s so. A
// listing whose every watcher stalls fails, and its caller tries again.
func TestList_ReplacesAStalledWatcher(t *testing.T) {
	srv := embedded(t)
	st := openStore(t, []string{srv.URL()}, "ls")
	sub := createSubs(t, st, "ls", 1)[0]
	if err := st.SavePartitionStates(t.Context(), nil, map[string]*eventing.DeliveryState{sub.ID: {Cursor: 3, Pending: true}}); err != nil {
		t.Fatal(err)
	}
	st.StallLists(1, 200*time.Millisecond)
	_, states, err := st.PartitionStates(t.Context(), []int{0}, 1)
	if err != nil || states[sub.ID] == nil || states[sub.ID].Cursor != 3 {
		t.Fatalf("PartitionStates after one stalled watcher = %v, %v; want the state with cursor 3", states, err)
	}
	st.StallLists(100, 200*time.Millisecond)
	if _, _, err := st.PartitionStates(t.Context(), []int{0}, 1); err == nil || !strings.Contains(err.Error(), "delivered nothing") {
		t.Fatalf("PartitionStates with every watcher stalled: %v; want the stall", err)
	}
}

package jetstream_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/jetstream"
)

// seen collects the sequence numbers a Store's watcher delivers.
type seen struct {
	mu   sync.Mutex
	seqs map[uint64]int
	last atomic.Uint64
}

func watchAll(st *jetstream.Store) *seen {
	s := &seen{seqs: map[uint64]int{}}
	st.Watch(func(evs []*eventing.Event) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, ev := range evs {
			s.seqs[ev.Seq]++
			s.last.Store(ev.Seq)
		}
	})
	return s
}

// missing returns how many of 1..head the watcher has not delivered, and
// how many it delivered more than once.
func (s *seen) missing(head uint64) (missing, repeated int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := uint64(1); seq <= head; seq++ {
		switch n := s.seqs[seq]; {
		case n == 0:
			missing++
		case n > 1:
			repeated++
		}
	}
	return missing, repeated
}

// streamLeader names the server of c that leads stream ("" while none
// does).
func streamLeader(c *jetstream.Cluster, stream string) string {
	for _, s := range c.Servers {
		if s.IsStreamLeader(stream) {
			return s.Name()
		}
	}
	return ""
}

// stepDown asks the stream's leader to hand over to the server named to.
func stepDown(t *testing.T, url, stream, to string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, to)
	for range 20 {
		if _, err = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, []byte(req), 5*time.Second); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("step down: %v", err)
}

// A node's event watcher goes on delivering every event, each once, when
// the server its connection is on, which also leads the event stream, is
// killed while another node appends. This is the failure that left a
// surviving Herald node without events for good: nats.go's ordered
// consumer did not come back after the reconnect.
func TestWatch_SurvivesItsServersDeath(t *testing.T) {
	c := cluster(t)
	ctx := t.Context()
	watching := openStore(t, c.URLs(), "h")
	got := watchAll(watching)
	victim := watching.ConnectedServer()
	leader := streamLeader(c, "h_events")
	if leader != victim {
		stepDown(t, c.Servers[0].URL(), "h_events", victim)
		for leader = ""; leader == ""; time.Sleep(50 * time.Millisecond) {
			leader = streamLeader(c, "h_events")
		}
	}
	var keep, kill *jetstream.Server
	for _, s := range c.Servers {
		switch {
		case s.Name() == victim:
			kill = s
		case keep == nil:
			keep = s
		}
	}
	t.Logf("watcher connected to %s, stream leader %s", victim, leader)
	appending := openStore(t, []string{keep.URL()}, "h")

	var (
		head    atomic.Uint64
		stop    = make(chan struct{})
		appends sync.WaitGroup
	)
	for p := range 4 {
		appends.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ev, err := appending.Append(ctx, &eventing.Message{Topic: "t", Text: fmt.Sprint(p, "/", i)}, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				for h := head.Load(); ev.Seq > h && !head.CompareAndSwap(h, ev.Seq); h = head.Load() {
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	kill.Shutdown()
	time.Sleep(8 * time.Second)
	close(stop)
	appends.Wait()
	if t.Failed() {
		return
	}
	want := head.Load()
	deadline := time.Now().Add(30 * time.Second)
	for got.last.Load() < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	missing, repeated := got.missing(want)
	t.Logf("%d events appended, last watched %d, %d missing, %d repeated", want, got.last.Load(), missing, repeated)
	if missing > 0 || repeated > 0 {
		t.Fatalf("the watcher missed %d and repeated %d of %d events", missing, repeated, want)
	}
}

// A watcher whose consumer stops delivering without an error is replaced
// by its guard once it has delivered nothing for WatchStall while the
// stream holds more, and the new consumer starts after the last event
// delivered: every event reaches the watchers once, in order.
func TestWatch_GuardReplacesAStalledConsumer(t *testing.T) {
	srv := embedded(t)
	ctx := t.Context()
	st := openWith(t, jetstream.Options{URLs: []string{srv.URL()}, WatchStall: 500 * time.Millisecond})
	got := watchAll(st)
	var order []uint64
	var mu sync.Mutex
	st.Watch(func(evs []*eventing.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			order = append(order, ev.Seq)
		}
	})
	add := func(n int) uint64 {
		var last uint64
		for i := range n {
			ev, err := st.Append(ctx, &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			last = ev.Seq
		}
		return last
	}
	waitWatched := func(want uint64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for got.last.Load() < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got.last.Load() < want {
			t.Fatalf("watched through %d, want %d (consumers replaced: %d)", got.last.Load(), want, st.WatcherReplaced())
		}
	}
	waitWatched(add(20))
	st.StallWatcher()
	head := add(30)
	waitWatched(head)
	if st.WatcherReplaced() == 0 {
		t.Fatal("the events arrived without the guard replacing the consumer")
	}
	missing, repeated := got.missing(head)
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(order); i++ {
		if order[i] != order[i-1]+1 {
			t.Fatalf("watched %d after %d", order[i], order[i-1])
		}
	}
	if missing > 0 || repeated > 0 {
		t.Fatalf("missed %d, repeated %d of %d", missing, repeated, head)
	}
}

// A subscription watcher that stops delivering is replaced by its guard,
// and the replacement resumes after the last revision delivered: no
// change is lost or seen twice.
func TestWatchSubscriptions_GuardReplacesAStalledWatcher(t *testing.T) {
	srv := embedded(t)
	ctx := t.Context()
	a := openStore(t, []string{srv.URL()}, "wg")
	b := openWith(t, jetstream.Options{URLs: []string{srv.URL()}, Prefix: "wg", WatchStall: 500 * time.Millisecond})
	var mu sync.Mutex
	seen := map[string]int{}
	if err := b.WatchSubscriptions(ctx, 0, func(id string, sub *eventing.Subscription) {
		mu.Lock()
		defer mu.Unlock()
		if sub != nil {
			seen[id]++
		}
	}); err != nil {
		t.Fatal(err)
	}
	create := func(from, to int) {
		for i := from; i < to; i++ {
			sub := &eventing.Subscription{ID: fmt.Sprintf("uuid:g%d", i), Processor: "test", Message: "<x/>", Created: time.Now()}
			if _, err := a.CreateSubscription(ctx, sub); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	create(0, 5)
	waitFor(t, "the first changes", func() bool { return count() == 5 })
	b.StallSubscriptionWatch()
	create(5, 15)
	waitFor(t, "the changes after the stall", func() bool { return count() == 15 })
	if b.SubscriptionWatchReplaced() == 0 {
		t.Fatal("the changes arrived without the guard replacing the watcher")
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", id, n)
		}
	}
}

// TestWatch_FollowsStreamLeader checks that the watcher's consumer is
// moved to the stream leader, again after the leader changed, and that
// the watchers get every event once and in order across the moves.
func TestWatch_FollowsStreamLeader(t *testing.T) {
	c := cluster(t)
	st := openStore(t, c.URLs(), "w")
	var mu sync.Mutex
	var seen []uint64
	st.Watch(func(evs []*eventing.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			seen = append(seen, ev.Seq)
		}
	})
	leader := func() string { return streamLeader(c, "w_events") }
	// placed moves the watcher until it is on the leader (each check
	// lands there with a probability of 1 - (2/3)^8).
	placed := func() {
		t.Helper()
		for range 10 {
			if err := st.PlaceWatch(); err != nil {
				t.Fatal(err)
			}
			on, err := st.WatchServer(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if l := leader(); on == l && l != "" {
				return
			}
		}
		t.Fatal("the watcher is not on the stream leader after 10 checks")
	}
	var next int
	appendSome := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		for range n {
			next++
			text := fmt.Sprint(next)
			wg.Go(func() {
				if _, err := st.Append(t.Context(), &eventing.Message{Topic: "t", Text: text}, time.Now()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	placed()
	appendSome(100)
	nc, err := nats.Connect(strings.Join(c.URLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	old := leader()
	if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.w_events", nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new stream leader", func() bool { l := leader(); return l != "" && l != old })
	// Moves overlap the appends: the new feed starts below what the
	// old one is still delivering.
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendSome(100)
	}()
	placed()
	<-done
	want := make([]uint64, next)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	var got []uint64
	waitFor(t, "the watchers to get every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		got = slices.Clone(seen)
		return len(got) >= len(want)
	})
	if !slices.Equal(got, want) {
		t.Fatalf("watchers got %v; want 1…%d once each, in order", got, next)
	}
}

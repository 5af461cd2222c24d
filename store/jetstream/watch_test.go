package jetstream_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/jetstream"
)

// TestWatch_FollowsStreamLeader checks that the watcher's consumer is
// moved to the stream leader, again after the leader changed, and that
// the watchers get every event once and in order across the moves.
func TestWatch_FollowsStreamLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster")
	}
	c, err := jetstream.StartCluster(t.Context(), t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
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
	leader := func() string {
		for _, s := range c.Servers {
			if s.IsStreamLeader("w_events") {
				return s.Name()
			}
		}
		return ""
	}
	// placed moves the watcher until it is on the leader (each check
	// lands there with a probability of 1 - (2/3)^8).
	placed := func() {
		t.Helper()
		for range 10 {
			if err := st.PlaceWatch(t.Context()); err != nil {
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

package eventing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// stuckFilter never returns until released: the worst a filter can do.
type stuckFilter struct {
	entered chan struct{}
	release chan struct{}
}

func (f *stuckFilter) Match(*eventing.Event) (bool, error) {
	select {
	case f.entered <- struct{}{}:
	default:
	}
	<-f.release
	return false, nil
}

// recorder is an endpoint that records the events delivered to it.
type recorder chan string

func (r recorder) Key() string { return "" }
func (r recorder) Deliver(_ context.Context, n *eventing.Notification) error {
	r <- n.Event.Text
	return nil
}

// A filter that never returns holds up its own subscription and nothing
// else: the healthy subscription beside it gets every event, and adding a
// subscription does not wait for it.
func TestDispatcher_AStuckFilterDelaysNoOtherSubscription(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := eventing.NewDispatcher(db, nil, nil, eventing.DispatcherOptions{Workers: 4})
	stuck := &stuckFilter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	healthy := make(recorder, 16)
	topic, err := eventing.CompileFilter(eventing.TopicFilter("t"))
	if err != nil {
		t.Fatal(err)
	}
	d.Add(&eventing.Subscription{ID: "uuid:stuck"}, stuck, make(recorder, 16))
	d.Add(&eventing.Subscription{ID: "uuid:healthy", Filter: eventing.TopicFilter("t")}, topic, healthy)
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(stuck.release)
		d.Shutdown(context.Background())
	}()
	for i := range 5 {
		if _, err := db.Append(t.Context(), &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	<-stuck.entered // the stuck filter holds its worker from here on
	for i := range 5 {
		select {
		case got := <-healthy:
			if got != fmt.Sprint(i) {
				t.Fatalf("healthy got %s; want %d", got, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the healthy subscription got %d of 5 events while another's filter was stuck", i)
		}
	}
	added := make(chan struct{})
	go func() {
		d.Add(&eventing.Subscription{ID: "uuid:late", Filter: eventing.TopicFilter("t")}, topic, make(recorder, 16))
		close(added)
	}()
	select {
	case <-added:
	case <-time.After(10 * time.Second):
		t.Fatal("adding a subscription waited for another's filter")
	}
}

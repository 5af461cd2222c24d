package eventing_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/jetstream"
)

// clusterNode is a Service on its own Store of a shared JetStream
// prefix, partitioned, with the subscription watch wired as serve does.
func clusterNode(t *testing.T, url string) *eventing.Service {
	t.Helper()
	registerPost()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := jetstream.Open(ctx, jetstream.Options{URLs: []string{url}, Prefix: "cl"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rev, err := st.SubscriptionsRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := eventing.NewService(t.Context(), eventing.Options{Store: st, Dispatcher: eventing.DispatcherOptions{
		Partitions: 1, Schedule: []time.Duration{}, FlushInterval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	if err := st.WatchSubscriptions(t.Context(), rev+1, func(id string, sub *eventing.Subscription) {
		svc.SubscriptionChanged(t.Context(), id, sub)
	}); err != nil {
		t.Fatal(err)
	}
	return svc
}

// Two nodes on one store, one holding the only partition: a subscription
// made on the other is delivered by the holder, an operator's replay
// through the other reaches the holder, and an unsubscribe through the
// other stops the holder's deliveries.
func TestCluster_ChangesThroughAnotherNode(t *testing.T) {
	srv, err := jetstream.Embedded(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	holder, other := clusterNode(t, srv.URL()), clusterNode(t, srv.URL())
	if err := holder.Dispatcher().Acquire(t.Context(), []int{0}); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, eventing.SystemClock{})
	s.status = func(n int) (int, http.Header) {
		if n == 0 {
			return 500, nil // the first attempt fails for good (no retries): a dead letter
		}
		return 200, nil
	}
	g, err := other.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(s.URL), Filter: eventing.TopicFilter("t")})
	if err != nil {
		t.Fatal(err)
	}
	id := g.Subscription.ID
	waitFor(t, "the holder to learn of the subscription", func() bool { _, ok := holder.Dispatcher().State(id); return ok })
	if _, err := other.Publish(t.Context(), &eventing.Message{Topic: "t", Text: "one"}); err != nil {
		t.Fatal(err)
	}
	if d := s.next(t); d.text != "one" {
		t.Fatalf("first delivery %q", d.text)
	}
	waitFor(t, "a dead letter", func() bool { dl, _ := other.DeadLetters(t.Context(), id); return len(dl) == 1 })
	if n, err := other.Replay(t.Context(), id, time.Time{}); err != nil || n != 1 {
		t.Fatalf("Replay through the other node = %d, %v", n, err)
	}
	if d := s.next(t); d.text != "one" {
		t.Fatalf("replayed delivery %q", d.text)
	}
	if err := other.Unsubscribe(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the holder to drop the subscription", func() bool { _, ok := holder.Dispatcher().State(id); return !ok })
}

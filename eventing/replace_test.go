package eventing_test

import (
	"context"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// gate is an endpoint that reports each delivery and holds it until
// released.
type gate struct {
	got     chan string
	release chan struct{}
}

func (g *gate) Key() string { return "" }
func (g *gate) Deliver(_ context.Context, n *eventing.Notification) error {
	g.got <- n.Event.Topic + ":" + n.Event.Text
	<-g.release
	return nil
}

// Candidates queued for an XPath filter are checked with the filter that
// replaced it, even when that is a topic filter: nothing that matches
// neither is delivered.
func TestReplace_QueuedCandidatesAreCheckedWithTheNewFilter(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	spec := &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: "/m:message[contains(m:text, 'match')]", Namespaces: map[string]string{"m": eventing.MessageNS}}
	sub := e.subscribe(t, "http://x.example/", spec, nil)
	f, err := eventing.CompileFilter(spec)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{got: make(chan string, 100), release: make(chan struct{})}
	e.svc.Dispatcher().Replace(sub, f, g)
	e.publish(t, "t", "match-0")
	if got := <-g.got; got != "t:match-0" {
		t.Fatal(got)
	}
	// While that delivery is held: events that match neither filter.
	var last uint64
	for range 3 {
		last = e.publish(t, "x", "nomatch")
	}
	waitFor(t, "the matcher to queue them", func() bool {
		m, _ := e.svc.Dispatcher().Matched()
		return m >= last
	})
	ns := *sub
	ns.Filter = eventing.TopicFilter("y")
	tf, _ := eventing.CompileFilter(ns.Filter)
	e.svc.Dispatcher().Replace(&ns, tf, g)
	e.publish(t, "y", "after")
	close(g.release)
	select {
	case got := <-g.got:
		if got != "y:after" {
			t.Fatalf("delivered %q after the filter became topic y; want y:after", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("y:after was not delivered")
	}
}

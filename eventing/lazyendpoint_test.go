package eventing

import (
	"context"
	"testing"
)

type countedEndpoint struct{ key string }

func (c countedEndpoint) Deliver(context.Context, *Notification) error { return nil }
func (c countedEndpoint) Key() string                                  { return c.key }

// The cache keeps at most its size of parsed endpoints; a dropped one is
// parsed again on its next use.
func TestEndpointCache_BoundsTheParsedEndpoints(t *testing.T) {
	cache := newEndpointCache(2)
	loads := map[string]int{}
	load := func(id, _ string) Endpoint {
		loads[id]++
		return countedEndpoint{id}
	}
	eps := make([]*lazyEndpoint, 5)
	for i := range eps {
		eps[i] = cache.endpoint(load, string(rune('a'+i)), "soap")
		if k := eps[i].Key(); k != eps[i].id {
			t.Fatalf("key %q; want %q", k, eps[i].id)
		}
	}
	parsed := 0
	for _, l := range eps {
		if l.ep != nil {
			parsed++
		}
	}
	if parsed > 2 {
		t.Fatalf("%d endpoints parsed; want at most the cache's 2", parsed)
	}
	eps[0].Key()
	if loads["a"] != 2 {
		t.Fatalf("a loaded %d times; want 2 (dropped, then parsed again)", loads["a"])
	}
}

type pulledEndpoint struct{ countedEndpoint }

func (pulledEndpoint) Pulled() {}

// A new subscription is handed to the dispatcher without its parsed
// endpoint (nor a place in the cache) until it delivers: its first use
// parses the stored record. A pull endpoint stays as it is.
func TestUnparsed_NewSubscriptionKeepsNoParsedEndpoint(t *testing.T) {
	loads := 0
	d := &Dispatcher{endpoints: newEndpointCache(4)}
	d.hooks.reload = func(id, _ string) Endpoint {
		loads++
		return countedEndpoint{"reloaded-" + id}
	}
	s := &Service{dispatcher: d}
	sub := &Subscription{ID: "uuid:n", Processor: "soap", Message: "<x/>"}
	kept, ep := s.unparsed(sub, countedEndpoint{"parsed"})
	l, ok := ep.(*lazyEndpoint)
	if !ok || l.ep != nil || len(d.endpoints.entries) != 0 {
		t.Fatalf("unparsed gave %#v with %d cached; want a lazy endpoint, unparsed, none cached", ep, len(d.endpoints.entries))
	}
	// The dispatcher keeps a record that comes with a lazy endpoint as it
	// is: it must come trimmed.
	if kept.Message != "" || kept.ID != sub.ID || sub.Message == "" {
		t.Fatalf("the dispatcher's record keeps Message %q (id %q); the caller's %q; want it trimmed from a copy", kept.Message, kept.ID, sub.Message)
	}
	if k := l.Key(); k != "reloaded-uuid:n" || loads != 1 || len(d.endpoints.entries) != 1 {
		t.Fatalf("first use: key %q, %d loads, %d cached; want the record's endpoint, 1, 1", k, loads, len(d.endpoints.entries))
	}
	pull := pulledEndpoint{countedEndpoint{"pull"}}
	if _, ep := s.unparsed(sub, pull); ep != Endpoint(pull) {
		t.Fatalf("a pull endpoint became %T", ep)
	}
}

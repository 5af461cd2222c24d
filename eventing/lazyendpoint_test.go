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
		eps[i] = &lazyEndpoint{load: load, id: string(rune('a' + i)), cache: cache}
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

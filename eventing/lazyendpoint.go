package eventing

import (
	"context"
	"log/slog"
	"sync"
)

// Stored subscriptions' endpoints are parsed lazily: a start reads the
// records and lets delivery begin without parsing every subscription's XML
// (61–90 µs each), and an endpoint that has not delivered for a while is
// dropped again, so that memory holds the parsed endpoints of the
// subscriptions that are delivering, not of all of them.
//
// A processor's endpoints are assumed to be all pull endpoints or none
// (the dispatcher must know a pull subscription when it is added): the
// first stored subscription of each processor is parsed at once and
// decides; those of a processor that returns pull endpoints are parsed at
// once too.

// endpointCacheSize bounds the parsed endpoints kept for lazy endpoints.
const endpointCacheSize = 16384

// A lazyEndpoint parses a subscription's endpoint on first use, and again
// after the cache dropped it. The dispatcher's copy of the subscription
// does not keep its Message (the bulk of a record): load reads the record
// back to parse it. Subscriptions made while Herald runs get one too, with
// the endpoint their Subscribe parsed already in place.
type lazyEndpoint struct {
	src *lazySource
	id  string

	mu   sync.Mutex
	used bool // since the cache last looked (second chance)
	ep   Endpoint
}

// A lazySource is what the lazy endpoints of one processor share (one
// pointer each instead of three fields: a million of them stay in memory).
type lazySource struct {
	load      func(id, processor string) Endpoint
	processor string
	cache     *endpointCache
}

func (l *lazyEndpoint) get() Endpoint {
	l.mu.Lock()
	ep := l.ep
	fresh := ep == nil
	if fresh {
		ep = l.src.load(l.id, l.src.processor)
		if _, broken := ep.(brokenEndpoint); !broken {
			l.ep = ep
		} else {
			// A record that could not be read now (a store hiccup) is
			// read again at the next attempt, not remembered as broken.
			fresh = false
		}
	}
	l.used = true
	l.mu.Unlock()
	if fresh {
		l.src.cache.add(l)
	}
	return ep
}

// Deliver parses the endpoint if needed and delivers through it.
func (l *lazyEndpoint) Deliver(ctx context.Context, n *Notification) error {
	return l.get().Deliver(ctx, n)
}

// Key returns the parsed endpoint's key.
func (l *lazyEndpoint) Key() string { return l.get().Key() }

// drop forgets the parsed endpoint unless it was used since the last look;
// it reports whether it did.
func (l *lazyEndpoint) drop() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used {
		l.used = false
		return false
	}
	l.ep = nil
	return true
}

// An endpointCache holds at most size lazy endpoints parsed, and drops the
// least recently used beyond that (the clock algorithm: each gets a second
// chance when it was used since the hand last passed).
type endpointCache struct {
	size    int
	mu      sync.Mutex
	entries []*lazyEndpoint
	hand    int
	sources map[string]*lazySource // by processor
}

func newEndpointCache(size int) *endpointCache { return &endpointCache{size: size} }

// endpoint returns a lazy endpoint, unparsed, of subscription id of
// processor, which load parses.
func (c *endpointCache) endpoint(load func(id, processor string) Endpoint, id, processor string) *lazyEndpoint {
	c.mu.Lock()
	src := c.sources[processor]
	if src == nil {
		if c.sources == nil {
			c.sources = map[string]*lazySource{}
		}
		src = &lazySource{load: load, processor: processor, cache: c}
		c.sources[processor] = src
	}
	c.mu.Unlock()
	return &lazyEndpoint{src: src, id: id}
}

// add records l as parsed, dropping others to stay within the size.
func (c *endpointCache) add(l *lazyEndpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) < c.size {
		c.entries = append(c.entries, l)
		return
	}
	// l.mu is never held while c.mu is taken (get adds after unlocking),
	// so taking it here under c.mu cannot deadlock.
	for range 2 * len(c.entries) {
		victim := c.entries[c.hand]
		if victim.drop() {
			c.entries[c.hand] = l
			c.hand = (c.hand + 1) % len(c.entries)
			return
		}
		c.hand = (c.hand + 1) % len(c.entries)
	}
	// Every one was used twice round: replace the one under the hand.
	c.entries[c.hand].mu.Lock()
	c.entries[c.hand].ep = nil
	c.entries[c.hand].mu.Unlock()
	c.entries[c.hand] = l
	c.hand = (c.hand + 1) % len(c.entries)
}

// storedEndpoint returns the endpoint of a stored subscription for the
// dispatcher: lazy, unless sub's processor gives pull endpoints (see
// above). pullProcs remembers each processor's answer.
func (s *Service) storedEndpoint(ctx context.Context, sub *Subscription, pullProcs map[string]bool, cache *endpointCache) Endpoint {
	pull, known := pullProcs[sub.Processor]
	if !known || pull {
		ep := s.restore(ctx, sub)
		if _, broken := ep.(brokenEndpoint); !broken && !known {
			_, pull = ep.(PullEndpoint)
			pullProcs[sub.Processor] = pull
		}
		return ep
	}
	// The record's Message is read back when the endpoint is parsed.
	sub.Trim()
	return cache.endpoint(s.reload, sub.ID, sub.Processor)
}

// reload is the lazy endpoints' load: the stored record, parsed again.
func (s *Service) reload(id, processor string) Endpoint {
	return s.restoreByID(context.Background(), id, processor)
}

// unparsed returns what a new subscription is handed to the dispatcher
// with: its record without what Trim drops, and a lazy endpoint
// without ep, which its first delivery parses again from the record, like
// a stored subscription's. A flood of subscribes would otherwise fill the
// endpoint cache with endpoints that have delivered nothing (16,384 of
// them, about 120 bytes a subscription at 50,000). Pull endpoints, and a
// dispatcher without lazy endpoints, keep both as they are (the
// dispatcher's compact decides for them).
func (s *Service) unparsed(sub *Subscription, ep Endpoint) (*Subscription, Endpoint) {
	return s.dispatcher.lazy(sub, ep, false)
}

// compact returns what the dispatcher keeps of a subscription made while
// it runs: a copy without the Message, and ep behind a lazy endpoint in
// the cache, so that a million subscriptions do not keep a million parsed
// endpoints. Pull endpoints, endpoints already lazy, and a dispatcher
// without a reload hook keep them as they are.
func (d *Dispatcher) compact(sub *Subscription, ep Endpoint) (*Subscription, Endpoint) {
	return d.lazy(sub, ep, true)
}

// lazy is compact (keep: ep stays parsed, in the cache) and unparsed
// (ep is dropped and parsed again on first delivery).
func (d *Dispatcher) lazy(sub *Subscription, ep Endpoint, keep bool) (*Subscription, Endpoint) {
	if d.hooks.reload == nil || d.endpoints == nil {
		return sub, ep
	}
	switch ep.(type) {
	case PullEndpoint, *lazyEndpoint, brokenEndpoint:
		return sub, ep
	}
	cp := *sub
	cp.Trim()
	l := d.endpoints.endpoint(d.hooks.reload, sub.ID, sub.Processor)
	if keep {
		l.ep, l.used = ep, true
		d.endpoints.add(l)
	}
	return &cp, l
}

// compactRecord returns the copy of sub the dispatcher keeps (without
// its Message when endpoints are lazy).
func (d *Dispatcher) compactRecord(sub *Subscription) *Subscription {
	if d.hooks.reload == nil || sub.Message == "" {
		return sub
	}
	cp := *sub
	cp.Trim()
	return &cp
}

// restoreByID reads subscription id back from the store and rebuilds its
// endpoint (restore); a record that cannot be read gives an endpoint whose
// deliveries fail with the reason, and are retried.
func (s *Service) restoreByID(ctx context.Context, id, processor string) Endpoint {
	sub, err := s.store.Subscription(ctx, id)
	if err != nil {
		s.logger.Error("stored subscription cannot be read", slog.String("subscription_id", id), slog.String("processor", processor), slog.Any("err", err))
		return brokenEndpoint{err}
	}
	return s.restore(ctx, sub)
}

package eventing

import (
	"container/heap"
	"time"
)

// Lease expiry: which subscriptions the sweeper must reclaim. Lease ends
// are kept in a min-heap, so that a sweep costs O(the leases that ended),
// not a scan of every subscription. An entry is stale when its
// subscription's lease moved (a renewal pushes a new entry) or the
// subscription went (its expiry no longer equals the entry's time); stale
// entries are dropped when they come due, or all at once when they are the
// majority, so the heap holds at most twice the leases.

// A subState keeps the lease end queued for it in 12 bytes instead of
// time.Time's 24: Unix seconds, and nanoseconds plus one, so that zero in
// both is the zero time. The Dispatcher's expiryMu must be held.

func (s *subState) setExpiry(t time.Time) {
	if t.IsZero() {
		s.expirySec, s.expiryNsec = 0, 0
		return
	}
	s.expirySec, s.expiryNsec = t.Unix(), int32(t.Nanosecond())+1
}

// expiryIs reports whether the lease end queued for s is t (time.Time's
// Equal).
func (s *subState) expiryIs(t time.Time) bool {
	if t.IsZero() {
		return s.expiryNsec == 0
	}
	return s.expirySec == t.Unix() && s.expiryNsec == int32(t.Nanosecond())+1
}

// An expiryEntry is one lease end in the heap.
type expiryEntry struct {
	at time.Time
	s  *subState
}

// expiryHeap orders lease ends, earliest first (container/heap).
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiryEntry{}
	*h = old[:len(old)-1]
	return e
}

// Expired returns the subscriptions whose lease has ended at now, each
// once: the caller reclaims them, or calls RecheckExpiry for one it could
// not. It costs O(the lease ends that came due), whatever the number of
// subscriptions.
func (d *Dispatcher) Expired(now time.Time) []*Subscription {
	var due []expiryEntry
	d.expiryMu.Lock()
	for len(d.expiries) > 0 && !now.Before(d.expiries[0].at) {
		e := heap.Pop(&d.expiries).(expiryEntry)
		if !e.s.expiryIs(e.at) {
			d.expiryStale-- // the lease moved, or the subscription went
			continue
		}
		e.s.setExpiry(time.Time{})
		due = append(due, e)
	}
	d.expiryMu.Unlock()
	var out []*Subscription
	for _, e := range due {
		e.s.mu.Lock()
		sub, removed, parked := e.s.sub, e.s.removed, e.s.parked
		e.s.mu.Unlock()
		switch {
		case removed:
		case parked:
			// Another node holds its partition and ends it; should that
			// node not, this one does once it holds the partition.
			d.noteExpiry(e.s, now.Add(time.Minute))
		case sub.Expired(now):
			out = append(out, sub)
		default:
			// The record moved on without a note (it cannot, but a lost
			// lease end would never be swept): queue it again.
			d.noteExpiry(e.s, sub.Expires)
		}
	}
	return out
}

// RecheckExpiry queues the lease end of subscription id again, for a sweep
// that could not reclaim it (a store error): the next sweep tries again.
func (d *Dispatcher) RecheckExpiry(id string) {
	s := d.state(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	exp := s.sub.Expires
	s.mu.Unlock()
	d.noteExpiry(s, exp)
}

// noteExpiry records s's lease end t for Expired (a zero t: no lease).
func (d *Dispatcher) noteExpiry(s *subState, t time.Time) {
	d.expiryMu.Lock()
	defer d.expiryMu.Unlock()
	if s.expiryIs(t) {
		return
	}
	d.dropExpiry(s)
	if t.IsZero() {
		return
	}
	s.setExpiry(t)
	heap.Push(&d.expiries, expiryEntry{at: t, s: s})
}

// dropExpiry makes s's entry in the heap stale, and drops every stale
// entry once they are the majority; d.expiryMu must be held.
func (d *Dispatcher) dropExpiry(s *subState) {
	if s.expiryNsec == 0 {
		return
	}
	s.setExpiry(time.Time{})
	d.expiryStale++
	if n := len(d.expiries); n < 1024 || 2*d.expiryStale < n {
		return
	}
	keep := d.expiries[:0]
	for _, e := range d.expiries {
		if e.s.expiryIs(e.at) {
			keep = append(keep, e)
		}
	}
	clear(d.expiries[len(keep):])
	d.expiries = keep
	d.expiryStale = 0
	heap.Init(&d.expiries)
}

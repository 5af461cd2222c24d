package eventing

import (
	"time"
)

// Lease expiry: which subscriptions the sweeper must reclaim.

// Expired returns the subscriptions whose lease has ended at now. It scans
// only when the earliest lease end it knows of has come, so that many
// subscriptions without a lease, or with long ones, cost nothing.
func (d *Dispatcher) Expired(now time.Time) []*Subscription {
	d.expiryMu.Lock()
	due := !d.earliest.IsZero() && !now.Before(d.earliest)
	gen := d.expiryNotes
	d.expiryMu.Unlock()
	if !due {
		return nil
	}
	var out []*Subscription
	var earliest time.Time // over every lease, the ended ones too until they are gone
	d.mu.RLock()
	for _, s := range d.subs {
		s.mu.Lock()
		sub := s.sub
		s.mu.Unlock()
		if sub.Expires.IsZero() {
			continue
		}
		if sub.Expired(now) {
			out = append(out, sub)
		}
		if earliest.IsZero() || sub.Expires.Before(earliest) {
			earliest = sub.Expires
		}
	}
	d.mu.RUnlock()
	d.expiryMu.Lock()
	if d.expiryNotes == gen || (!earliest.IsZero() && earliest.Before(d.earliest)) {
		d.earliest = earliest
	}
	d.expiryMu.Unlock()
	return out
}

// noteExpiry records a lease end for Expired.
func (d *Dispatcher) noteExpiry(t time.Time) {
	if t.IsZero() {
		return
	}
	d.expiryMu.Lock()
	if d.earliest.IsZero() || t.Before(d.earliest) {
		d.earliest = t
	}
	d.expiryNotes++
	d.expiryMu.Unlock()
}

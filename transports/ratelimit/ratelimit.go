// Package ratelimit holds one token bucket (golang.org/x/time/rate) per
// key: Herald limits each non-admin API key by its name (without
// authorization, on loopback, nothing is limited). Idle buckets are
// forgotten, so the memory it takes is bounded by the keys active within a
// refill period.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxIdleSweep is how many buckets the limiter holds before it forgets the
// full ones.
const maxIdleSweep = 10000

// A Limiter limits requests per key. A nil *Limiter allows everything.
type Limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns a limiter of perSecond requests a second per key, with
// bursts of burst (at least 1); nil (no limit) when perSecond <= 0. now is
// the clock (time.Now when nil).
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{limit: rate.Limit(perSecond), burst: max(burst, 1), now: now, buckets: map[string]*rate.Limiter{}}
}

// Allow takes one token from key's bucket; when there is none it returns
// false and how long until there is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxIdleSweep {
			l.sweep(now)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets the buckets that are full again: their clients have been
// idle for a refill period. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// Len returns how many buckets the limiter holds.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

package eventing

import (
	"context"
	"time"
)

// A Clock tells the time and runs functions later. Tests inject a fake one
// to check leases and backoff schedules without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// A Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the function from running; it reports whether it did.
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc calls time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Sleep waits d on clock, and reports false when ctx ended first. It is
// how Herald's periodic loops (the flusher, retention, the lease sweeper)
// pause, so that a test's clock drives them too.
func Sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	done := make(chan struct{})
	t := clock.AfterFunc(max(d, 0), func() { close(done) })
	select {
	case <-done:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

package eventing

import (
	"errors"
	"log/slog"
	"time"
)

// Attempt outcome: what one delivery attempt's result does to the
// subscription (next attempt, dead letter, failure limit).

// outcome records one attempt's result and decides what comes next.
func (d *Dispatcher) outcome(s *subState, ev *Event, n *Notification, err error, latency time.Duration) {
	if err != nil && d.deliverCtx.Err() != nil {
		// Shutdown cut the attempt short: it does not count, and the
		// event stays first in line for the next start.
		s.mu.Lock()
		s.retryFor(ev).attempts--
		s.mu.Unlock()
		return
	}
	now := d.clock.Now()
	status, retryAfter, permanent := deliveryDetails(err)
	exhausted := err != nil && (permanent || n.Attempt > len(d.opts.Schedule))
	att := Attempt{Time: now, Seq: ev.Seq, OK: err == nil, Status: status, Latency: latency}
	if err != nil {
		att.Error = err.Error()
	}
	if obs := d.opts.Observer; obs != nil {
		switch {
		case err == nil:
			obs.Attempted(n.Subscription.Processor, OutcomeDelivered, latency, now.Sub(ev.Received))
		case exhausted:
			obs.Attempted(n.Subscription.Processor, OutcomeDeadLetter, latency, 0)
		default:
			obs.Attempted(n.Subscription.Processor, OutcomeRetry, latency, 0)
		}
	}
	s.mu.Lock()
	if s.parked {
		// The partition went to another node while the attempt was in
		// flight: its outcome is the new holder's to find out again.
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	log := append(s.attempts(), att)
	s.logVersion++
	if len(log) > d.opts.LogSize {
		log = append(log[:0:0], log[len(log)-d.opts.LogSize:]...)
	}
	if s.log == nil {
		s.log = &log
	} else {
		*s.log = log
	}
	d.markLog(s)
	if s.removed {
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	if err == nil {
		replayed := s.popHead(ev)
		s.failures, s.failingSince = 0, time.Time{}
		s.scheduled = s.requeue(d)
		s.mu.Unlock()
		if replayed {
			if derr := d.dead.DeleteDeadLetter(d.ctx, s.id, ev.Seq); derr != nil && d.ctx.Err() == nil {
				d.logger.Error("cannot remove a replayed dead letter; it may be delivered again", slog.String("subscription_id", s.id), slog.Any("err", derr))
			}
		}
		return
	}
	s.failures++
	if s.failingSince.IsZero() {
		s.failingSince = now
	}
	logger := d.logger.With(slog.String("subscription_id", s.id), slog.Uint64("seq", ev.Seq), slog.Int("attempt", n.Attempt))
	failedOut := d.opts.FailureLimit > 0 && int(s.failures) >= d.opts.FailureLimit && now.Sub(s.failingSince) >= d.opts.FailureWindow
	sub := s.sub
	if !exhausted {
		delay := d.opts.Schedule[n.Attempt-1]
		delay = d.jitter(delay)
		if retryAfter > 0 {
			delay = min(retryAfter, d.opts.MaxRetryAfter)
		}
		s.retryFor(ev).next = now.Add(delay)
		s.mu.Unlock()
		logger.Warn("delivery failed; will retry", slog.Any("err", err), slog.Duration("retry_in", delay))
	} else {
		s.mu.Unlock()
		// The dead letter is durable before the cursor may pass the event.
		dl := &DeadLetter{Seq: ev.Seq, Received: ev.Received, Message: ev.Message, Attempts: n.Attempt, Error: err.Error(), Time: now}
		if derr := d.dead.AddDeadLetter(d.ctx, s.id, dl); derr != nil {
			if !errors.Is(derr, ErrNotFound) && d.ctx.Err() == nil {
				logger.Error("cannot store a dead letter; will retry the event", slog.Any("err", derr))
				s.mu.Lock()
				s.retryFor(ev).attempts--
				s.mu.Unlock()
				d.wait(s, now.Add(time.Second))
				return
			}
		} else {
			logger.Error("delivery failed for good; event moved to the dead letters", slog.Any("err", err))
		}
		s.mu.Lock()
		s.popHead(ev)
		s.mu.Unlock()
	}
	if failedOut && d.hooks.failed != nil {
		// The hook ends the subscription; if it could not, delivery
		// goes on as before rather than stopping silently.
		d.hooks.failed(sub, err.Error())
	}
	s.mu.Lock()
	if s.removed || s.parked {
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	var at time.Time
	if len(s.replay) > 0 || s.queue.len() > 0 {
		at = s.retryFor(s.head()).next
	}
	s.mu.Unlock()
	if now.Before(at) {
		d.wait(s, at)
		return
	}
	s.mu.Lock()
	s.scheduled = s.requeue(d)
	s.mu.Unlock()
}

// retryState is how often an event was attempted and when its next attempt
// is due (zero: now).
type retryState struct {
	attempts int
	next     time.Time
}

// retryFor returns the retry state of ev, the head: replayed dead letters
// keep theirs apart from the queued event they go ahead of; s.mu must be
// held.
func (s *subState) retryFor(ev *Event) *retryState {
	if len(s.replay) > 0 && s.replay[0] == ev {
		return &s.replayRetry
	}
	return &s.retry
}

// popHead drops ev, the head, after it was delivered or dead-lettered, and
// reports whether it was a replayed dead letter; s.mu must be held.
func (s *subState) popHead(ev *Event) (replayed bool) {
	switch {
	case len(s.replay) > 0 && s.replay[0] == ev:
		s.replay[0] = nil
		s.replay = s.replay[1:]
		s.replayRetry = retryState{}
		return true
	case s.queue.len() > 0 && s.queue.head() == ev:
		if s.queue.pop() == 0 {
			s.queue = nil
		}
		s.retry = retryState{}
		s.checked = false
	}
	return false
}

func (d *Dispatcher) jitter(delay time.Duration) time.Duration {
	if d.opts.Jitter == 0 || delay == 0 {
		return delay
	}
	f := 1 + d.opts.Jitter*(2*d.opts.Random()-1)
	return time.Duration(float64(delay) * f)
}

// An eventQueue holds a subscription's matched events not yet delivered,
// in order. A subState points to one only while it has events (a nil
// queue is empty), so that an idle subscription keeps 8 bytes for it, not
// a slice's 24.
type eventQueue struct{ evs []*Event }

func (q *eventQueue) len() int {
	if q == nil {
		return 0
	}
	return len(q.evs)
}

// head returns the oldest event; q must not be empty.
func (q *eventQueue) head() *Event { return q.evs[0] }

// push appends ev and returns the queue (a new one for a nil q).
func (q *eventQueue) push(ev *Event) *eventQueue {
	if q == nil {
		q = &eventQueue{}
	}
	q.evs = append(q.evs, ev)
	return q
}

// pop drops the oldest event and returns how many are left; q must not be
// empty.
func (q *eventQueue) pop() int {
	q.evs[0] = nil
	q.evs = q.evs[1:]
	return len(q.evs)
}

// attempts returns s's delivery log (nil when empty); s.mu must be held.
func (s *subState) attempts() []Attempt {
	if s.log == nil {
		return nil
	}
	return *s.log
}

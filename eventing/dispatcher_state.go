package eventing

import (
	"context"
	"log/slog"
	"time"
)

// State persistence: cursors and retry state written behind delivery, and
// retention of the log below every cursor.

// restore applies a stored delivery state; the replayed dead letters must
// already be queued, so that a replay's retry state finds its head.
func (s *subState) restore(st *DeliveryState) {
	if st.Cursor > s.enqueued {
		s.enqueued = st.Cursor
	}
	s.saved = s.enqueued
	s.pullCursor = s.enqueued
	s.retry = retryState{attempts: st.Attempts, next: st.NextAttempt}
	if st.ReplaySeq != 0 && len(s.replay) > 0 && s.replay[0].Seq == st.ReplaySeq {
		s.replayRetry = retryState{attempts: st.ReplayAttempts, next: st.ReplayNext}
	}
	s.failures = st.Failures
	s.failingSince = st.FailingSince
	s.log = append([]Attempt(nil), st.Log...)
}

// OldestCursor returns the lowest saved delivery position among the
// subscriptions (the matcher's position when there are none).
func (d *Dispatcher) OldestCursor() uint64 {
	low := d.matched.Load()
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.subs {
		s.mu.Lock()
		low = min(low, s.saved)
		s.mu.Unlock()
	}
	return low
}

// AckPull records that the client of pull subscription id has everything
// up to cursor; the position never moves back.
func (d *Dispatcher) AckPull(id string, cursor uint64) {
	s := d.state(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	if cursor > s.pullCursor {
		s.pullCursor = cursor
		d.markDirty(s)
	}
	s.mu.Unlock()
}

// cursor returns the position up to which s is done; s.mu must be held.
// matched is the matcher's position read before taking s.mu.
func (s *subState) cursor(matched uint64) uint64 {
	if s.pull {
		return s.pullCursor
	}
	if len(s.queue) > 0 {
		return s.queue[0].Seq - 1
	}
	if s.live && matched > s.enqueued {
		return matched
	}
	return s.enqueued
}

func (d *Dispatcher) markDirty(s *subState) {
	d.dirtyMu.Lock()
	d.dirty[s] = struct{}{}
	d.dirtyMu.Unlock()
}

func (s *subState) state(matched uint64) *DeliveryState {
	st := &DeliveryState{
		Cursor: s.cursor(matched), Attempts: s.retry.attempts, NextAttempt: s.retry.next,
		Failures: s.failures, FailingSince: s.failingSince,
		Log: append([]Attempt{}, s.log...),
	}
	if len(s.replay) > 0 && s.replayRetry.attempts > 0 {
		st.ReplaySeq, st.ReplayAttempts, st.ReplayNext = s.replay[0].Seq, s.replayRetry.attempts, s.replayRetry.next
	}
	return st
}

func (d *Dispatcher) flushLoop() {
	defer d.wg.Done()
	tick := time.NewTicker(d.opts.FlushInterval)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-tick.C:
		}
		n++
		// Every 25th flush also saves the cursors that moved only
		// because the matcher passed events that did not match.
		if err := d.Flush(context.Background(), n%25 == 0); err != nil {
			d.logger.Error("cannot save delivery state", slog.Any("err", err))
		}
	}
}

// Flush writes the delivery state of subscriptions that changed; with all,
// also of those whose cursor moved only because the matcher passed events
// that did not match them.
func (d *Dispatcher) Flush(ctx context.Context, all bool) error {
	d.dirtyMu.Lock()
	dirty := d.dirty
	d.dirty = map[*subState]struct{}{}
	d.dirtyMu.Unlock()
	matched := d.matched.Load()
	states := map[string]*DeliveryState{}
	type position struct{ cursor, log uint64 }
	saved := map[*subState]position{}
	consider := func(s *subState, force bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.removed {
			return
		}
		if !force && s.cursor(matched) == s.saved && (!all || s.logVersion == s.logSaved) {
			return // nothing to write: most subscriptions, most of the time
		}
		st := s.state(matched)
		if !all {
			// The frequent flushes save positions and retry state; the
			// delivery log, the bulk of a state, goes with every full one.
			st.Log = nil
		}
		states[s.id] = st
		saved[s] = position{st.Cursor, s.logVersion}
	}
	for s := range dirty {
		consider(s, true)
	}
	if all {
		d.mu.RLock()
		for _, s := range d.subs {
			if _, done := dirty[s]; !done {
				consider(s, false)
			}
		}
		d.mu.RUnlock()
	}
	if len(states) == 0 {
		return nil
	}
	if err := d.states.SaveDeliveryStates(ctx, states); err != nil {
		d.dirtyMu.Lock()
		for s := range saved {
			d.dirty[s] = struct{}{}
		}
		d.dirtyMu.Unlock()
		return err
	}
	for s, p := range saved {
		s.mu.Lock()
		s.saved = p.cursor
		if all {
			s.logSaved = p.log
		}
		s.mu.Unlock()
	}
	return nil
}

func (d *Dispatcher) retentionLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(d.opts.RetentionInterval):
		}
		if _, err := d.Trim(d.ctx); err != nil && d.ctx.Err() == nil {
			d.logger.Error("cannot trim the event log", slog.Any("err", err))
		}
	}
}

// Trim deletes the events every subscription's saved cursor has passed that
// are older than the retention, and returns how many.
func (d *Dispatcher) Trim(ctx context.Context) (int, error) {
	low := d.matched.Load()
	d.mu.RLock()
	for _, s := range d.subs {
		s.mu.Lock()
		low = min(low, s.saved)
		s.mu.Unlock()
	}
	d.mu.RUnlock()
	n, err := d.log.Trim(ctx, low, d.clock.Now().Add(-d.opts.Retention))
	if n > 0 {
		d.logger.Info("event log trimmed", slog.Int("events", n), slog.Uint64("through", low))
	}
	return n, err
}

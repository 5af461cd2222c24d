package eventing

import (
	"context"
	"log/slog"
	"math"
)

// State persistence: cursors and retry state written behind delivery, and
// retention of the log below every cursor.
//
// Writes are proportional to change. One matched-through position, stored
// with every flush, is the position of every subscription with nothing
// pending; only a subscription that received, is retrying or is reading an
// event writes a state of its own, marked Pending while its cursor is its
// position. A flush writes the matched-through position plus the states of
// the subscriptions marked dirty since the last one, never one record per
// subscription, and retention looks only at the subscriptions whose stored
// state is their own position (own).
//
// Why the matched-through position M of a flush is safe: M is read before
// the flush takes the dirty set; the matcher queues an event to every live
// subscription it matches (marking one whose queue was empty dirty) before
// it moves matched past it. So every subscription that an event up to M
// reached is in the set, or was written as pending by an earlier flush and
// stays so until a flush finds its queue empty, that is, every such event
// delivered or dead-lettered. A subscription that is not live (reading the
// log) is pending. A new one is not in the set until Add puts it there;
// before, its creator holds M at or below its Start (HoldThrough), or the
// backend stores it with a pending state in the same transaction as its
// record (one that other nodes also write: see SubscriptionStore).

// restore applies a stored delivery state given the stored matched-through
// position, and reports whether the state's cursor is the subscription's
// own position (pending). The replayed dead letters must already be
// queued, so that a replay's retry state finds its head.
func (s *subState) restore(st *DeliveryState, through uint64) (own bool) {
	pos := st.Position(through)
	if s.pull {
		pos = st.Cursor
	}
	s.enqueued = max(s.enqueued, pos)
	s.saved = s.enqueued
	s.pullCursor = s.enqueued
	s.retry = retryState{attempts: st.Attempts, next: st.NextAttempt}
	if st.ReplaySeq != 0 && len(s.replay) > 0 && s.replay[0].Seq == st.ReplaySeq {
		s.replayRetry = retryState{attempts: st.ReplayAttempts, next: st.ReplayNext}
	}
	s.failures = int32(min(st.Failures, math.MaxInt32))
	s.failingSince = st.FailingSince
	s.log = nil
	if len(st.Log) > 0 {
		log := append([]Attempt(nil), st.Log...)
		s.log = &log
	}
	return st.pending()
}

// pending reports whether s's cursor is its own position rather than the
// matched-through one: it is a pull subscription, reads the log, or has
// matched events not yet delivered; s.mu must be held.
func (s *subState) pending() bool {
	return s.pull || !s.live || s.queue.len() > 0
}

// lowWater returns the lowest stored delivery position: the stored
// matched-through position, or the own position of a subscription below
// it. It visits only the subscriptions with a position of their own.
func (d *Dispatcher) lowWater() uint64 {
	low := d.savedThrough.Load()
	d.dirtyMu.Lock()
	for _, c := range d.own {
		low = min(low, c)
	}
	d.dirtyMu.Unlock()
	return low
}

// OldestCursor returns the lowest stored delivery position among the
// subscriptions (the matcher's position when there are none).
func (d *Dispatcher) OldestCursor() uint64 {
	d.mu.RLock()
	none := len(d.subs) == 0
	d.mu.RUnlock()
	if none {
		return d.matched.Load()
	}
	return d.lowWater()
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
	if s.queue.len() > 0 {
		return s.queue.head().Seq - 1
	}
	if s.live && matched > s.enqueued {
		return matched
	}
	return s.enqueued
}

// markDirty notes that s's state changed, for the next flush; s.mu must be
// held. s.dirty saves the shared lock for every change after the first
// between two flushes: it is set only while s is in d.dirty, and cleared
// by the flush that took it, under s.mu.
func (d *Dispatcher) markDirty(s *subState) {
	if s.dirty {
		return
	}
	s.dirty = true
	d.dirtyMu.Lock()
	d.dirty[s] = struct{}{}
	d.dirtyMu.Unlock()
}

// markLog notes that s's state and its delivery log changed; s.mu must be
// held (s.logDirty is to d.logDirty what s.dirty is to d.dirty).
func (d *Dispatcher) markLog(s *subState) {
	if s.dirty && s.logDirty {
		return
	}
	s.dirty, s.logDirty = true, true
	d.dirtyMu.Lock()
	d.dirty[s] = struct{}{}
	d.logDirty[s] = struct{}{}
	d.dirtyMu.Unlock()
}

func (s *subState) state(matched uint64) *DeliveryState {
	st := &DeliveryState{
		Cursor: s.cursor(matched), Pending: s.pending(), Attempts: s.retry.attempts, NextAttempt: s.retry.next,
		Failures: int(s.failures), FailingSince: s.failingSince,
		Log: append([]Attempt{}, s.attempts()...),
	}
	if len(s.replay) > 0 && s.replayRetry.attempts > 0 {
		st.ReplaySeq, st.ReplayAttempts, st.ReplayNext = s.replay[0].Seq, s.replayRetry.attempts, s.replayRetry.next
	}
	return st
}

// empty reports whether st says nothing the matched-through position does
// not: no work pending, no retry, no failures, no delivery log.
func (st *DeliveryState) empty() bool {
	return !st.Pending && st.Attempts == 0 && st.NextAttempt.IsZero() && st.ReplaySeq == 0 &&
		st.Failures == 0 && len(st.Log) == 0
}

func (d *Dispatcher) flushLoop() {
	defer d.wg.Done()
	n := 0
	for d.sleep(d.opts.FlushInterval) {
		n++
		// Every 25th flush also saves the delivery logs that changed.
		if err := d.Flush(d.ctx, n%25 == 0); err != nil && d.ctx.Err() == nil {
			d.logger.Error("cannot save delivery state", slog.Any("err", err))
		}
	}
}

// Flush writes the matched-through position and the delivery state of the
// subscriptions that changed since the last flush; with all, also the
// delivery logs that changed since the last full flush. It costs O(the
// subscriptions that changed), whatever their number. Flushes run one at
// a time, in order.
func (d *Dispatcher) Flush(ctx context.Context, all bool) error {
	d.flushMu.Lock()
	defer d.flushMu.Unlock()
	// Read before the dirty set is taken: see the comment at the top,
	// and partition.go for the partitions held.
	matched := d.matched.Load()
	var held map[int]uint64
	if d.opts.Partitions > 0 {
		held = d.heldParts()
	}
	d.dirtyMu.Lock()
	dirty := d.dirty
	d.dirty = map[*subState]struct{}{}
	// Taken with the dirty set: a subscription Add has not put in it
	// yet is still held (Add marks it before its creator releases).
	through := matched
	for _, at := range d.holds {
		through = min(through, at)
	}
	var logs map[*subState]struct{}
	if all {
		logs = d.logDirty
		d.logDirty = map[*subState]struct{}{}
	}
	d.dirtyMu.Unlock()
	if len(dirty) == 0 && len(logs) == 0 && (!all || through <= d.savedThrough.Load()) {
		// Nothing changed but the matcher's position: it is written
		// with the next change, or by the next full flush.
		return nil
	}
	type written struct {
		cursor  uint64
		log     uint32
		pending bool
		withLog bool
	}
	states := make(map[string]*DeliveryState, len(dirty)+len(logs))
	saved := make(map[*subState]written, len(dirty)+len(logs))
	consider := func(s *subState, withLog bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		// Taken: a change from now on marks s again.
		s.dirty = false
		if withLog {
			s.logDirty = false
		}
		if s.removed || s.parked {
			return
		}
		st := s.state(matched)
		if st.empty() {
			// Caught up, no failures, no delivery log: the matched-
			// through position is its position, so it needs no state
			// stored at all (the pending one it was created with goes).
			states[s.id] = nil
			saved[s] = written{cursor: st.Cursor, log: s.logVersion, withLog: true}
			return
		}
		if !withLog {
			// The frequent flushes save positions and retry state; the
			// delivery log, the bulk of a state, goes with the full ones.
			st.Log = nil
		}
		states[s.id] = st
		saved[s] = written{cursor: st.Cursor, log: s.logVersion, pending: st.Pending, withLog: withLog}
	}
	for s := range dirty {
		_, withLog := logs[s]
		consider(s, withLog)
	}
	for s := range logs {
		if _, done := dirty[s]; !done {
			consider(s, true)
		}
	}
	var err error
	if d.opts.Partitions > 0 {
		// Read after the states were gathered: see stillHeld.
		err = d.pstates.SavePartitionStates(ctx, d.stillHeld(held, matched), states)
	} else {
		err = d.states.SaveDeliveryStates(ctx, through, states)
	}
	if err != nil {
		d.dirtyMu.Lock()
		for s := range dirty {
			d.dirty[s] = struct{}{}
		}
		for s := range logs {
			d.logDirty[s] = struct{}{}
		}
		d.dirtyMu.Unlock()
		return err
	}
	if through > d.savedThrough.Load() {
		d.savedThrough.Store(through)
	}
	for s, w := range saved {
		s.mu.Lock()
		if !s.removed && !s.parked {
			s.saved = w.cursor
			if w.withLog {
				s.logSaved = w.log
			}
			d.dirtyMu.Lock()
			if w.pending {
				d.own[s] = w.cursor
			} else {
				delete(d.own, s)
			}
			d.dirtyMu.Unlock()
		}
		s.mu.Unlock()
	}
	return nil
}

func (d *Dispatcher) retentionLoop() {
	defer d.wg.Done()
	for d.sleep(d.opts.RetentionInterval) {
		if _, err := d.Trim(d.ctx); err != nil && d.ctx.Err() == nil {
			d.logger.Error("cannot trim the event log", slog.Any("err", err))
		}
	}
}

// Trim deletes the events every stored position has passed that are older
// than the retention, and returns how many. It looks only at the
// subscriptions with a position of their own, not at every subscription.
func (d *Dispatcher) Trim(ctx context.Context) (int, error) {
	low := d.lowWater()
	if d.opts.Partitions > 0 {
		// No node sees every position: the holder of partition 0 trims
		// below the store's, the others leave it.
		if !d.Holds(0) {
			return 0, nil
		}
		var err error
		if low, err = d.pstates.LowWater(ctx, d.opts.Partitions); err != nil {
			return 0, err
		}
	}
	n, err := d.log.Trim(ctx, low, d.clock.Now().Add(-d.opts.Retention))
	if n > 0 {
		d.logger.Info("event log trimmed", slog.Int("events", n), slog.Uint64("through", low))
	}
	return n, err
}

// HoldThrough keeps every flush from now until release from storing a
// matched-through position above the matcher's position now. A Service
// takes it before it reads a new subscription's Start (the log's head,
// never below the matcher's position) and releases it once Add has the
// subscription, or once it was not created. Without it, a flush in that
// window could store a position past Start, which would cover the new
// subscription before the dispatcher knows it: after a crash before the
// next flush, it would start past its first events. With it, a backend
// that only this process writes stores no state for a new subscription
// (see SubscriptionStore). release may be called once.
func (d *Dispatcher) HoldThrough() (release func()) {
	d.dirtyMu.Lock()
	d.holdSeq++
	n := d.holdSeq
	d.holds[n] = d.matched.Load()
	d.dirtyMu.Unlock()
	return func() {
		d.dirtyMu.Lock()
		delete(d.holds, n)
		d.dirtyMu.Unlock()
	}
}

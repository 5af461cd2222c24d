package eventing

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Scheduling: the matcher feeds live subscriptions, the workers take one
// step of one subscription at a time, and timers park subscriptions until a
// retry is due.

// kick makes sure s gets a worker's attention.
func (d *Dispatcher) kick(s *subState) {
	s.mu.Lock()
	if s.removed || s.parked || s.pull || s.scheduled {
		s.mu.Unlock()
		return
	}
	s.scheduled = true
	s.mu.Unlock()
	d.queue.push(s)
}

// matchLoop feeds committed events to the live subscriptions they match.
func (d *Dispatcher) matchLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.inSignal:
		}
		for {
			d.inMu.Lock()
			evs, overflow := d.incoming, d.overflow
			d.incoming, d.overflow = nil, false
			d.inMu.Unlock()
			if overflow {
				// Read what the log holds after what was matched; events
				// that arrive meanwhile are skipped by seq below.
				var err error
				evs, _, err = d.log.ReadEvents(d.ctx, d.matched.Load(), 4096, "")
				if err != nil {
					if d.ctx.Err() == nil {
						d.logger.Error("matcher cannot read the log", slog.Any("err", err))
					}
					d.inMu.Lock()
					d.overflow = true
					d.inMu.Unlock()
					if !d.sleep(100 * time.Millisecond) {
						return
					}
					continue
				}
				if len(evs) == 4096 {
					d.inMu.Lock()
					d.overflow = true
					d.inMu.Unlock()
				}
			}
			if len(evs) == 0 {
				break
			}
			for _, ev := range evs {
				m := d.matched.Load()
				if ev.Seq <= m {
					continue
				}
				if !overflow && ev.Seq > m+1 {
					// The log's feed skipped events (a JetStream watcher
					// recreated after its server died, an append between
					// the head read at start and the watch): matching on
					// would pass them by for every live subscription.
					// Read them from the log instead.
					d.logger.Warn("the event feed skipped events; reading them from the log", slog.Uint64("after", m), slog.Uint64("next", ev.Seq))
					d.inMu.Lock()
					d.overflow, d.incoming = true, nil
					d.inMu.Unlock()
					break
				}
				d.match(ev)
			}
			d.notifyHead()
		}
	}
}

func (d *Dispatcher) match(ev *Event) {
	d.matching.Store(ev.Seq)
	d.mu.RLock()
	targets := d.byTopic.appendTo(nil, ev.Topic)
	for s := range d.others {
		// A filter that is evaluated per event is evaluated by the
		// subscription's worker, not here: one costly filter must not
		// hold up the matcher, and so every other subscription.
		if !s.evaluates {
			if ok, _ := s.filter.Match(ev); !ok {
				continue
			}
		}
		targets = append(targets, s)
	}
	d.mu.RUnlock()
	for _, s := range targets {
		s.mu.Lock()
		if s.removed || !s.live || ev.Seq <= s.enqueued {
			s.mu.Unlock()
			continue
		}
		if s.queue.len() >= d.opts.QueueLimit {
			// Too far behind: stop holding events in memory; the worker
			// reads the log from s.enqueued once the queue drains.
			s.live = false
			s.mu.Unlock()
			continue
		}
		if s.queue.len() == 0 {
			// From now on s has work pending: the next flush writes its
			// position before the matched-through position passes it.
			d.markDirty(s)
		}
		s.queue = s.queue.push(ev)
		s.enqueued = ev.Seq
		kick := !s.scheduled
		s.scheduled = true
		s.mu.Unlock()
		if kick {
			d.queue.push(s)
		}
	}
	d.matched.Store(ev.Seq)
}

func (d *Dispatcher) notifyHead() {
	d.headMu.Lock()
	close(d.headCh)
	d.headCh = make(chan struct{})
	d.headMu.Unlock()
}

// Matched returns the position up to which events have been matched, and a
// channel closed when it moves on. Pull and stream readers wait on it.
func (d *Dispatcher) Matched() (uint64, <-chan struct{}) {
	d.headMu.Lock()
	defer d.headMu.Unlock()
	return d.matched.Load(), d.headCh
}

func (d *Dispatcher) worker() {
	defer d.workers.Done()
	for {
		s, ok := d.queue.pop()
		if !ok {
			return
		}
		d.process(s)
	}
}

// process gives one subscription one step of work: a read of the log when
// its queue is empty and it is not live, else one delivery attempt of its
// oldest event. It keeps the subscription scheduled while work remains.
func (d *Dispatcher) process(s *subState) {
	s.mu.Lock()
	if d.opts.Partitions > 0 {
		if s.flight == nil {
			s.flight = &flight{}
		}
		s.flight.working++
		defer d.processed(s)
	}
	if s.removed || s.parked || s.handing {
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	if len(s.replay) == 0 && s.queue.len() == 0 && !s.live {
		s.mu.Unlock()
		if err := d.scan(s); err != nil {
			if d.ctx.Err() != nil {
				return
			}
			d.logger.Error("cannot read the event log", slog.String("subscription_id", s.id), slog.Any("err", err))
			d.wait(s, d.clock.Now().Add(time.Second))
			return
		}
		s.mu.Lock()
	}
	if s.removed || s.parked || s.handing || (len(s.replay) == 0 && s.queue.len() == 0) {
		s.scheduled = !s.handing && s.requeue(d)
		s.mu.Unlock()
		return
	}
	now := d.clock.Now()
	if s.sub.Expired(now) {
		// The lease ended: nothing more is delivered; the sweeper
		// reclaims the subscription.
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	if s.evaluates && len(s.replay) == 0 && !s.checked && !d.filterHead(s) {
		return
	}
	ev, sub, ep := s.head(), s.sub, s.endpoint
	r := s.retryFor(ev)
	if now.Before(r.next) {
		at := r.next
		s.mu.Unlock()
		d.wait(s, at)
		return
	}
	r.attempts++
	n := &Notification{Event: ev, Subscription: sub, MessageID: MessageID(sub.ID, ev.Seq), Attempt: r.attempts}
	ctx, cancel := context.WithTimeout(d.deliverCtx, d.opts.Timeout)
	if d.opts.Partitions > 0 {
		// park cancels it: a node that gave the partition up must not
		// still be delivering when the next holder starts.
		s.flight.cancel = cancel
	}
	s.mu.Unlock()

	start := time.Now()
	err := ep.Deliver(ctx, n)
	latency := time.Since(start)
	cancel()
	if d.opts.Partitions > 0 {
		s.mu.Lock()
		s.flight.cancel = nil
		s.mu.Unlock()
	}
	d.outcome(s, ev, n, err, latency)
}

// processed ends a worker's step for s in a partitioned dispatcher: a
// Handover waiting for the step learns that it is over.
func (d *Dispatcher) processed(s *subState) {
	s.mu.Lock()
	f := s.flight
	f.working--
	var h *drainWait
	if f.working == 0 {
		h, f.drain = f.drain, nil
	}
	s.mu.Unlock()
	h.done()
}

// filterBatch is how many queued candidates one step of a worker
// evaluates before it lets other subscriptions have the worker.
const filterBatch = 64

// filterHead evaluates s's filter on the queue's head until one matches
// (dropping those that do not), with s.mu held on entry and released
// while the filter runs. It returns true with s.mu held when the head is
// a match to deliver; false with s.mu released when there is nothing to
// deliver now (s rescheduled if work remains), or when the filter
// exceeded its budget and s is being ended.
func (d *Dispatcher) filterHead(s *subState) bool {
	for n := 0; ; n++ {
		switch {
		case len(s.replay) > 0 || s.checked:
			return true
		case s.queue.len() == 0 || n == filterBatch:
			s.scheduled = s.requeue(d)
			s.mu.Unlock()
			return false
		}
		ev, f := s.queue.head(), s.filter
		s.mu.Unlock()
		ok, err := f.Match(ev)
		s.mu.Lock()
		if s.removed || s.parked {
			s.scheduled = false
			s.mu.Unlock()
			return false
		}
		if s.queue.len() == 0 || s.queue.head() != ev || s.filter != f {
			continue // changed while the filter ran: look again
		}
		switch {
		case errors.Is(err, ErrFilterBudget) && d.hooks.filterFailed != nil:
			sub := s.sub
			s.scheduled = false
			s.mu.Unlock()
			d.hooks.filterFailed(sub, err)
			return false
		case err != nil:
			d.logger.Warn("filter failed on an event; the event does not match", slog.String("subscription_id", s.id), slog.Uint64("seq", ev.Seq), slog.Any("err", err))
			s.popHead(ev)
		case !ok:
			s.popHead(ev)
		default:
			s.checked = true
		}
	}
}

// requeue reports whether s still has work (and pushes it back to the work
// queue if so); s.mu must be held.
func (s *subState) requeue(d *Dispatcher) bool {
	if s.removed || s.parked || s.pull || (len(s.replay) == 0 && s.queue.len() == 0 && s.live) {
		return false
	}
	d.queue.push(s)
	return true
}

// wait parks s until at, then schedules it again.
func (d *Dispatcher) wait(s *subState, at time.Time) {
	delay := at.Sub(d.clock.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed || s.parked {
		s.scheduled = false
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	d.timerMu.Lock()
	d.timers[s] = struct{}{}
	d.timerMu.Unlock()
	s.timer = d.clock.AfterFunc(max(delay, 0), func() {
		d.timerMu.Lock()
		delete(d.timers, s)
		d.timerMu.Unlock()
		if d.ctx.Err() != nil {
			return
		}
		d.queue.push(s)
	})
}

// wake schedules s now: at once if it is parked on a timer (a retry that
// is not due yet; the step decides again what is due), else as kick does.
func (d *Dispatcher) wake(s *subState) {
	s.mu.Lock()
	parked := s.timer != nil && !s.removed && !s.parked && s.timer.Stop()
	s.mu.Unlock()
	if parked {
		// Stopped before it fired: s is still scheduled, and in no
		// queue; put it in one.
		d.timerMu.Lock()
		delete(d.timers, s)
		d.timerMu.Unlock()
		d.queue.push(s)
		return
	}
	d.kick(s)
}

// stopTimers stops the timers of the parked subscriptions (at Shutdown).
func (d *Dispatcher) stopTimers() {
	d.timerMu.Lock()
	parked := make([]*subState, 0, len(d.timers))
	for s := range d.timers {
		parked = append(parked, s)
	}
	clear(d.timers)
	d.timerMu.Unlock()
	for _, s := range parked {
		s.mu.Lock()
		if s.timer != nil {
			s.timer.Stop()
		}
		s.mu.Unlock()
	}
}

// sleep waits dur on the dispatcher's clock; false when the dispatcher
// shuts down first. It is the periodic loops' pause (flush, retention, a
// failed read of the log).
func (d *Dispatcher) sleep(dur time.Duration) bool {
	return Sleep(d.ctx, d.clock, dur)
}

// head returns the event to deliver next: a replayed dead letter first,
// else the oldest queued event; s.mu must be held and one of them non-empty.
func (s *subState) head() *Event {
	if len(s.replay) > 0 {
		return s.replay[0]
	}
	return s.queue.head()
}

// scan reads the log after s.enqueued into s.queue (the worker holding s's
// turn is the only caller), and switches s to live when it caught up.
func (d *Dispatcher) scan(s *subState) error {
	s.mu.Lock()
	after, topic, filter, evaluates := s.enqueued, s.indexedTopic(), s.filter, s.evaluates
	s.mu.Unlock()
	evs, through, err := d.log.ReadEvents(d.ctx, after, d.opts.ScanBatch, topic)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed || s.parked || s.enqueued != after || s.filter != filter {
		return nil // changed while the log was read: read again
	}
	for _, ev := range evs {
		// Candidates of a filter evaluated per event are checked when
		// they reach the head (filterHead), by this worker, unlocked.
		if evaluates {
			s.queue = s.queue.push(ev)
		} else if ok, _ := filter.Match(ev); ok {
			s.queue = s.queue.push(ev)
		}
	}
	if through > s.enqueued {
		s.enqueued = through
		d.markDirty(s)
	}
	// Caught up when the read covered every event the matcher may have
	// skipped while s was not live (see the package documentation).
	if len(evs) < d.opts.ScanBatch && s.enqueued >= d.matching.Load() {
		s.live = true
		d.markDirty(s) // no longer reading: its stored state says so next
	}
	return nil
}

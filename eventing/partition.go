package eventing

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// Partitions: several Herald nodes on one shared store each deliver a part
// of the subscriptions. A subscription belongs to partition
// PartitionOf(id, n), and a node delivers the partitions it holds a lease
// on (store/jetstream's Leases decide which). Every node knows every
// subscription (it answers any request), but only a partition's holder
// matches, delivers, retries, ends and writes state for its
// subscriptions.
//
// The matched-through position is kept per partition, because it is a
// promise about the partition's idle subscriptions: "every event up to it
// that matched one of them was delivered". A node raises it only for the
// partitions it holds, and a node that takes a partition over starts each
// of its subscriptions from the stored state (or the partition's
// position), reading the log from there before it joins the matcher.
//
// Handover. Acquire restores a partition's subscriptions from the store
// and marks them dirty before the partition counts as held, and a flush
// reads which partitions are held before it takes the dirty set: so the
// first flush that raises a taken partition's position also writes its
// subscriptions' pending states. Release marks the partition as not held
// first, then parks its subscriptions: their queues are dropped, their
// timers stopped, and the outcome of a delivery in flight changes
// nothing. The lease protocol makes sure that a node stops (Release)
// before another node takes the partition (Acquire); what the old holder
// delivered but had not flushed is delivered again by the new one, with
// the same MessageIDs.

// DefaultPartitions is the number of partitions Herald nodes on a shared
// store use unless configured otherwise: enough to spread over a few
// dozen nodes, few enough that each node's lease renewals stay cheap.
const DefaultPartitions = 64

// PartitionOf returns the partition of subscription id among n (FNV-1a).
func PartitionOf(id string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// A PartitionedStateStore keeps the matched-through position per
// partition, for dispatchers that each deliver some partitions of one
// shared store (DispatcherOptions.Partitions).
type PartitionedStateStore interface {
	// PartitionStates returns the stored matched-through position of
	// each of parts (0 when none was saved) and the stored state of
	// every subscription in them (PartitionOf(id, n) in parts). The
	// positions are read before the states, as DeliveryStates does.
	PartitionStates(ctx context.Context, parts []int, n int) (throughs map[int]uint64, states map[string]*DeliveryState, err error)
	// SavePartitionStates stores states as SaveDeliveryStates does,
	// then raises the matched-through position of each partition in
	// throughs (never moving one back). A state another writer changed
	// since this store read or wrote it (a node that took the
	// subscription's partition over) is not written: the other
	// writer's wins, and the rest of the save goes on.
	SavePartitionStates(ctx context.Context, throughs map[int]uint64, states map[string]*DeliveryState) error
	// LowWater returns the lowest stored delivery position over all n
	// partitions: the lowest partition position, or the cursor of a
	// pending state below it. The holder of partition 0 trims the log
	// below it (the janitor), since no node sees every position.
	LowWater(ctx context.Context, n int) (uint64, error)
}

// A StateReader reads one subscription's stored delivery state: a node
// that does not hold a subscription's partition answers describe and pull
// requests from it, not from its own idle copy.
type StateReader interface {
	// DeliveryState returns the stored state of subscription id with its
	// Cursor resolved to its position (against its partition's position
	// among partitions; 0: the whole store's), and no delivery log when
	// none is stored.
	DeliveryState(ctx context.Context, id string, partitions int) (*DeliveryState, error)
}

// storedState returns the delivery state of a subscription this node does
// not deliver, read from the store (false when the dispatcher delivers it,
// or the store cannot say).
func (s *Service) storedState(ctx context.Context, id string) (*DeliveryState, bool, error) {
	d := s.dispatcher
	if d.opts.Partitions == 0 || d.Holds(PartitionOf(id, d.opts.Partitions)) {
		return nil, false, nil
	}
	r, ok := s.store.(StateReader)
	if !ok {
		return nil, false, nil
	}
	st, err := r.DeliveryState(ctx, id, d.opts.Partitions)
	return st, err == nil, err
}

// errNotPartitioned is returned by Acquire on a dispatcher that delivers
// every subscription.
var errNotPartitioned = errors.New("eventing: the dispatcher is not partitioned")

// Partitions returns the number of partitions (0: the dispatcher delivers
// every subscription).
func (d *Dispatcher) Partitions() int { return d.opts.Partitions }

// Holds reports whether the dispatcher delivers partition p.
func (d *Dispatcher) Holds(p int) bool {
	return d.opts.Partitions == 0 || (p >= 0 && p < len(d.held) && d.held[p].Load())
}

// delivers reports whether s's partition is held; s.part is immutable.
func (d *Dispatcher) delivers(s *subState) bool {
	return d.opts.Partitions == 0 || d.held[s.part].Load()
}

// heldParts returns the partitions held now, with their generations,
// for a flush.
func (d *Dispatcher) heldParts() map[int]uint64 {
	out := map[int]uint64{}
	for p := range d.held {
		if g := d.partGen[p].Load(); d.held[p].Load() {
			out[p] = g
		}
	}
	return out
}

// stillHeld returns those of held (from heldParts) that have been held
// all along since: a partition released while a flush gathered states
// had subscriptions the flush skipped (parked), so its position must not
// be raised over them.
func (d *Dispatcher) stillHeld(held map[int]uint64, matched uint64) map[int]uint64 {
	out := make(map[int]uint64, len(held))
	for p, g := range held {
		if d.held[p].Load() && d.partGen[p].Load() == g {
			out[p] = matched
		}
	}
	return out
}

// Acquire starts delivering partitions parts: their subscriptions are
// restored from the store (state, position, replayed dead letters), read
// the log from there, and join the matcher once caught up. Partitions
// already held are skipped. Call it after Start; it must not run
// concurrently with Release of the same partitions (AcquireIf may).
func (d *Dispatcher) Acquire(ctx context.Context, parts []int) error {
	return d.AcquireIf(ctx, parts, nil)
}

// AcquireIf is Acquire for a caller whose leases may be taken back while
// the store is read: keep (if not nil) is asked, under the lock that
// Release also takes, at the moment the partitions start counting as
// held, whether each is still to be taken, and those it refuses are not.
// So a Release of p that runs concurrently, from a caller that made keep
// refuse p first, never waits for the store: it comes either before that
// moment (p is not taken) or after it (p is held, and Release parks it).
// keep must not call the Dispatcher.
func (d *Dispatcher) AcquireIf(ctx context.Context, parts []int, keep func(p int) bool) error {
	if d.opts.Partitions == 0 {
		return errNotPartitioned
	}
	var take []int
	for _, p := range parts {
		if p >= 0 && p < len(d.held) && !d.held[p].Load() {
			take = append(take, p)
		}
	}
	if len(take) == 0 {
		return nil
	}
	sort.Ints(take)
	throughs, states, err := d.pstates.PartitionStates(ctx, take, d.opts.Partitions)
	if err != nil {
		return err
	}
	replaying, err := d.dead.Replaying(ctx)
	if err != nil {
		return err
	}
	// d.mu is held from the collection of the partitions' subscriptions
	// until they count as held: Add, which decides under d.mu whether a
	// new subscription is parked, sees them either not held (and its
	// subscription is collected here) or held, never in between.
	var subs []*subState
	d.mu.Lock()
	if keep != nil {
		take = slices.DeleteFunc(take, func(p int) bool { return d.held[p].Load() || !keep(p) })
	}
	for _, p := range take {
		subs = append(subs, d.byPart[p]...)
	}
	for _, s := range subs {
		s.mu.Lock()
		if s.removed {
			s.mu.Unlock()
			continue
		}
		through := throughs[int(s.part)]
		pos := max(through, s.sub.Start)
		s.replay = s.replay[:0]
		for _, dl := range replaying[s.id] {
			s.replay = append(s.replay, dl.Event())
		}
		s.queue, s.checked = nil, false
		s.retry, s.replayRetry = retryState{}, retryState{}
		s.failures, s.failingSince, s.log = 0, time.Time{}, nil
		if st, ok := states[s.id]; ok {
			// The stored state replaces whatever this node knew.
			s.enqueued = 0
			s.restore(st, through)
			pos = s.enqueued
		}
		s.enqueued, s.saved, s.pullCursor = pos, pos, pos
		s.parked, s.live, s.handing = false, false, false
		s.dirty = true
		s.mu.Unlock()
		d.dirtyMu.Lock()
		d.dirty[s] = struct{}{}
		d.own[s] = pos
		d.dirtyMu.Unlock()
	}
	for _, p := range take {
		d.partGen[p].Add(1)
		d.held[p].Store(true)
	}
	d.mu.Unlock()
	for _, s := range subs {
		d.kick(s)
	}
	if len(take) > 0 {
		d.logger.Info("partitions acquired", "partitions", take, "subscriptions", len(subs))
	}
	return nil
}

// Release stops delivering partitions parts: their subscriptions are
// parked (queues dropped, timers stopped, no state written), and a
// delivery in flight is canceled, its outcome without effect.
func (d *Dispatcher) Release(parts []int) {
	if d.opts.Partitions == 0 {
		return
	}
	gave, subs := d.unhold(parts)
	for _, s := range subs {
		d.park(s)
	}
	if len(gave) > 0 {
		d.logger.Info("partitions released", "partitions", gave, "subscriptions", len(subs))
	}
}

// unhold marks those of parts that are held as not held (a new
// generation each) and returns them with their subscriptions, for
// Release and Handover.
func (d *Dispatcher) unhold(parts []int) (gave []int, subs []*subState) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, p := range parts {
		if p >= 0 && p < len(d.held) && d.held[p].Swap(false) {
			d.partGen[p].Add(1)
			gave = append(gave, p)
			subs = append(subs, d.byPart[p]...)
		}
	}
	return gave, subs
}

// Handover stops delivering partitions parts as Release does, but hands
// them over cleanly, for a node that gives partitions away while it is
// well: no attempt starts for them any more, the attempts in flight end
// and take effect, and then the states of their subscriptions that
// changed since the last flush are saved, with the partitions' positions
// raised to the matcher's, before they are parked. The next holder then
// repeats nothing. ctx bounds the wait and the save: when it ends first,
// the partitions are parked as Release parks them (an attempt still in
// flight is canceled), and what was not saved is delivered again by the
// next holder, as after a Release.
func (d *Dispatcher) Handover(ctx context.Context, parts []int) error {
	if d.opts.Partitions == 0 {
		return errNotPartitioned
	}
	gave, subs := d.unhold(parts)
	if len(gave) == 0 {
		return nil
	}
	h := newDrainWait()
	for _, s := range subs {
		s.mu.Lock()
		s.handing = true
		if f := s.flight; f != nil && f.working > 0 && !s.parked {
			h.n.Add(1)
			f.drain = h
		}
		s.mu.Unlock()
	}
	h.done() // the count's own token: every attempt is counted now
	err := h.wait(ctx)
	if err == nil {
		err = d.saveHanded(ctx, gave, subs)
	} else {
		for _, s := range subs {
			d.park(s)
		}
	}
	d.logger.Info("partitions handed over", "partitions", gave, "subscriptions", len(subs), "saved", err == nil)
	return err
}

// saveHanded saves, for Handover, the states of subs (the subscriptions
// of partitions gave, which no longer start attempts) that changed since
// the last flush, and raises gave's positions to the matcher's, parking
// each subscription once its state is taken. It holds the flush lock, so
// that the dirty set is whole: as in Flush, the matcher's position is
// read before it, so every subscription that an event up to that
// position reached is in the set or has a pending state stored.
func (d *Dispatcher) saveHanded(ctx context.Context, gave []int, subs []*subState) error {
	d.flushMu.Lock()
	defer d.flushMu.Unlock()
	matched := d.matched.Load()
	states := map[string]*DeliveryState{}
	for _, s := range subs {
		s.mu.Lock()
		if !s.removed && !s.parked {
			d.dirtyMu.Lock()
			_, dirty := d.dirty[s]
			_, withLog := d.logDirty[s]
			d.dirtyMu.Unlock()
			if dirty || withLog {
				st := s.state(matched)
				switch {
				case st.empty():
					st = nil // as in Flush: the position says it all
				case !withLog:
					st.Log = nil
				}
				states[s.id] = st
			}
		}
		d.parkLocked(s)
		s.mu.Unlock()
		d.unschedule(s)
	}
	throughs := make(map[int]uint64, len(gave))
	for _, p := range gave {
		throughs[p] = matched
	}
	return d.pstates.SavePartitionStates(ctx, throughs, states)
}

// A drainWait is a Handover's wait for the attempts in flight: it counts
// them, and one token of its own until all are counted, so that it
// reaches 0 once.
type drainWait struct {
	n  atomic.Int32
	ch chan struct{}
}

func newDrainWait() *drainWait {
	h := &drainWait{ch: make(chan struct{})}
	h.n.Store(1)
	return h
}

// done tells h that one attempt ended (nil h: nobody waits).
func (h *drainWait) done() {
	if h != nil && h.n.Add(-1) == 0 {
		close(h.ch)
	}
}

// wait returns once every attempt h counts ended, or ctx did.
func (h *drainWait) wait(ctx context.Context) error {
	select {
	case <-h.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// park stops s's delivery on this node: its partition is not held.
func (d *Dispatcher) park(s *subState) {
	s.mu.Lock()
	d.parkLocked(s)
	s.mu.Unlock()
	d.unschedule(s)
}

// parkLocked is park with s.mu held, but for unschedule.
func (d *Dispatcher) parkLocked(s *subState) {
	s.parked, s.live, s.handing = true, false, false
	s.queue, s.replay, s.checked = nil, nil, false
	s.dirty, s.logDirty = false, false
	if s.timer != nil && s.timer.Stop() {
		// Parked on a retry timer that will not fire now: no worker
		// holds s, so it is no longer scheduled (and Acquire's kick
		// schedules it again).
		s.scheduled = false
	}
	if s.flight != nil && s.flight.cancel != nil {
		s.flight.cancel()
	}
}

// indexPart files s under its partition; d.mu must be held.
func (d *Dispatcher) indexPart(s *subState) {
	if d.opts.Partitions == 0 {
		return
	}
	s.part = int32(PartitionOf(s.id, d.opts.Partitions))
	s.partPos = int32(len(d.byPart[s.part]))
	d.byPart[s.part] = append(d.byPart[s.part], s)
}

// unindexPart removes s from its partition's list; d.mu must be held.
func (d *Dispatcher) unindexPart(s *subState) {
	if d.opts.Partitions == 0 {
		return
	}
	list := d.byPart[s.part]
	if int(s.partPos) >= len(list) || list[s.partPos] != s {
		return
	}
	last := len(list) - 1
	list[s.partPos] = list[last]
	list[s.partPos].partPos = s.partPos
	list[last] = nil
	d.byPart[s.part] = list[:last]
}

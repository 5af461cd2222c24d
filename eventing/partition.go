package eventing

import (
	"context"
	"errors"
	"hash/fnv"
	"sort"
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
// concurrently with Release of the same partitions.
func (d *Dispatcher) Acquire(ctx context.Context, parts []int) error {
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
		s.parked, s.live = false, false
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
	d.logger.Info("partitions acquired", "partitions", take, "subscriptions", len(subs))
	return nil
}

// Release stops delivering partitions parts: their subscriptions are
// parked (queues dropped, timers stopped, no state written), and a
// delivery in flight is canceled, its outcome without effect.
func (d *Dispatcher) Release(parts []int) {
	if d.opts.Partitions == 0 {
		return
	}
	var subs []*subState
	var gave []int
	d.mu.RLock()
	for _, p := range parts {
		if p >= 0 && p < len(d.held) && d.held[p].Swap(false) {
			d.partGen[p].Add(1)
			gave = append(gave, p)
			subs = append(subs, d.byPart[p]...)
		}
	}
	d.mu.RUnlock()
	for _, s := range subs {
		d.park(s)
	}
	if len(gave) > 0 {
		d.logger.Info("partitions released", "partitions", gave, "subscriptions", len(subs))
	}
}

// park stops s's delivery on this node: its partition is not held.
func (d *Dispatcher) park(s *subState) {
	s.mu.Lock()
	s.parked, s.live = true, false
	s.queue, s.replay, s.checked = nil, nil, false
	s.dirty, s.logDirty = false, false
	if s.timer != nil && s.timer.Stop() {
		// Parked on a retry timer that will not fire now: no worker
		// holds s, so it is no longer scheduled (and Acquire's kick
		// schedules it again).
		s.scheduled = false
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	d.unschedule(s)
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

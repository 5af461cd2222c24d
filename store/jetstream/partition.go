package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/herald-eventing/herald/eventing"
)

// Partitioned delivery state (eventing.PartitionedStateStore): the
// states are the same records as DeliveryStates', and each partition's
// matched-through position is the key partitionKey(p), beside the whole
// store's throughKey (which a partitioned node never writes).

var _ eventing.PartitionedStateStore = (*Store)(nil)

// partitionKey is the key of partition p's matched-through position
// ("=through.<p>": like throughKey, no subscription's key).
func partitionKey(p int) string { return throughKey + "." + strconv.Itoa(p) }

// PartitionStates implements eventing.PartitionedStateStore. Like
// DeliveryStates it records the revisions read, against which the next
// save of each state is checked; the states of parts that it did not find
// count as seen absent, so that a state another node writes later is a
// conflict, not something to write over.
func (s *Store) PartitionStates(ctx context.Context, parts []int, n int) (map[int]uint64, map[string]*eventing.DeliveryState, error) {
	if err := s.check(ctx); err != nil {
		return nil, nil, err
	}
	throughs := make(map[int]uint64, len(parts))
	for _, p := range parts {
		k := partitionKey(p)
		through, rev, err := s.readPosition(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		throughs[p] = through
		s.revMu.Lock()
		s.setPosition(k, through, rev)
		s.revMu.Unlock()
	}
	out := map[string]*eventing.DeliveryState{}
	revs := map[string]uint64{}
	err := s.listStates(ctx, func(id string, st *eventing.DeliveryState, rev uint64) {
		if slices.Contains(parts, eventing.PartitionOf(id, n)) {
			out[id], revs[id] = st, rev
		}
	})
	if err != nil {
		return nil, nil, err
	}
	s.revMu.Lock()
	for id := range s.revs {
		if slices.Contains(parts, eventing.PartitionOf(id, n)) {
			delete(s.revs, id) // not seen now: read again before a write
		}
	}
	for id, rev := range revs {
		s.revs[id] = rev
	}
	s.revMu.Unlock()
	return throughs, out, nil
}

// SavePartitionStates implements eventing.PartitionedStateStore: the
// states first, concurrently, skipping (and logging) those another writer
// changed since this Store saw them (ErrStale: a node that took the
// partition over), then each partition's position.
func (s *Store) SavePartitionStates(ctx context.Context, throughs map[int]uint64, states map[string]*eventing.DeliveryState) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var stale atomic.Int64
	err := inParallel(states, func(id string, st *eventing.DeliveryState) error {
		err := s.saveState(ctx, id, st)
		if errors.Is(err, ErrStale) {
			stale.Add(1)
			s.revMu.Lock()
			delete(s.revs, id)
			s.revMu.Unlock()
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if n := stale.Load(); n > 0 {
		s.logger.Warn("delivery states changed by another node were not written over", slog.Int64("states", n))
	}
	positions := make(map[string]uint64, len(throughs))
	for p, through := range throughs {
		positions[partitionKey(p)] = through
	}
	return inParallel(positions, func(key string, through uint64) error { return s.raisePosition(ctx, key, through) })
}

// LowWater implements eventing.PartitionedStateStore: the lowest of the n
// partitions' positions (0 for one never written, which trims nothing)
// and of the cursors of the pending states below them.
func (s *Store) LowWater(ctx context.Context, n int) (uint64, error) {
	if err := s.check(ctx); err != nil || n < 1 {
		return 0, err
	}
	throughs := make([]uint64, n)
	for p := range n {
		through, _, err := s.readPosition(ctx, partitionKey(p))
		if err != nil {
			return 0, err
		}
		throughs[p] = through
	}
	low := slices.Min(throughs)
	err := s.listStates(ctx, func(id string, st *eventing.DeliveryState, _ uint64) {
		low = min(low, st.Position(throughs[eventing.PartitionOf(id, n)]))
	})
	return low, err
}

var _ eventing.StateReader = (*Store)(nil)

// DeliveryState implements eventing.StateReader.
func (s *Store) DeliveryState(ctx context.Context, id string, partitions int) (*eventing.DeliveryState, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	key := throughKey
	if partitions > 0 {
		key = partitionKey(eventing.PartitionOf(id, partitions))
	}
	through, _, err := s.readPosition(ctx, key)
	if err != nil {
		return nil, err
	}
	e, err := s.states.kv.Get(ctx, token(id))
	if isNotFound(err) {
		return &eventing.DeliveryState{Cursor: through}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: delivery state %s: %w", id, err)
	}
	var rec stateRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, fmt.Errorf("jetstream: delivery state %s: %w", id, err)
	}
	st := rec.DeliveryState
	st.Cursor = st.Position(through)
	return &st, nil
}

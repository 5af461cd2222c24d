package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
)

// Delivery state: one JSON record per subscription in the delivery_state
// bucket, keyed by the escaped subscription id, and the matched-through
// position under the key throughKey (a decimal number). This file is all
// of eventing.StateStore, so that it can follow that interface alone when
// it changes.
//
// Fencing is by ownership of what a Store has seen (see the package doc):
// a write of a state this Store read (DeliveryStates) or wrote is a
// compare-and-set against that revision, and is refused with ErrStale when
// another writer changed it since; a state this Store never saw (another
// node created it, or wrote it last) is read first and written against the
// revision read. The position is raised after every state of the same save
// succeeded, as a compare-and-set that never moves it back.

// ErrStale is returned (wrapped) by SaveDeliveryStates for a state that
// another writer changed since this Store read or wrote it.
var ErrStale = errors.New("jetstream: delivery state changed by another writer")

// saveParallel bounds the writes SaveDeliveryStates has in flight.
const saveParallel = 32

// throughKey is the key of the matched-through position. escape never
// writes '=' followed by a lowercase letter, so no subscription's key is
// this one.
const throughKey = "=through"

type stateRecord struct {
	ID string `json:"subscription_id"`
	eventing.DeliveryState
}

// DeliveryStates implements eventing.StateStore. It also records each
// state's revision, against which the next save of it is checked.
//
// The position is read before the states: SaveDeliveryStates writes it
// after the states it covers, so every state listed is the one the
// position was written with, or newer (a newer state only makes the
// position more conservative, never skips an event).
func (s *Store) DeliveryStates(ctx context.Context) (uint64, map[string]*eventing.DeliveryState, error) {
	if err := s.check(ctx); err != nil {
		return 0, nil, err
	}
	through, trev, err := s.readThrough(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := map[string]*eventing.DeliveryState{}
	revs := map[string]uint64{}
	err = s.listStates(ctx, func(id string, st *eventing.DeliveryState, rev uint64) {
		out[id], revs[id] = st, rev
	})
	if err != nil {
		return 0, nil, err
	}
	s.revMu.Lock()
	for id, rev := range revs {
		s.revs[id] = rev
	}
	s.through, s.throughRev = through, trev
	s.revMu.Unlock()
	return through, out, nil
}

// listStates calls fn for every stored delivery state (not the
// positions stored beside them), with its revision.
func (s *Store) listStates(ctx context.Context, fn func(id string, st *eventing.DeliveryState, rev uint64)) error {
	return s.states.list(ctx, s, ">", func(e entry) error {
		if strings.HasPrefix(e.key, "=") {
			return nil // a position (throughKey, partitionKey)
		}
		var rec stateRecord
		if err := json.Unmarshal(e.value, &rec); err != nil {
			return fmt.Errorf("jetstream: delivery state %q: %w", e.key, err)
		}
		fn(rec.ID, &rec.DeliveryState, e.rev)
		return nil
	})
}

// inParallel calls fn for every key of m, at most saveParallel at once,
// and joins their errors.
func inParallel[V any](m map[string]V, fn func(string, V) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, saveParallel)
	)
	for k, v := range m {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(k, v); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readThrough reads the stored matched-through position and its revision
// (0, 0 when none is stored).
func (s *Store) readThrough(ctx context.Context) (through, rev uint64, err error) {
	return s.readPosition(ctx, throughKey)
}

// readPosition reads the matched-through position stored under key.
func (s *Store) readPosition(ctx context.Context, key string) (through, rev uint64, err error) {
	e, err := s.states.kv.Get(ctx, key)
	if isNotFound(err) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream: matched-through position: %w", err)
	}
	through, err = strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream: matched-through position %q: %w", e.Value(), err)
	}
	return through, e.Revision(), nil
}

// SaveDeliveryStates implements eventing.StateStore. The states are
// written concurrently, each atomically but not all in one transaction:
// on error some may be stored, and saving them again is safe. States of
// subscriptions that do not exist are skipped; a state with a nil Log
// keeps the stored log (read from the stored state); a nil state deletes
// the stored one. The matched-through position is raised to through only
// once every state was written, so that it never covers a state that is
// not durable.
func (s *Store) SaveDeliveryStates(ctx context.Context, through uint64, states map[string]*eventing.DeliveryState) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := inParallel(states, func(id string, st *eventing.DeliveryState) error { return s.saveState(ctx, id, st) }); err != nil {
		return err
	}
	return s.raiseThrough(ctx, through)
}

// raiseThrough stores through as the matched-through position unless the
// stored one is as high: a compare-and-set on the revision this Store
// last saw, read again when another writer moved it.
func (s *Store) raiseThrough(ctx context.Context, through uint64) error {
	return s.raisePosition(ctx, throughKey, through)
}

// raisePosition is raiseThrough for the position stored under key (the
// whole store's, or a partition's).
func (s *Store) raisePosition(ctx context.Context, key string, through uint64) error {
	s.revMu.Lock()
	cur, rev := s.position(key)
	s.revMu.Unlock()
	for {
		if through <= cur {
			return nil
		}
		v := strconv.AppendUint(nil, through, 10)
		var next uint64
		var err error
		if rev == 0 {
			next, err = s.states.kv.Create(ctx, key, v)
		} else {
			next, err = s.states.kv.Update(ctx, key, v, rev)
		}
		if err == nil {
			s.revMu.Lock()
			s.setPosition(key, through, next)
			s.revMu.Unlock()
			return nil
		}
		if !errors.Is(err, natsjs.ErrKeyRevisionMismatch) && !errors.Is(err, natsjs.ErrKeyExists) {
			return fmt.Errorf("jetstream: matched-through position: %w", err)
		}
		// Moved by another writer (or by a concurrent save of this
		// Store): look again.
		if cur, rev, err = s.readPosition(ctx, key); err != nil {
			return err
		}
		s.revMu.Lock()
		s.setPosition(key, cur, rev)
		s.revMu.Unlock()
	}
}

// position returns the position stored under key as last read or
// written, and its revision; s.revMu must be held.
func (s *Store) position(key string) (through, rev uint64) {
	if key == throughKey {
		return s.through, s.throughRev
	}
	p := s.positions[key]
	return p[0], p[1]
}

// setPosition records the position under key at revision rev, unless a
// newer revision is known; s.revMu must be held.
func (s *Store) setPosition(key string, through, rev uint64) {
	if key == throughKey {
		if rev > s.throughRev {
			s.through, s.throughRev = through, rev
		}
		return
	}
	if s.positions == nil {
		s.positions = map[string][2]uint64{}
	}
	if rev > s.positions[key][1] {
		s.positions[key] = [2]uint64{through, rev}
	}
}

// saveState writes (or, st nil, deletes) the state of id.
func (s *Store) saveState(ctx context.Context, id string, st *eventing.DeliveryState) error {
	if _, _, err := s.getSub(ctx, id); errors.Is(err, eventing.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	k := token(id)
	s.revMu.Lock()
	rev, known := s.revs[id] // known with rev 0: this Store saw it absent
	s.revMu.Unlock()
	stale := func() error { return fmt.Errorf("jetstream: delivery state %s: %w", id, ErrStale) }

	// What is stored now, when this Store needs it: a state it never saw
	// (its revision), or the log a nil Log keeps.
	var stored natsjs.KeyValueEntry
	if !known || (st != nil && st.Log == nil && rev != 0) {
		e, err := s.states.kv.Get(ctx, k)
		switch {
		case err == nil:
			if known && e.Revision() != rev {
				return stale()
			}
			stored, rev = e, e.Revision()
		case isNotFound(err):
			if known && rev != 0 {
				return stale()
			}
			rev = 0
		default:
			return fmt.Errorf("jetstream: delivery state %s: %w", id, err)
		}
	}

	if st == nil {
		if rev == 0 {
			s.setRev(id, 0)
			return nil // nothing stored
		}
		err := s.states.purge(ctx, k, rev)
		if errors.Is(err, natsjs.ErrKeyRevisionMismatch) {
			return stale()
		}
		if err != nil {
			return fmt.Errorf("jetstream: delivery state %s: %w", id, err)
		}
		s.setRev(id, 0)
		return nil
	}

	rec := stateRecord{ID: id, DeliveryState: *st}
	if st.Log == nil && stored != nil {
		var old stateRecord
		if json.Unmarshal(stored.Value(), &old) == nil {
			rec.Log = old.Log
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	var next uint64
	if rev != 0 {
		next, err = s.states.kv.Update(ctx, k, v, rev)
	} else {
		next, err = s.states.kv.Create(ctx, k, v)
	}
	if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || errors.Is(err, natsjs.ErrKeyExists) {
		return stale()
	}
	if err != nil {
		// The write may have landed without its answer (a timeout
		// during a leader election): the revision this Store knows is
		// then no longer the stored one, and checking the next save
		// against it would refuse every later save as stale. Forget it:
		// the next save reads the stored revision first.
		s.revMu.Lock()
		delete(s.revs, id)
		s.revMu.Unlock()
		return fmt.Errorf("jetstream: delivery state %s: %w", id, err)
	}
	s.setRev(id, next)
	return nil
}

func (s *Store) setRev(id string, rev uint64) {
	s.revMu.Lock()
	s.revs[id] = rev
	s.revMu.Unlock()
}

// createPendingState writes the state a new subscription is stored with,
// pending at its Start (eventing.SubscriptionStore), before its record:
// once the subscription exists, a matched-through position written by a
// node that does not know it yet cannot cover events it was not given. A
// state left by a subscription of the same id that is gone (a delete that
// stopped half way) is replaced; the caller checked that no subscription
// with this id exists.
func (s *Store) createPendingState(ctx context.Context, sub *eventing.Subscription) error {
	k := token(sub.ID)
	v, err := json.Marshal(stateRecord{ID: sub.ID, DeliveryState: eventing.DeliveryState{Cursor: sub.Start, Pending: true}})
	if err != nil {
		return err
	}
	rev, err := s.states.kv.Create(ctx, k, v)
	if errors.Is(err, natsjs.ErrKeyExists) {
		var e natsjs.KeyValueEntry
		if e, err = s.states.kv.Get(ctx, k); err == nil {
			rev, err = s.states.kv.Update(ctx, k, v, e.Revision())
		}
	}
	if err != nil {
		return fmt.Errorf("jetstream: delivery state %s: %w", sub.ID, err)
	}
	s.setRev(sub.ID, rev)
	return nil
}

// deleteState removes a deleted subscription's state (DeleteSubscription,
// and a CreateSubscription that did not keep its subscription).
func (s *Store) deleteState(ctx context.Context, id string) error {
	err := s.states.purge(ctx, token(id), 0)
	s.revMu.Lock()
	delete(s.revs, id)
	s.revMu.Unlock()
	return err
}

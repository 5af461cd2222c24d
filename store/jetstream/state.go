package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
)

// Delivery state: one JSON record per subscription in the delivery_state
// bucket, keyed by the escaped subscription id. This file is all of
// eventing.StateStore, so that it can follow that interface alone when it
// changes.
//
// Every write is a compare-and-set against the revision this Store last
// read (DeliveryStates) or wrote for the key; a state this Store has not
// seen must not exist yet. A write that finds another revision is refused
// with ErrStale: another node (the next owner of the subscription) wrote
// it since, and this node's view is out of date.

// ErrStale is returned (wrapped) by SaveDeliveryStates for a state that
// another writer changed since this Store read or wrote it.
var ErrStale = errors.New("jetstream: delivery state changed by another writer")

// saveParallel bounds the writes SaveDeliveryStates has in flight.
const saveParallel = 32

type stateRecord struct {
	ID string `json:"subscription_id"`
	eventing.DeliveryState
}

// DeliveryStates implements eventing.StateStore. It also records each
// state's revision, against which the next save of it is checked.
func (s *Store) DeliveryStates(ctx context.Context) (map[string]*eventing.DeliveryState, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := map[string]*eventing.DeliveryState{}
	revs := map[string]uint64{}
	err := s.states.list(ctx, s, ">", func(e entry) error {
		var rec stateRecord
		if err := json.Unmarshal(e.value, &rec); err != nil {
			return fmt.Errorf("jetstream: delivery state %q: %w", e.key, err)
		}
		st := rec.DeliveryState
		out[rec.ID] = &st
		revs[rec.ID] = e.rev
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.revMu.Lock()
	for id, rev := range revs {
		s.revs[id] = rev
	}
	s.revMu.Unlock()
	return out, nil
}

// SaveDeliveryStates implements eventing.StateStore. The states are
// written concurrently, each atomically but not all in one transaction:
// on error some may be stored, and saving them again is safe. States of
// subscriptions that do not exist are skipped; a state with a nil Log
// keeps the stored log (read from the stored state).
func (s *Store) SaveDeliveryStates(ctx context.Context, states map[string]*eventing.DeliveryState) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, saveParallel)
	)
	for id, st := range states {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.saveState(ctx, id, st); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Store) saveState(ctx context.Context, id string, st *eventing.DeliveryState) error {
	if _, _, err := s.getSub(ctx, id); errors.Is(err, eventing.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	k := token(id)
	s.revMu.Lock()
	rev, known := s.revs[id]
	s.revMu.Unlock()
	rec := stateRecord{ID: id, DeliveryState: *st}
	if st.Log == nil {
		e, err := s.states.kv.Get(ctx, k)
		switch {
		case err == nil:
			if !known || e.Revision() != rev {
				return fmt.Errorf("jetstream: delivery state %s: %w", id, ErrStale)
			}
			var old stateRecord
			if json.Unmarshal(e.Value(), &old) == nil {
				rec.Log = old.Log
			}
		case isNotFound(err):
			if known {
				return fmt.Errorf("jetstream: delivery state %s: %w", id, ErrStale)
			}
		default:
			return fmt.Errorf("jetstream: delivery state %s: %w", id, err)
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	var next uint64
	if known {
		next, err = s.states.kv.Update(ctx, k, v, rev)
	} else {
		next, err = s.states.kv.Create(ctx, k, v)
	}
	if errors.Is(err, natsjs.ErrKeyRevisionMismatch) || errors.Is(err, natsjs.ErrKeyExists) {
		return fmt.Errorf("jetstream: delivery state %s: %w", id, ErrStale)
	}
	if err != nil {
		return fmt.Errorf("jetstream: delivery state %s: %w", id, err)
	}
	s.revMu.Lock()
	s.revs[id] = next
	s.revMu.Unlock()
	return nil
}

// deleteState removes a deleted subscription's state (DeleteSubscription).
func (s *Store) deleteState(ctx context.Context, id string) error {
	err := s.states.purge(ctx, token(id), 0)
	s.revMu.Lock()
	delete(s.revs, id)
	s.revMu.Unlock()
	return err
}

package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
)

// Dead letters are JSON records in the dead_letters bucket under the key
// <escaped subscription id>.<sequence number, 20 digits>, so that one
// subscription's are one wildcard (id.*). The record carries the
// subscription id.

type deadLetterRecord struct {
	ID string `json:"subscription_id"`
	eventing.DeadLetter
}

func deadLetterKey(id string, seq uint64) string {
	return fmt.Sprintf("%s.%020d", token(id), seq)
}

// AddDeadLetter implements eventing.DeadLetterStore.
func (s *Store) AddDeadLetter(ctx context.Context, id string, dl *eventing.DeadLetter) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if _, _, err := s.getSub(ctx, id); err != nil {
		return err
	}
	v, err := json.Marshal(deadLetterRecord{ID: id, DeadLetter: *dl})
	if err != nil {
		return fmt.Errorf("jetstream: dead letter: %w", err)
	}
	if _, err := s.dead.kv.Put(ctx, deadLetterKey(id, dl.Seq), v); err != nil {
		return fmt.Errorf("jetstream: dead letter %s/%d: %w", id, dl.Seq, err)
	}
	return nil
}

type revDeadLetter struct {
	dl  *eventing.DeadLetter
	key string
	rev uint64
}

func (s *Store) deadLetters(ctx context.Context, pattern string) ([]revDeadLetter, map[*eventing.DeadLetter]string, error) {
	var out []revDeadLetter
	ids := map[*eventing.DeadLetter]string{}
	err := s.dead.list(ctx, s, pattern, func(e entry) error {
		var rec deadLetterRecord
		if err := json.Unmarshal(e.value, &rec); err != nil {
			return fmt.Errorf("jetstream: dead letter %q: %w", e.key, err)
		}
		dl := rec.DeadLetter
		out = append(out, revDeadLetter{&dl, e.key, e.rev})
		ids[&dl] = rec.ID
		return nil
	})
	slices.SortFunc(out, func(a, b revDeadLetter) int {
		switch {
		case a.dl.Seq < b.dl.Seq:
			return -1
		case a.dl.Seq > b.dl.Seq:
			return 1
		}
		return 0
	})
	return out, ids, err
}

// DeadLetters implements eventing.DeadLetterStore.
func (s *Store) DeadLetters(ctx context.Context, id string) ([]*eventing.DeadLetter, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	dls, _, err := s.deadLetters(ctx, token(id)+".*")
	if err != nil {
		return nil, err
	}
	out := make([]*eventing.DeadLetter, len(dls))
	for i, d := range dls {
		out[i] = d.dl
	}
	return out, nil
}

// MarkReplay implements eventing.DeadLetterStore. Each mark is a
// compare-and-set on the dead letter's revision, so two concurrent calls
// never both return the same dead letter.
func (s *Store) MarkReplay(ctx context.Context, id string, since time.Time) ([]*eventing.DeadLetter, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	dls, _, err := s.deadLetters(ctx, token(id)+".*")
	if err != nil {
		return nil, err
	}
	var out []*eventing.DeadLetter
	for _, d := range dls {
		for {
			if d.dl.Replay || d.dl.Time.Before(since) {
				break
			}
			d.dl.Replay = true
			v, err := json.Marshal(deadLetterRecord{ID: id, DeadLetter: *d.dl})
			if err != nil {
				return out, err
			}
			_, err = s.dead.kv.Update(ctx, d.key, v, d.rev)
			if err == nil {
				out = append(out, d.dl)
				break
			}
			if !errors.Is(err, natsjs.ErrKeyRevisionMismatch) {
				return out, fmt.Errorf("jetstream: mark replay %s/%d: %w", id, d.dl.Seq, err)
			}
			// Changed meanwhile: look at it again.
			e, err := s.dead.kv.Get(ctx, d.key)
			if isNotFound(err) {
				break
			}
			if err != nil {
				return out, fmt.Errorf("jetstream: mark replay %s/%d: %w", id, d.dl.Seq, err)
			}
			var rec deadLetterRecord
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				return out, fmt.Errorf("jetstream: dead letter %q: %w", d.key, err)
			}
			d.dl, d.rev = &rec.DeadLetter, e.Revision()
		}
	}
	return out, nil
}

// Replaying implements eventing.DeadLetterStore; it reads every dead
// letter.
func (s *Store) Replaying(ctx context.Context) (map[string][]*eventing.DeadLetter, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	dls, ids, err := s.deadLetters(ctx, ">")
	if err != nil {
		return nil, err
	}
	out := map[string][]*eventing.DeadLetter{}
	for _, d := range dls {
		if d.dl.Replay {
			id := ids[d.dl]
			out[id] = append(out[id], d.dl)
		}
	}
	return out, nil
}

// DeleteDeadLetter implements eventing.DeadLetterStore.
func (s *Store) DeleteDeadLetter(ctx context.Context, id string, seq uint64) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := s.dead.purge(ctx, deadLetterKey(id, seq), 0); err != nil {
		return fmt.Errorf("jetstream: delete dead letter %s/%d: %w", id, seq, err)
	}
	return nil
}

// deleteDeadLetters removes every dead letter of a deleted subscription
// (DeleteSubscription).
func (s *Store) deleteDeadLetters(ctx context.Context, id string) error {
	dls, _, err := s.deadLetters(ctx, token(id)+".*")
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dls {
		errs = append(errs, s.dead.purge(ctx, d.key, 0))
	}
	return errors.Join(errs...)
}

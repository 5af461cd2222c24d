package jetstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
)

// Subscriptions are JSON records in the subscriptions bucket, keyed by
// the escaped id. A subscription with a management identity Key also has
// an entry in the subscription_keys bucket: the SHA-256 of the Key maps
// to the id. KV has no multi-key transactions, so creation and deletion
// are ordered steps that leave nothing a reader could mistake for a
// subscription when they stop half way:
//
//   - create writes the record, then claims the key with a
//     create-if-absent; the loser of a race deletes its record again;
//   - delete removes the record first, then the key entry (only if it
//     still names this id), the delivery state and the dead letters. A
//     key entry left naming a missing subscription is taken over by the
//     next create with that key.

func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func decodeSub(id string, v []byte) (*eventing.Subscription, error) {
	var sub eventing.Subscription
	if err := json.Unmarshal(v, &sub); err != nil {
		return nil, fmt.Errorf("jetstream: subscription %s: %w", id, err)
	}
	return &sub, nil
}

func (s *Store) getSub(ctx context.Context, id string) (*eventing.Subscription, uint64, error) {
	e, err := s.subs.kv.Get(ctx, token(id))
	if isNotFound(err) {
		return nil, 0, fmt.Errorf("jetstream: subscription %s: %w", id, eventing.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("jetstream: subscription %s: %w", id, err)
	}
	sub, err := decodeSub(id, e.Value())
	return sub, e.Revision(), err
}

// CreateSubscription implements eventing.SubscriptionStore. With a Key, at
// most one subscription per key is stored, also when several nodes create
// at once.
func (s *Store) CreateSubscription(ctx context.Context, sub *eventing.Subscription) (*eventing.Subscription, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	v, err := json.Marshal(sub)
	if err != nil {
		return nil, fmt.Errorf("jetstream: create subscription: %w", err)
	}
	k := token(sub.ID)
	exists := func() error { return fmt.Errorf("jetstream: create subscription: subscription %s exists", sub.ID) }
	// The pending state goes first (createPendingState), so it must not
	// land on a subscription of the same id.
	if _, _, err := s.getSub(ctx, sub.ID); err == nil {
		return nil, exists()
	} else if !errors.Is(err, eventing.ErrNotFound) {
		return nil, fmt.Errorf("jetstream: create subscription %s: %w", sub.ID, err)
	}
	if err := s.createPendingState(ctx, sub); err != nil {
		return nil, fmt.Errorf("jetstream: create subscription %s: %w", sub.ID, err)
	}
	if _, err := s.subs.kv.Create(ctx, k, v); err != nil {
		// Created meanwhile under the same id, or failed: the state
		// written for it goes again.
		s.dropState(sub.ID)
		if errors.Is(err, natsjs.ErrKeyExists) {
			return nil, exists()
		}
		return nil, fmt.Errorf("jetstream: create subscription %s: %w", sub.ID, err)
	}
	if sub.Key == "" {
		return nil, nil
	}
	existing, err := s.claimKey(ctx, sub)
	if existing != nil || err != nil {
		// Lost the key to another subscription, or failed: this one
		// must not stay.
		if perr := s.subs.purge(ctx, k, 0); perr != nil {
			s.logger.Warn("cannot remove a subscription not created", slog.String("subscription_id", sub.ID), slog.Any("err", perr))
		} else {
			s.dropState(sub.ID)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: create subscription %s: %w", sub.ID, err)
	}
	return existing, nil
}

// dropState removes the state written for a subscription CreateSubscription
// did not keep. It runs without the caller's context, which may be what
// failed; a state left behind belongs to no subscription and is never read
// as one's.
func (s *Store) dropState(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.deleteState(ctx, id); err != nil {
		s.logger.Warn("cannot remove the delivery state of a subscription not created", slog.String("subscription_id", id), slog.Any("err", err))
	}
}

// claimKey makes sub's key name sub, unless it names another subscription
// that exists, which it returns.
func (s *Store) claimKey(ctx context.Context, sub *eventing.Subscription) (*eventing.Subscription, error) {
	kk := keyHash(sub.Key)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, err := s.subKeys.kv.Create(ctx, kk, []byte(sub.ID))
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, natsjs.ErrKeyExists) {
			return nil, err
		}
		e, err := s.subKeys.kv.Get(ctx, kk)
		if isNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		existing, _, err := s.getSub(ctx, string(e.Value()))
		if err == nil {
			return existing, nil
		}
		if !errors.Is(err, eventing.ErrNotFound) {
			return nil, err
		}
		// The key names a subscription that is gone (a delete stopped
		// half way): take it over, unless someone else just did.
		if _, err := s.subKeys.kv.Update(ctx, kk, []byte(sub.ID), e.Revision()); err == nil {
			return nil, nil
		} else if !errors.Is(err, natsjs.ErrKeyRevisionMismatch) {
			return nil, err
		}
	}
}

// Subscription implements eventing.SubscriptionStore.
func (s *Store) Subscription(ctx context.Context, id string) (*eventing.Subscription, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sub, _, err := s.getSub(ctx, id)
	return sub, err
}

// UpdateSubscription implements eventing.SubscriptionStore as a
// compare-and-set on the record's revision. When another writer changed
// the record between the read and the write, the write is refused and fn
// runs again on the new record: fn may be called more than once, and
// must decide from the subscription it is given alone. The Key index is
// not changed (a Key is fixed when the subscription is created).
func (s *Store) UpdateSubscription(ctx context.Context, id string, fn func(*eventing.Subscription) error) (*eventing.Subscription, error) {
	for {
		if err := s.check(ctx); err != nil {
			return nil, err
		}
		sub, rev, err := s.getSub(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := fn(sub); err != nil {
			return nil, err
		}
		sub.ID = id
		v, err := json.Marshal(sub)
		if err != nil {
			return nil, fmt.Errorf("jetstream: update subscription %s: %w", id, err)
		}
		_, err = s.subs.kv.Update(ctx, token(id), v, rev)
		if err == nil {
			return sub, nil
		}
		if !errors.Is(err, natsjs.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("jetstream: update subscription %s: %w", id, err)
		}
	}
}

// DeleteSubscription implements eventing.SubscriptionStore. The record
// goes first, so the subscription is gone once that step succeeded; the
// key entry, delivery state and dead letters follow. If one of those
// fails the subscription is still deleted and the error says what was
// left behind (orphaned state and dead letters are never read as a
// subscription's; removing them is left to a sweeper, not written yet).
func (s *Store) DeleteSubscription(ctx context.Context, id string) (*eventing.Subscription, error) {
	k := token(id)
	var sub *eventing.Subscription
	for {
		if err := s.check(ctx); err != nil {
			return nil, err
		}
		var rev uint64
		var err error
		if sub, rev, err = s.getSub(ctx, id); err != nil {
			return nil, err
		}
		err = s.subs.purge(ctx, k, rev)
		if err == nil {
			break
		}
		if !errors.Is(err, natsjs.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("jetstream: delete subscription %s: %w", id, err)
		}
		// Changed or deleted meanwhile: look again.
	}
	var errs []error
	if sub.Key != "" {
		kk := keyHash(sub.Key)
		e, err := s.subKeys.kv.Get(ctx, kk)
		switch {
		case err == nil && string(e.Value()) == id:
			err = s.subKeys.purge(ctx, kk, e.Revision())
			if errors.Is(err, natsjs.ErrKeyRevisionMismatch) {
				err = nil // taken over meanwhile
			}
			errs = append(errs, err)
		case err != nil && !isNotFound(err):
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.deleteState(ctx, id), s.deleteDeadLetters(ctx, id))
	if err := errors.Join(errs...); err != nil {
		return sub, fmt.Errorf("jetstream: subscription %s deleted, but not all of its records: %w", id, err)
	}
	return sub, nil
}

// Subscriptions implements eventing.SubscriptionStore by listing the
// bucket (bucket.list: one consumer delivers every current record, the
// leader what that consumer's replica had not got yet).
func (s *Store) Subscriptions(ctx context.Context, fn func(*eventing.Subscription) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.subs.list(ctx, s, ">", func(e entry) error {
		sub, err := decodeSub(e.key, e.value)
		if err != nil {
			return err
		}
		return fn(sub)
	})
}

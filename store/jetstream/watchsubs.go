package jetstream

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
)

// Watching the subscriptions: several nodes share the subscriptions
// bucket, and each learns of the others' changes from a KV watcher (an
// ordered consumer on the bucket's stream, which nats.go recreates after
// a reconnect from where it was).

// SubscriptionsRevision returns the last revision of the subscriptions
// bucket: a watch from the one after it misses nothing that a listing
// (Subscriptions) started after this call did not see.
func (s *Store) SubscriptionsRevision(ctx context.Context) (uint64, error) {
	info, err := s.subs.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("jetstream: subscriptions: %w", err)
	}
	return info.State.LastSeq, nil
}

// WatchSubscriptions calls fn, from one goroutine and in the bucket's
// order, for every change of a stored subscription from revision from on:
// the new record, or nil when it was deleted. It returns once the watch is
// set up; the watch ends with ctx, or when the Store closes. The bucket
// keeps one revision per key, so a change overwritten before the watcher
// read it is not seen, but the key's last one is: a caller takes a change
// of a subscription it does not know for a new one (as
// eventing.Service.SubscriptionChanged does).
//
// The KV watcher is an ordered consumer too, and is guarded like the
// event watcher (watch.go): when it has delivered nothing for WatchStall
// while the bucket holds revisions after the last one it delivered, it is
// replaced by a new one that resumes after that revision.
func (s *Store) WatchSubscriptions(ctx context.Context, from uint64, fn func(id string, sub *eventing.Subscription)) error {
	if from == 0 {
		// From now on: from the revision after the last, so that the
		// guard knows where the watcher is.
		rev, err := s.SubscriptionsRevision(ctx)
		if err != nil {
			return err
		}
		from = rev + 1
	}
	w, err := s.watchSubsFrom(ctx, from)
	if err != nil {
		return err
	}
	go func() {
		defer func() { _ = w.Stop() }()
		last := from - 1
		moved := s.clock.Now()
		check := make(chan struct{}, 1)
		tick := func() {
			s.clock.AfterFunc(watchCheckEvery, func() {
				select {
				case check <- struct{}{}:
				default:
				}
			})
		}
		tick()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil || e.Revision() <= last {
					continue // the end of the initial values, or seen before a replacement
				}
				if s.subsDeaf.Load() == s.subsReplaced.Load()+1 {
					continue // a test's stalled watcher (StallSubscriptionWatch)
				}
				last, moved = e.Revision(), s.clock.Now()
				s.subscriptionChanged(e, fn)
			case <-check:
				tick()
				if s.clock.Now().Sub(moved) < s.watchStall {
					continue
				}
				rctx, cancel := context.WithTimeout(ctx, streamRequestTimeout)
				head, err := s.SubscriptionsRevision(rctx)
				cancel()
				if err != nil || head <= last {
					continue
				}
				s.logger.Warn("subscription watcher stalled; replacing it", slog.Uint64("last", last), slog.Uint64("bucket_last", head))
				next, err := s.watchSubsFrom(ctx, last+1)
				if err != nil {
					s.logger.Warn("subscription watcher not replaced; trying again", slog.Any("err", err))
					continue
				}
				old := w
				w, moved = next, s.clock.Now()
				s.subsReplaced.Add(1)
				go func() { _ = old.Stop() }()
			}
		}
	}()
	return nil
}

// watchSubsFrom starts a KV watcher of the subscriptions from revision
// from on; it lives as long as ctx.
func (s *Store) watchSubsFrom(ctx context.Context, from uint64) (natsjs.KeyWatcher, error) {
	w, err := s.subs.kv.WatchAll(ctx, natsjs.ResumeFromRevision(from))
	if err != nil {
		return nil, fmt.Errorf("jetstream: watch subscriptions: %w", err)
	}
	return w, nil
}

func (s *Store) subscriptionChanged(e natsjs.KeyValueEntry, fn func(string, *eventing.Subscription)) {
	if e.Operation() != natsjs.KeyValuePut {
		id, ok := unescape(e.Key())
		if !ok {
			s.logger.Warn("a deleted subscription's key does not decode; this node keeps it until it restarts", slog.String("key", e.Key()))
			return
		}
		fn(id, nil)
		return
	}
	sub, err := decodeSub(e.Key(), e.Value())
	if err != nil {
		s.logger.Error("a changed subscription does not decode", slog.String("key", e.Key()), slog.Any("err", err))
		return
	}
	fn(sub.ID, sub)
}

// unescape inverts escape; false for a hashed token (see token) or a
// string escape does not write.
func unescape(t string) (string, bool) {
	if t == "=" {
		return "", true
	}
	if strings.HasPrefix(t, "/") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '=' {
			b.WriteByte(t[i])
			continue
		}
		if i+3 > len(t) {
			return "", false
		}
		v, err := hex.DecodeString(t[i+1 : i+3])
		if err != nil {
			return "", false
		}
		b.WriteByte(v[0])
		i += 2
	}
	return b.String(), true
}

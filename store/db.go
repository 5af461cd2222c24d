package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/eventing"
)

// ErrClosed is returned by operations on a closed DB.
var ErrClosed = errors.New("store: closed")

// ErrSchemaVersion is returned by Open for a file written by another
// version of the layout.
var ErrSchemaVersion = errors.New("store: unsupported schema version")

// Options configure Open.
type Options struct {
	// NoSync skips fsync. Only for tests: a crash loses data.
	NoSync bool
	// Timeout bounds the wait for the file lock held by another process
	// (default 5 s).
	Timeout time.Duration
	// MaxBatch caps how many appends one commit takes (default 1024).
	MaxBatch int
	// IndexInterval is how long the topic indexer lets entries gather
	// before it writes them (default 50 ms).
	IndexInterval time.Duration
	// GatherWindow is how long the writer waits for more appends before a
	// commit when the previous commit carried several (default 1.5 ms, a
	// few commits' time: measured best for 64 publishers on the reference
	// machine without hurting end-to-end latency; a negative value never
	// waits). A lone publisher never waits.
	GatherWindow time.Duration
	Logger       *slog.Logger
	// OnCommit, when set, is called by the writer after each commit of
	// appends with their number and the commit's duration (fsync
	// included), for metrics. It must not block.
	OnCommit func(events int, took time.Duration)
}

// DB is Herald's bbolt store. It is safe for concurrent use.
type DB struct {
	bolt     *bolt.DB
	logger   *slog.Logger
	maxBatch int
	gather   time.Duration
	onCommit func(int, time.Duration)

	head    atomic.Uint64
	index   *indexer
	appends chan *appendReq
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.RWMutex
	closed  bool
	// keysMu is held through every write transaction: keys changes with
	// them (see keyindex.go).
	keysMu   sync.Mutex
	keys     *keyIndex
	ahead    *aheadFiller
	watchMu  sync.RWMutex
	watchers []func([]*eventing.Event)
}

var _ eventing.Store = (*DB)(nil)

// An appendReq is one request to the writer: an event to append (msg), or
// a write of other data (fn) that shares the commit, and so the fsync, of
// the appends and writes waiting with it.
type appendReq struct {
	msg      *eventing.Message
	received time.Time
	ev       *eventing.Event
	// fn, when set, is the write; it may run more than once (when another
	// write of the same commit fails, the commit is tried again without
	// it), so it must set its results afresh each time.
	fn   func(tx *bolt.Tx) error
	err  error
	done chan struct{}
}

// Open opens (creating if needed) the database in directory dir.
func Open(dir string, o Options) (*DB, error) {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.IndexInterval <= 0 {
		o.IndexInterval = 50 * time.Millisecond
	}
	if o.GatherWindow == 0 {
		o.GatherWindow = 1500 * time.Microsecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: o.Timeout,
		// The freelist is rebuilt when the file is opened instead of being
		// written at every commit: fewer pages per fsync.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Large enough that read transactions never block a writer that
		// grows the file.
		InitialMmapSize: 1 << 30,
		NoSync:          o.NoSync,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{bolt: b, logger: o.Logger, maxBatch: o.MaxBatch, gather: o.GatherWindow, onCommit: o.OnCommit,
		appends: make(chan *appendReq, o.MaxBatch), stop: make(chan struct{}), done: make(chan struct{}), keys: newKeyIndex()}
	db.index = newIndexer(db, o.IndexInterval)
	if !o.NoSync {
		if db.ahead, err = newAheadFiller(path, 4<<20); err != nil {
			b.Close()
			return nil, err
		}
	}
	if err := db.init(); err != nil {
		b.Close()
		return nil, err
	}
	go db.writer()
	go db.index.run()
	return db, nil
}

func (db *DB) init() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("store: create bucket %s: %w", name, err)
			}
		}
		for _, name := range droppedBuckets {
			if tx.Bucket(name) == nil {
				continue
			}
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("store: drop bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keySchemaVersion); {
		case v == nil || slices.Contains(upgradable, string(v)):
			if err := meta.Put(keySchemaVersion, []byte(SchemaVersion)); err != nil {
				return err
			}
		case string(v) != SchemaVersion:
			return fmt.Errorf("%w %q (this Herald reads %q)", ErrSchemaVersion, v, SchemaVersion)
		}
		db.head.Store(lastSeq(tx))
		if err := db.keys.load(tx); err != nil {
			return fmt.Errorf("store: index the subscriptions' keys: %w", err)
		}
		return reindex(tx)
	})
}

// Close stops the writer and closes the file. Appends waiting are refused.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	close(db.stop)
	db.closeMu.Unlock()
	<-db.done
	db.index.close()
	err := db.bolt.Close()
	if cerr := db.ahead.close(); err == nil {
		err = cerr
	}
	return err
}

// Ready reports whether the database is open.
func (db *DB) Ready() bool {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	return !db.closed
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.bolt.Path() }

func (db *DB) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

func (db *DB) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.boltUpdate(fn)
}

// boltUpdate runs fn in a write transaction, and keeps the key index's
// changes only if it commits.
func (db *DB) boltUpdate(fn func(tx *bolt.Tx) error) (err error) {
	db.keysMu.Lock()
	committed := false
	defer func() {
		db.keys.settle(committed)
		db.keysMu.Unlock()
	}()
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if err := db.ahead.fill(tx); err != nil {
			db.logger.Warn("cannot write the file ahead of its data; commits into new pages may be slower", "err", err)
		}
		return fn(tx)
	})
	committed = err == nil
	return err
}

// --- subscriptions ---

func getSub(tx *bolt.Tx, id string) (*eventing.Subscription, error) {
	v := tx.Bucket(bucketSubscriptions).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("store: subscription %s: %w", id, eventing.ErrNotFound)
	}
	s, err := decodeSub([]byte(id), v, nil)
	if err != nil {
		return nil, fmt.Errorf("store: subscription %s: %w", id, err)
	}
	return s, nil
}

func (db *DB) putSub(tx *bolt.Tx, s *eventing.Subscription) error {
	return db.putSubRecord(tx, s, encodeSub(s))
}

// putSubRecord stores s, whose encoded record is v, with its indexes.
// subscriptionFill is how full the writer packs the pages of the buckets
// keyed by subscription id when it splits them.
const subscriptionFill = 0.95

func (db *DB) putSubRecord(tx *bolt.Tx, s *eventing.Subscription, v []byte) error {
	subs := tx.Bucket(bucketSubscriptions)
	// Subscription ids are time-ordered (UUIDv7): new ones go last, so
	// full pages instead of bbolt's half-full splits keep the bucket at
	// about 1 record per its size instead of 2.5 (a million subscriptions
	// touch that much less of the mmap).
	subs.FillPercent = subscriptionFill
	if err := subs.Put([]byte(s.ID), v); err != nil {
		return err
	}
	if s.Key != "" {
		return db.keys.put(tx, s.Key, s.ID)
	}
	return nil
}

// CreateSubscription implements eventing.SubscriptionStore. It commits with
// the appends and writes waiting at the same time (one fsync for all), and
// returns once the subscription is durable.
//
// It stores no delivery state: only this process writes the file, and its
// Service holds the stored matched-through position at or below s.Start
// until the dispatcher has s (eventing.Dispatcher.HoldThrough), so s is at
// Start after a crash from its record alone. A pending state stored here
// cost each subscribe a second bucket's page in its commit, and the first
// flush after it another commit's delete.
func (db *DB) CreateSubscription(ctx context.Context, s *eventing.Subscription) (*eventing.Subscription, error) {
	// Encoded here, not in the writer, whose time every commit waits for.
	rec := encodeSub(s)
	var existing *eventing.Subscription
	err := db.write(ctx, func(tx *bolt.Tx) error {
		existing = nil
		if s.Key != "" {
			e, err := db.keys.lookup(tx, s.Key)
			if err != nil {
				return err
			}
			if e != nil {
				existing = e
				return nil
			}
		}
		if tx.Bucket(bucketSubscriptions).Get([]byte(s.ID)) != nil {
			return fmt.Errorf("store: subscription %s exists", s.ID)
		}
		return db.putSubRecord(tx, s, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("store: create subscription: %w", err)
	}
	return existing, nil
}

// CreateSubscriptions stores many new subscriptions in one transaction (an
// import, a benchmark's setup); unlike CreateSubscription it does not look
// for an existing subscription with the same key, and fails if an id exists.
func (db *DB) CreateSubscriptions(ctx context.Context, subs []*eventing.Subscription) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		for _, s := range subs {
			if b.Get([]byte(s.ID)) != nil {
				return fmt.Errorf("store: subscription %s exists", s.ID)
			}
			if err := db.putSub(tx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: create subscriptions: %w", err)
	}
	return nil
}

// Subscription implements eventing.SubscriptionStore.
func (db *DB) Subscription(ctx context.Context, id string) (*eventing.Subscription, error) {
	var s *eventing.Subscription
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		s, err = getSub(tx, id)
		return err
	})
	return s, err
}

// UpdateSubscription implements eventing.SubscriptionStore.
func (db *DB) UpdateSubscription(ctx context.Context, id string, fn func(*eventing.Subscription) error) (*eventing.Subscription, error) {
	var s *eventing.Subscription
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if s, err = getSub(tx, id); err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
		s.ID = id
		return db.putSub(tx, s)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// DeleteSubscription implements eventing.SubscriptionStore.
func (db *DB) DeleteSubscription(ctx context.Context, id string) (*eventing.Subscription, error) {
	var s *eventing.Subscription
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if s, err = getSub(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSubscriptions).Delete([]byte(id)); err != nil {
			return err
		}
		if s.Key != "" {
			db.keys.remove(s.Key, id)
		}
		if err := tx.Bucket(bucketDeliveryState).Delete([]byte(id)); err != nil {
			return err
		}
		return deletePrefix(tx.Bucket(bucketDeadLetters), append([]byte(id), 0))
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Subscriptions implements eventing.SubscriptionStore.
func (db *DB) Subscriptions(ctx context.Context, fn func(*eventing.Subscription) error) error {
	return db.view(ctx, func(tx *bolt.Tx) error {
		in := interner{}
		return tx.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
			s, err := decodeSub(k, v, in)
			if err != nil {
				return fmt.Errorf("store: subscription %s: %w", k, err)
			}
			return fn(s)
		})
	})
}

// SubscriptionCount implements eventing.SubscriptionLoader: the number of
// keys of the subscriptions bucket, which bbolt counts from its pages
// without decoding a record.
func (db *DB) SubscriptionCount(ctx context.Context) (int, error) {
	var n int
	err := db.view(ctx, func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSubscriptions).Stats().KeyN
		return nil
	})
	return n, err
}

// LoadSubscriptions implements eventing.SubscriptionLoader, in one read
// transaction in key order.
func (db *DB) LoadSubscriptions(ctx context.Context, fn func(trimmed *eventing.Subscription, full func() (*eventing.Subscription, error)) error) error {
	return db.view(ctx, func(tx *bolt.Tx) error {
		in := interner{}
		var k, v []byte
		// v is bbolt's memory, valid only in this transaction: a full
		// kept past it answers an error, however the load ended.
		defer func() { k, v = nil, nil }()
		full := func() (*eventing.Subscription, error) {
			if k == nil {
				return nil, errors.New("store: a subscription's full record read outside its load callback")
			}
			return decodeSub(k, v, in)
		}
		c := tx.Bucket(bucketSubscriptions).Cursor()
		for k, v = c.First(); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			s, err := decodeSubTrimmed(k, v, in)
			if err == nil {
				err = fn(s, full)
			}
			if err != nil {
				return fmt.Errorf("store: subscription %s: %w", k, err)
			}
		}
		return nil
	})
}

// SubscriptionsByTopic returns the ids of the subscriptions with a topic
// filter for topic. It reads every record: nothing in Herald looks
// subscriptions up by topic (the dispatcher keeps its own index), so the
// file keeps no index for it (tests and operators' checks use this).
func (db *DB) SubscriptionsByTopic(ctx context.Context, topic string) ([]string, error) {
	var ids []string
	err := db.Subscriptions(ctx, func(s *eventing.Subscription) error {
		if s.Topic() == topic {
			ids = append(ids, s.ID)
		}
		return nil
	})
	return ids, err
}

// --- delivery state ---

// DeliveryStates implements eventing.StateStore.
func (db *DB) DeliveryStates(ctx context.Context) (uint64, map[string]*eventing.DeliveryState, error) {
	out := map[string]*eventing.DeliveryState{}
	var through uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		through = matchedThrough(tx)
		return tx.Bucket(bucketDeliveryState).ForEach(func(k, v []byte) error {
			var st eventing.DeliveryState
			if err := decodeState(v, &st); err != nil {
				return fmt.Errorf("store: delivery state %s: %w", k, err)
			}
			out[string(k)] = &st
			return nil
		})
	})
	return through, out, err
}

func matchedThrough(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyMatchedThrough); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// SaveDeliveryStates implements eventing.StateStore, in one transaction.
func (db *DB) SaveDeliveryStates(ctx context.Context, through uint64, states map[string]*eventing.DeliveryState) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		subs, b := tx.Bucket(bucketSubscriptions), tx.Bucket(bucketDeliveryState)
		for id, st := range states {
			if subs.Get([]byte(id)) == nil {
				continue
			}
			if st == nil {
				if err := b.Delete([]byte(id)); err != nil {
					return err
				}
				continue
			}
			if st.Log == nil {
				var old eventing.DeliveryState
				if v := b.Get([]byte(id)); v != nil && decodeState(v, &old) == nil {
					cp := *st
					cp.Log = old.Log
					st = &cp
				}
			}
			v, err := encodeState(st)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		if through > matchedThrough(tx) {
			return tx.Bucket(bucketMeta).Put(keyMatchedThrough, u64(through))
		}
		return nil
	})
}

// --- dead letters ---

// AddDeadLetter implements eventing.DeadLetterStore; ErrNotFound when the
// subscription is gone.
func (db *DB) AddDeadLetter(ctx context.Context, id string, dl *eventing.DeadLetter) error {
	v, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSubscriptions).Get([]byte(id)) == nil {
			return fmt.Errorf("store: subscription %s: %w", id, eventing.ErrNotFound)
		}
		return tx.Bucket(bucketDeadLetters).Put(prefixKey(id, dl.Seq), v)
	})
}

func (db *DB) deadLetters(tx *bolt.Tx, id string, fn func(k []byte, dl *eventing.DeadLetter) error) error {
	prefix := append([]byte(id), 0)
	c := tx.Bucket(bucketDeadLetters).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var dl eventing.DeadLetter
		if err := json.Unmarshal(v, &dl); err != nil {
			return fmt.Errorf("store: dead letter %q: %w", k, err)
		}
		if err := fn(k, &dl); err != nil {
			return err
		}
	}
	return nil
}

// DeadLetters implements eventing.DeadLetterStore.
func (db *DB) DeadLetters(ctx context.Context, id string) ([]*eventing.DeadLetter, error) {
	var out []*eventing.DeadLetter
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return db.deadLetters(tx, id, func(_ []byte, dl *eventing.DeadLetter) error {
			out = append(out, dl)
			return nil
		})
	})
	return out, err
}

// MarkReplay implements eventing.DeadLetterStore.
func (db *DB) MarkReplay(ctx context.Context, id string, since time.Time) ([]*eventing.DeadLetter, error) {
	var out []*eventing.DeadLetter
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeadLetters)
		var keys [][]byte
		err := db.deadLetters(tx, id, func(k []byte, dl *eventing.DeadLetter) error {
			if !dl.Replay && !dl.Time.Before(since) {
				dl.Replay = true
				out = append(out, dl)
				keys = append(keys, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, k := range keys {
			v, err := json.Marshal(out[i])
			if err != nil {
				return err
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Replaying implements eventing.DeadLetterStore.
func (db *DB) Replaying(ctx context.Context) (map[string][]*eventing.DeadLetter, error) {
	out := map[string][]*eventing.DeadLetter{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeadLetters).ForEach(func(k, v []byte) error {
			var dl eventing.DeadLetter
			if err := json.Unmarshal(v, &dl); err != nil {
				return fmt.Errorf("store: dead letter %q: %w", k, err)
			}
			if dl.Replay && len(k) > 9 {
				id := string(k[:len(k)-9])
				out[id] = append(out[id], &dl)
			}
			return nil
		})
	})
	return out, err
}

// DeleteDeadLetter implements eventing.DeadLetterStore.
func (db *DB) DeleteDeadLetter(ctx context.Context, id string, seq uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeadLetters).Delete(prefixKey(id, seq))
	})
}

// --- settings ---

// Setting implements eventing.SettingStore.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.view(ctx, func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bucketSettings).Get([]byte(key)))
		return nil
	})
	return v, err
}

// SetSetting implements eventing.SettingStore.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSettings).Put([]byte(key), []byte(value))
	})
}

package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/herald-eventing/herald/store/eventcodec"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/eventing"
)

// The event log: appends go through one writer goroutine that commits the
// waiting appends in one transaction (group commit). The topic index is
// derived data and off that path: an indexer writes it behind the log in
// larger transactions, and readers scan the short unindexed tail.

// Append implements eventing.EventLog: the event is durable when it returns.
func (db *DB) Append(ctx context.Context, m *eventing.Message, received time.Time) (*eventing.Event, error) {
	req := &appendReq{msg: m, received: received, done: make(chan struct{})}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case db.appends <- req:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	db.closeMu.RUnlock()
	select {
	case <-req.done:
		return req.ev, req.err
	case <-ctx.Done():
		// The event may still be committed; it is then delivered, but
		// the caller did not get an acknowledgement.
		return nil, ctx.Err()
	}
}

// write runs fn in a transaction of the writer, which commits it with the
// appends and writes waiting (group commit), and returns once the commit is
// durable. fn may run more than once (see appendReq.fn).
func (db *DB) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err // a select on a ready channel and a done context picks at random
	}
	req := &appendReq{fn: fn, done: make(chan struct{})}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case db.appends <- req:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	db.closeMu.RUnlock()
	// Unlike an append, a write is waited for even when ctx ends: fn
	// writes the caller's variables, and may still run.
	<-req.done
	return req.err
}

// writer is the log's only writer: it takes the appends that are waiting
// and commits them in one transaction.
//
// A commit costs about the same for one event as for a hundred, so under
// concurrent load the writer gathers: when the previous commit carried
// several appends, it waits up to the gather window for as many as it
// carried. A lone publisher's commit (previous batch of one) never waits.
// Fewer, larger commits cost less CPU and I/O per event: a commit's two
// fdatasyncs and page writes cost about the same for one event or a
// hundred.
func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*appendReq, 0, db.maxBatch)
	last := 0
	var timer *time.Timer
	for {
		batch = batch[:0]
		select {
		case r := <-db.appends:
			batch = append(batch, r)
		case <-db.stop:
			db.drainClosed()
			return
		}
		db.drain(&batch)
		if last > 1 && db.gather > 0 && len(batch) < min(last, db.maxBatch) {
			if timer == nil {
				timer = time.NewTimer(db.gather)
			} else {
				timer.Reset(db.gather)
			}
		gather:
			for len(batch) < min(last, db.maxBatch) {
				select {
				case r := <-db.appends:
					batch = append(batch, r)
					db.drain(&batch)
				case <-timer.C:
					break gather
				case <-db.stop:
					break gather
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		last = len(batch)
		start := time.Now()
		events := db.commit(batch)
		if db.onCommit != nil && events > 0 {
			db.onCommit(events, time.Since(start))
		}
	}
}

// drain adds the appends already waiting to the batch, up to its limit.
func (db *DB) drain(batch *[]*appendReq) {
	for len(*batch) < db.maxBatch {
		select {
		case r := <-db.appends:
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

func (db *DB) drainClosed() {
	for {
		select {
		case r := <-db.appends:
			r.err = ErrClosed
			close(r.done)
		default:
			return
		}
	}
}

// commit writes the batch in one transaction and returns how many events
// it appended.
func (db *DB) commit(batch []*appendReq) int {
	seq := db.head.Load()
	var failed []*appendReq
	var err error
	for {
		err = db.boltUpdate(func(tx *bolt.Tx) error {
			events := tx.Bucket(bucketEvents)
			// Sequence numbers only grow: full pages instead of half-full
			// splits mean fewer pages to write per commit.
			events.FillPercent = 1.0
			s := seq
			for _, r := range batch {
				if r.fn != nil {
					if err := r.fn(tx); err != nil {
						r.err = err
						return errWriteFailed
					}
					continue
				}
				s++
				if err := events.Put(u64(s), eventcodec.Encode(r.received, r.msg)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != errWriteFailed {
			break
		}
		// One write failed (its own error, not the commit's): the
		// others are committed without it, as bbolt's Batch does.
		keep := batch[:0]
		for _, r := range batch {
			if r.err != nil {
				failed = append(failed, r)
			} else {
				keep = append(keep, r)
			}
		}
		batch = keep
	}
	evs := make([]*eventing.Event, 0, len(batch))
	if err == nil {
		s := seq
		for _, r := range batch {
			if r.fn != nil {
				continue
			}
			s++
			r.ev = eventing.NewEvent(s, r.received.UTC(), *r.msg)
			evs = append(evs, r.ev)
		}
		db.head.Store(s)
		if len(evs) > 0 {
			db.index.add(evs)
			db.watchMu.RLock()
			for _, w := range db.watchers {
				w(evs)
			}
			db.watchMu.RUnlock()
		}
	} else {
		err = fmt.Errorf("store: append: %w", err)
	}
	for _, r := range batch {
		r.err = err
		close(r.done)
	}
	for _, r := range failed {
		close(r.done)
	}
	return len(evs)
}

// errWriteFailed aborts a commit one of whose writes failed.
var errWriteFailed = errors.New("store: a write of the commit failed")

// indexer writes the topic index behind the log.
type indexer struct {
	db       *DB
	interval time.Duration
	flushMu  sync.Mutex // one flush at a time, so the position only grows
	mu       sync.Mutex
	pending  []indexEntry
	signal   chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

type indexEntry struct {
	topic string
	seq   uint64
}

func newIndexer(db *DB, interval time.Duration) *indexer {
	return &indexer{db: db, interval: interval, signal: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// add queues committed events for indexing; it never blocks.
func (ix *indexer) add(evs []*eventing.Event) {
	ix.mu.Lock()
	for _, ev := range evs {
		ix.pending = append(ix.pending, indexEntry{ev.Topic, ev.Seq})
	}
	ix.mu.Unlock()
	select {
	case ix.signal <- struct{}{}:
	default:
	}
}

func (ix *indexer) run() {
	defer close(ix.done)
	for {
		select {
		case <-ix.signal:
		case <-ix.stop:
			ix.flush()
			return
		}
		// Let a batch gather, then write it.
		select {
		case <-time.After(ix.interval):
		case <-ix.stop:
			ix.flush()
			return
		}
		ix.flush()
	}
}

// flush writes the pending entries and the position they reach.
func (ix *indexer) flush() {
	ix.flushMu.Lock()
	defer ix.flushMu.Unlock()
	ix.mu.Lock()
	entries := ix.pending
	ix.pending = nil
	ix.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	err := ix.db.bolt.Update(func(tx *bolt.Tx) error {
		return putIndex(tx, entries)
	})
	if err != nil {
		ix.db.logger.Error("cannot write the topic index; will retry", slog.Any("err", err))
		ix.mu.Lock()
		ix.pending = append(entries, ix.pending...)
		ix.mu.Unlock()
		select {
		case ix.signal <- struct{}{}:
		default:
		}
	}
}

func putIndex(tx *bolt.Tx, entries []indexEntry) error {
	byTopic := tx.Bucket(bucketEventsByTopic)
	for _, e := range entries {
		if err := byTopic.Put(prefixKey(e.topic, e.seq), nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keyIndexedThrough, u64(entries[len(entries)-1].seq))
}

func (ix *indexer) close() {
	close(ix.stop)
	<-ix.done
}

func indexedThrough(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyIndexedThrough); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// reindex indexes the events a crash left unindexed (run by Open).
func reindex(tx *bolt.Tx) error {
	from := indexedThrough(tx)
	var entries []indexEntry
	c := tx.Bucket(bucketEvents).Cursor()
	for k, v := c.Seek(u64(from + 1)); k != nil; k, v = c.Next() {
		ev, err := eventcodec.Decode(binary.BigEndian.Uint64(k), v)
		if err != nil {
			return err
		}
		entries = append(entries, indexEntry{ev.Topic, ev.Seq})
	}
	if len(entries) == 0 {
		return nil
	}
	return putIndex(tx, entries)
}

// lastSeq is the sequence number of the last appended event: the last key
// of the events bucket, or, when trimming removed every event, the
// position Trim recorded.
func lastSeq(tx *bolt.Tx) uint64 {
	var last uint64
	if v := tx.Bucket(bucketMeta).Get(keyLastSeq); len(v) == 8 {
		last = binary.BigEndian.Uint64(v)
	}
	if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); len(k) == 8 {
		last = max(last, binary.BigEndian.Uint64(k))
	}
	return last
}

// Head implements eventing.EventLog.
func (db *DB) Head() uint64 { return db.head.Load() }

// Watch implements eventing.EventLog.
func (db *DB) Watch(fn func([]*eventing.Event)) {
	db.watchMu.Lock()
	db.watchers = append(db.watchers, fn)
	db.watchMu.Unlock()
}

// ReadEvents implements eventing.EventLog. A topic read uses the index up to
// the position the indexer reached and scans the events after it.
func (db *DB) ReadEvents(ctx context.Context, after uint64, max int, topic string) ([]*eventing.Event, uint64, error) {
	var out []*eventing.Event
	through := after
	err := db.view(ctx, func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		last := lastSeq(tx)
		scanFrom := after
		if topic != "" {
			indexed := indexedThrough(tx)
			prefix := append([]byte(topic), 0)
			c := tx.Bucket(bucketEventsByTopic).Cursor()
			for k, _ := c.Seek(prefixKey(topic, after+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < max; k, _ = c.Next() {
				if len(k) != len(prefix)+8 {
					continue
				}
				seq := binary.BigEndian.Uint64(k[len(prefix):])
				if seq > indexed {
					break
				}
				v := events.Get(k[len(prefix):])
				if v == nil {
					continue // trimmed
				}
				ev, err := eventcodec.Decode(seq, v)
				if err != nil {
					return err
				}
				out = append(out, ev)
			}
			if len(out) == max {
				through = out[len(out)-1].Seq
				return nil
			}
			scanFrom = maxU64(after, indexed)
		}
		c := events.Cursor()
		for k, v := c.Seek(u64(scanFrom + 1)); k != nil && len(out) < max; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if topic != "" && !hasTopic(v, topic) {
				continue
			}
			ev, err := eventcodec.Decode(seq, v)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		if len(out) < max {
			through = maxU64(after, last)
		} else {
			through = out[len(out)-1].Seq
		}
		return nil
	})
	if err != nil {
		return nil, after, fmt.Errorf("store: read events: %w", err)
	}
	return out, through, nil
}

// hasTopic reports whether an encoded event has the topic, without
// decoding the rest.
func hasTopic(v []byte, topic string) bool {
	if len(v) < 8 {
		return false
	}
	l, n := binary.Uvarint(v[8:])
	if n <= 0 || uint64(len(v)-8-n) < l {
		return false
	}
	return string(v[8+n:8+n+int(l)]) == topic
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// Trim implements eventing.EventLog. It deletes in transactions of at most
// 10,000 events, and never past what the indexer has indexed.
func (db *DB) Trim(ctx context.Context, through uint64, before time.Time) (int, error) {
	db.index.flush()
	total := 0
	for {
		n := 0
		more := false
		err := db.update(ctx, func(tx *bolt.Tx) error {
			events, byTopic := tx.Bucket(bucketEvents), tx.Bucket(bucketEventsByTopic)
			// Keep the head known even if every event goes.
			if err := tx.Bucket(bucketMeta).Put(keyLastSeq, u64(lastSeq(tx))); err != nil {
				return err
			}
			limit := min(through, indexedThrough(tx))
			c := events.Cursor()
			for k, v := c.First(); k != nil; k, v = c.First() {
				seq := binary.BigEndian.Uint64(k)
				if seq > limit || len(v) < 8 || time.Unix(0, int64(binary.BigEndian.Uint64(v))).After(before) {
					return nil
				}
				ev, err := eventcodec.Decode(seq, v)
				if err != nil {
					return err
				}
				if err := byTopic.Delete(prefixKey(ev.Topic, seq)); err != nil {
					return err
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
				if n == 10000 {
					more = true
					return nil
				}
			}
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("store: trim: %w", err)
		}
		if !more {
			return total, nil
		}
	}
}

package jetstream

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/herald-eventing/herald/eventing"
)

// DefaultPartitions is LeaseOptions.Partitions when it is 0.
const DefaultPartitions = eventing.DefaultPartitions

// DefaultLeaseTTL is LeaseOptions.TTL when it is 0.
const DefaultLeaseTTL = 15 * time.Second

// MinLeaseTTL is the shortest LeaseOptions.TTL that Store.Leases accepts: a
// lease is renewed every TTL/3 with requests bounded by TTL/3.
const MinLeaseTTL = 100 * time.Millisecond

// LeaseOptions configure Store.Leases.
type LeaseOptions struct {
	// Node names this node among those sharing the store (required, and
	// unique: two Leases with the same Node still never own a partition
	// together, since each writes its own run identity, but they count as
	// one node for the fair share and overwrite each other's heartbeat).
	Node string
	// Partitions is how many partitions there are, numbered from 0
	// (default DefaultPartitions). Every node of a store must use the
	// same number.
	Partitions int
	// TTL is how long a lease lasts without renewal (default
	// DefaultLeaseTTL, at least MinLeaseTTL). Leases are renewed every
	// TTL/3; a holder fences itself TTL/3 before another node may take
	// its lease; a node that leaves without Close is replaced after about
	// TTL. Every node of a store must use the same TTL.
	TTL time.Duration
	// Clock runs the lease goroutine's timers (default
	// eventing.SystemClock). Requests to the servers are bounded on wall
	// time whatever the clock.
	Clock eventing.Clock
	// Logger receives lease events (default: the Store's logger).
	Logger *slog.Logger
	// Acquired is called when this node starts owning partition p, after
	// Owns(p) turned true; Released when it stops (its lease was lost,
	// fenced, given away for balance, or released by Close), after
	// Owns(p) turned false. Both are called on the lease goroutine, one
	// at a time, in the order of the changes, each Acquired of p before
	// the Released of p that ends it. Either may be nil.
	//
	// The lease goroutine also renews the leases, so both must return
	// quickly: well within TTL/3. Released may block briefly to stop the
	// work on p (wait for a delivery in flight, bounded): a lease given
	// away or released by Close is handed over only once Released
	// returned; a lease fenced by its deadline may be taken by another
	// node TTL/3 after the deadline, which bounds how long Released may
	// take then. They may call Owns and Owned, not Close.
	Acquired, Released func(p int)
	// Handover, if set, is called on the lease goroutine before this
	// node gives leases away for balance, with the partitions it gives
	// and a context that ends within TTL/6, while it still owns them:
	// it may save what the next holder needs (the Dispatcher's
	// Handover), so that a handover while the node is well repeats no
	// delivery. Released is called for each afterwards, as always.
	Handover func(ctx context.Context, ps []int)
}

// Leases decides which node delivers which partition: each partition is
// owned by at most one node at a time, and the partitions are spread
// evenly over the live nodes. A node learns what it owns from Owns, Owned
// and the Acquired and Released callbacks. Store.Leases starts one; Close
// stops it.
//
// # Keys
//
// The leases are the KV bucket <prefix>_leases. Partition n's lease is the
// key p.<n>; its value names the holder: the node's name and a run
// identity made fresh by each Store.Leases. Node x's heartbeat is the key
// n.<x> (x escaped as subject tokens are), with the same value.
//
// A lease is taken with Create (a key absent or deleted) or with Update
// against the revision seen when it expired, renewed every TTL/3 with
// Update against the revision this node last wrote, and given away by a
// purge against that revision. Every write is a compare-and-set, so of
// several nodes taking the same lease one wins.
//
// # Expiry
//
// The server's per-key TTL cannot be extended by an update, so expiry is
// observed instead: every node watches the bucket and records on its own
// clock when each key's revision last changed. A lease whose revision has
// not changed for TTL is expired, and may be taken; a deleted or purged
// lease is free at once.
//
// The holder fences itself: it treats its lease as lost once TTL - TTL/3
// passed since the start of its last successful write of the lease (the
// take or a renewal) without another success, or as soon as a write or
// the watch shows that someone else wrote the key. It then stops owning
// the lease (Owns turns false at the deadline itself, whatever the lease
// goroutine is doing) and calls Released. Another node can only take the
// lease TTL after it observed that write, which happened after the
// holder's request started: so the holder has let go TTL/3 before anyone
// can take over.
//
// That argument needs no synchronised clocks, only clocks that run at
// about the same rate (within some 15% of each other over a TTL, leaving
// the rest of TTL/3 for the lease goroutine to notice the deadline and
// run Released), and a process not paused for longer than TTL/3 between
// its check of Owns and the work it does for the partition.
//
// # Requests
//
// Every request of the lease goroutine ends after TTL/3 and before the
// first fencing deadline of the leases it holds (a request to a stream
// that has no leader may go unanswered), so the goroutine is never busy
// in a request when a deadline is due. A round in which a renewal or the
// heartbeat failed is tried again TTL/6 later. A write whose answer did
// not come may still have been stored: the holder then recognises its
// run in the key, keeps a renewal it did not see acknowledged (counting
// its deadline from the start of the first unanswered request), and
// deletes a lease it wrote but does not hold.
//
// The leases count on the bucket not losing acknowledged writes (see
// Durability in the package documentation): a lease lost by the servers
// could be taken while its holder still counts on it.
//
// # Balance
//
// Live nodes are those whose heartbeat changed within TTL (this node is
// always live). Of P partitions on N live nodes, P mod N nodes may own
// ceil(P/N) and the others floor(P/N): the ones that own the most now,
// ties by name, so that a stable assignment stays as it is. A node takes
// free partitions while it owns fewer than its share (first the ones it
// ranks highest by rendezvous hashing, so that nodes taking at once
// mostly try different ones) and gives away the extras once per renewal
// when it owns more. A node waits one renewal interval after it starts,
// watching heartbeats, before it takes anything, so that nodes started
// together share from the start.
type Leases struct {
	b        *bucket
	node     string
	run      string // this Leases' run identity
	value    []byte // the value it writes: node and run
	beatKey  string
	parts    int
	ttl      time.Duration
	clock    eventing.Clock
	logger   *slog.Logger
	acquired func(int)
	released func(int)
	handover func(context.Context, []int)

	epoch time.Time
	// until holds, by partition, when this node stops owning it at the
	// latest, as the time since epoch on clock (0: not owned).
	until []atomic.Int64
	// beatUntil is when this node's heartbeat stops counting as
	// renewed (as until; see Healthy).
	beatUntil atomic.Int64

	quit      chan struct{}
	closeCtx  chan context.Context // Close's context, for the final releases
	done      chan struct{}
	closeErr  error // the final releases' errors, set before done is closed
	closeOnce sync.Once
}

// A leaseHolder is the value of a lease or heartbeat key.
type leaseHolder struct {
	Node string `json:"node"`
	Run  string `json:"run"`
}

// renewEvery is how often leases are renewed and heartbeats written.
func (l *Leases) renewEvery() time.Duration { return l.ttl / 3 }

// fenceAfter is how long after the start of its last successful write a
// holder lets a lease go: TTL less the margin TTL/3.
func (l *Leases) fenceAfter() time.Duration { return l.ttl - l.ttl/3 }

// requestTimeout bounds every request of the lease goroutine (and
// bound bounds them further by the first fencing deadline).
func (l *Leases) requestTimeout() time.Duration { return l.ttl / 3 }

// retryAfter is how soon a round in which a renewal or the heartbeat
// failed is tried again.
func (l *Leases) retryAfter() time.Duration { return l.ttl / 6 }

// Leases starts this node's lease manager on the bucket <prefix>_leases,
// which it creates if needed (with the replicas of the store's event
// stream). ctx bounds the setup only; the manager runs until Close, even
// if the Store is closed or cut off from the servers in the meantime (it
// then fences itself: every lease is Released within TTL).
func (s *Store) Leases(ctx context.Context, o LeaseOptions) (*Leases, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	switch {
	case o.Node == "":
		return nil, errors.New("jetstream: leases: no node name")
	case o.Partitions < 0:
		return nil, fmt.Errorf("jetstream: leases: %d partitions", o.Partitions)
	case o.TTL < 0 || o.TTL > 0 && o.TTL < MinLeaseTTL:
		return nil, fmt.Errorf("jetstream: leases: TTL %v is below %v", o.TTL, MinLeaseTTL)
	}
	if o.Partitions == 0 {
		o.Partitions = DefaultPartitions
	}
	if o.TTL == 0 {
		o.TTL = DefaultLeaseTTL
	}
	if o.Clock == nil {
		o.Clock = eventing.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = s.logger
	}
	prefix := strings.TrimSuffix(s.streamName, "_events")
	b, err := ensureBucket(ctx, s.js, prefix+"_leases", "partition leases and node heartbeats",
		s.events.CachedInfo().Config.Replicas)
	if err != nil {
		return nil, err
	}
	run := nuid.Next()
	value, err := json.Marshal(leaseHolder{Node: o.Node, Run: run})
	if err != nil {
		return nil, err
	}
	l := &Leases{
		b: b, node: o.Node, run: run, value: value,
		beatKey:  "n." + token(o.Node),
		parts:    o.Partitions,
		ttl:      o.TTL,
		clock:    o.Clock,
		logger:   o.Logger.With(slog.String("node", o.Node)),
		acquired: o.Acquired, released: o.Released, handover: o.Handover,
		epoch:    o.Clock.Now(),
		until:    make([]atomic.Int64, o.Partitions),
		quit:     make(chan struct{}),
		closeCtx: make(chan context.Context, 1),
		done:     make(chan struct{}),
	}
	l.beatUntil.Store(int64(l.fenceAfter()))
	life, stop := context.WithCancel(context.Background())
	st := &leaseState{
		l:      l,
		obs:    make([]observed, o.Partitions),
		beats:  map[string]*observed{},
		owned:  map[int]*ownedLease{},
		tried:  map[int]attempt{},
		strays: map[int]uint64{},
		scores: map[string][]uint64{},
		wake:   make(chan struct{}, 1),
	}
	// The watcher is created here, retried like the bucket's binding, so
	// that the first renewal interval already observes the others.
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err = st.watch(life, ctx, streamRequestTimeout)
		if err == nil {
			break
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			stop()
			return nil, fmt.Errorf("jetstream: leases: watch %s: %w", b.kv.Bucket(), err)
		}
		select {
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("jetstream: leases: watch %s: %w", b.kv.Bucket(), err)
		case <-time.After(wait):
		}
	}
	st.startAt = l.clock.Now()
	l.logger.Info("leases started", slog.Int("partitions", l.parts), slog.Duration("ttl", l.ttl))
	go func() {
		defer stop()
		st.run(life)
	}()
	return l, nil
}

// Owns reports whether this node owns partition p now. It is lock-free:
// call it before every piece of work for p. It turns false at the
// lease's fencing deadline even before the lease goroutine calls
// Released.
func (l *Leases) Owns(p int) bool {
	if p < 0 || p >= len(l.until) {
		return false
	}
	u := l.until[p].Load()
	return u > 0 && int64(l.clock.Now().Sub(l.epoch)) < u
}

// Owned returns the partitions this node owns now, in increasing order.
func (l *Leases) Owned() []int {
	var ps []int
	for p := range l.until {
		if l.Owns(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// Close stops the lease manager: it calls Released for every partition
// this node owns and then deletes those leases and this node's heartbeat
// (each against the revision this node wrote), so that the other nodes
// take over at once rather than after TTL. ctx bounds the deletions; a
// lease whose deletion failed expires after TTL. Close returns once done
// (or when ctx ends, the rest continuing); later calls return nil.
func (l *Leases) Close(ctx context.Context) error {
	first := false
	l.closeOnce.Do(func() {
		first = true
		l.closeCtx <- ctx
		close(l.quit)
	})
	select {
	case <-l.done:
		if first {
			return l.closeErr
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setUntil records that this node owns p until start + fenceAfter.
// Healthy reports whether this node renewed its heartbeat within the
// fencing deadline (2/3 of the TTL): false for a node cut off from the
// store, which has fenced itself or is about to. Readiness follows it,
// so that a load balancer stops sending requests a node cannot serve.
// A node is healthy during its first fencing period, before its first
// heartbeat's answer.
func (l *Leases) Healthy() bool {
	return int64(l.clock.Now().Sub(l.epoch)) < l.beatUntil.Load()
}

func (l *Leases) setUntil(p int, start time.Time) {
	l.until[p].Store(max(int64(start.Add(l.fenceAfter()).Sub(l.epoch)), 1))
}

func leaseKey(p int) string { return "p." + strconv.Itoa(p) }

// An observed is what this node saw of a key: its revision, and when on
// this node's clock that revision was first seen.
type observed struct {
	rev     uint64 // 0: never seen
	seen    time.Time
	deleted bool
	holder  leaseHolder
}

// held reports whether the key names a holder who is not expired.
func (o *observed) held(now time.Time, ttl time.Duration) bool {
	return o.rev != 0 && !o.deleted && now.Sub(o.seen) < ttl
}

// An ownedLease is a lease this node holds.
type ownedLease struct {
	rev   uint64    // the revision this node wrote last
	start time.Time // when the request that wrote rev started
	// pending is the start of the first renewal since rev that got no
	// answer (zero: none). A write of this run that this node did not
	// see acknowledged started no earlier.
	pending time.Time
}

// An attempt is a take of a lease that did not succeed: it is not tried
// again at the same revision within a renewal interval.
type attempt struct {
	rev uint64
	at  time.Time
}

// leaseState is the lease goroutine's: nothing else touches it.
type leaseState struct {
	l       *Leases
	startAt time.Time

	w       natsjs.KeyWatcher // nil: none running
	stopW   context.CancelFunc
	updates <-chan natsjs.KeyValueEntry

	obs     []observed           // by partition
	beats   map[string]*observed // by heartbeat key
	owned   map[int]*ownedLease
	tried   map[int]attempt
	strays  map[int]uint64 // leases this run wrote but does not hold, by revision: to purge
	lost    []int          // leases the watcher showed written or deleted by someone else
	beatRev uint64         // the heartbeat revision this node wrote last (0: none)
	beatOK  bool           // whether the last heartbeat succeeded
	scores  map[string][]uint64

	nextRound time.Time
	wake      chan struct{}
}

// watch starts a watcher of the whole bucket that lives as long as life;
// its creation is bounded by ctx and timeout.
func (st *leaseState) watch(life, ctx context.Context, timeout time.Duration) error {
	wctx, cancel := context.WithCancel(life)
	// Cancelling wctx also stops the watcher, so it is cancelled only if
	// the creation does not return in time.
	t := time.AfterFunc(timeout, cancel)
	stopCtx := context.AfterFunc(ctx, cancel)
	w, err := st.l.b.kv.WatchAll(wctx)
	t.Stop()
	stopCtx()
	if err == nil && wctx.Err() != nil {
		w.Stop()
		err = fmt.Errorf("watch: %w", context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return err
	}
	st.w, st.stopW, st.updates = w, cancel, w.Updates()
	return nil
}

// stopWatch stops the watcher by cancelling its context, and drains it
// so that the client's delivery, which blocks on a full channel, ends.
// (The watcher's Stop would delete its consumer with a request bounded
// only by the client's default wait; cancelling unsubscribes on the
// client's goroutine.)
func (st *leaseState) stopWatch() {
	if st.w == nil {
		return
	}
	st.stopW()
	go func(c <-chan natsjs.KeyValueEntry) {
		for range c {
		}
	}(st.updates)
	st.w, st.stopW, st.updates = nil, nil, nil
}

func (st *leaseState) run(life context.Context) {
	l := st.l
	defer close(l.done)
	defer st.stopWatch()
	for {
		now := l.clock.Now()
		st.fence(life, now)
		inRound := !now.Before(st.nextRound)
		if inRound {
			st.round(life, now)
			now = l.clock.Now()
			st.fence(life, now)
		}
		st.purgeStrays(life)
		st.balance(life, now, inRound)

		now = l.clock.Now()
		t := l.clock.AfterFunc(st.nextWake(now).Sub(now), func() {
			select {
			case st.wake <- struct{}{}:
			default:
			}
		})
		select {
		case <-l.quit:
			t.Stop()
			l.closeErr = st.closeAll(<-l.closeCtx)
			l.logger.Info("leases closed")
			return
		case e, ok := <-st.updates:
			st.receive(e, ok)
		drain:
			for range 1024 {
				select {
				case e, ok := <-st.updates:
					st.receive(e, ok)
				default:
					break drain
				}
			}
			st.releaseLost()
		case <-st.wake:
		}
		t.Stop()
	}
}

// receive applies one message of the watcher.
func (st *leaseState) receive(e natsjs.KeyValueEntry, ok bool) {
	if !ok {
		st.l.logger.Warn("lease watcher stopped")
		st.stopWatch()
		return
	}
	if e != nil { // nil marks the end of the initial values
		st.apply(e, st.l.clock.Now())
	}
}

// apply records a change of a key that the watcher reports.
func (st *leaseState) apply(e natsjs.KeyValueEntry, now time.Time) {
	var ob *observed
	key := e.Key()
	p := -1
	if n, ok := strings.CutPrefix(key, "p."); ok {
		var err error
		if p, err = strconv.Atoi(n); err != nil || p < 0 || p >= st.l.parts {
			return // not a partition of this configuration
		}
		ob = &st.obs[p]
	} else if strings.HasPrefix(key, "n.") {
		if ob = st.beats[key]; ob == nil {
			ob = &observed{}
			st.beats[key] = ob
		}
	} else {
		return
	}
	if e.Revision() <= ob.rev {
		return // seen already (a watcher that lags behind this node's writes)
	}
	*ob = observed{rev: e.Revision(), seen: now, deleted: e.Operation() != natsjs.KeyValuePut}
	if !ob.deleted {
		_ = json.Unmarshal(e.Value(), &ob.holder) // an unreadable value names nobody, and is held
	}
	if p < 0 {
		return
	}
	ours := !ob.deleted && ob.holder.Run == st.l.run
	if o := st.owned[p]; o != nil {
		if ours && !o.pending.IsZero() {
			// A renewal that got no answer was written after all.
			o.rev, o.start, o.pending = e.Revision(), o.pending, time.Time{}
			st.l.setUntil(p, o.start)
			return
		}
		st.lost = append(st.lost, p)
		return
	}
	if ours {
		st.strays[p] = e.Revision()
	}
}

// releaseLost releases the leases that the watcher showed written or
// deleted by someone else.
func (st *leaseState) releaseLost() {
	if len(st.lost) == 0 {
		return
	}
	lost := slices.Compact(sorted(st.lost))
	st.lost = st.lost[:0]
	st.l.logger.Warn("leases lost: written by another node", slog.Any("partitions", lost))
	st.drop(lost, "lost")
}

// record notes a write of this node in what it observed, so that it does
// not take its own write for someone else's when the watcher reports it.
func (st *leaseState) record(p int, rev uint64, now time.Time) {
	if rev > st.obs[p].rev {
		st.obs[p] = observed{rev: rev, seen: now, holder: leaseHolder{Node: st.l.node, Run: st.l.run}}
	}
}

// fence releases the leases whose deadline has passed.
func (st *leaseState) fence(life context.Context, now time.Time) {
	var ps []int
	for p, o := range st.owned {
		if !now.Before(o.start.Add(st.l.fenceAfter())) {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		st.l.logger.Warn("leases fenced: not renewed in time", slog.Any("partitions", sorted(ps)))
		if err := st.release(life, ps, "fenced"); err != nil {
			st.l.logger.Debug("fenced leases not deleted", slog.Any("err", err))
		}
	}
}

// bound returns the context for the requests the lease goroutine makes
// now: they end after requestTimeout, and before the first fencing
// deadline of the leases this node holds, so that the goroutine is never
// busy when one is due. Whatever a request was for, it is then as good as
// failed.
func (st *leaseState) bound(parent context.Context) (context.Context, context.CancelFunc) {
	l := st.l
	deadline := l.clock.Now().Add(l.requestTimeout())
	for _, o := range st.owned {
		if d := o.start.Add(l.fenceAfter()); d.Before(deadline) {
			deadline = d
		}
	}
	// The deadline is on the injected clock; the context needs wall
	// time.
	return context.WithTimeout(parent, deadline.Sub(l.clock.Now()))
}

// A renewal is the outcome of one lease's renewal.
type renewal struct {
	p   int
	rev uint64
	err error
	cur natsjs.KeyValueEntry // after a revision mismatch: the key now, if read
}

// round renews every lease and the heartbeat, and restarts a stopped
// watcher, all at once.
func (st *leaseState) round(life context.Context, start time.Time) {
	l := st.l
	out := make([]renewal, 0, len(st.owned))
	for p := range st.owned {
		out = append(out, renewal{p: p})
	}
	slices.SortFunc(out, func(a, b renewal) int { return a.p - b.p })
	var (
		wg       sync.WaitGroup
		beatRev  uint64
		beatErr  error
		watchErr error
	)
	ctx, cancel := st.bound(life)
	defer cancel()
	for i := range out {
		r := &out[i]
		rev := st.owned[r.p].rev
		wg.Go(func() {
			r.rev, r.err = l.b.kv.Update(ctx, leaseKey(r.p), l.value, rev)
			if casLost(r.err) {
				r.cur, _ = l.b.kv.Get(ctx, leaseKey(r.p))
			}
		})
	}
	oldBeat := st.beatRev
	wg.Go(func() { beatRev, beatErr = st.beat(ctx, oldBeat) })
	if st.w == nil {
		wg.Go(func() { watchErr = st.watch(life, ctx, l.requestTimeout()) })
	}
	wg.Wait()

	retry := false
	var (
		lost   []int
		failed int
		err    error
	)
	for _, r := range out {
		o := st.owned[r.p]
		switch {
		case r.err == nil:
			o.rev, o.start, o.pending = r.rev, start, time.Time{}
			l.setUntil(r.p, start)
			st.record(r.p, r.rev, start)
		case casLost(r.err):
			if r.cur != nil && r.cur.Revision() > o.rev && !o.pending.IsZero() && r.cur.Operation() == natsjs.KeyValuePut {
				var h leaseHolder
				if json.Unmarshal(r.cur.Value(), &h) == nil && h.Run == l.run {
					// A renewal that got no answer was written after all.
					o.rev, o.start, o.pending = r.cur.Revision(), o.pending, time.Time{}
					l.setUntil(r.p, o.start)
					st.record(r.p, o.rev, start)
					retry = true
					continue
				}
			}
			lost = append(lost, r.p)
		default:
			if o.pending.IsZero() {
				o.pending = start
			}
			retry = true
			failed, err = failed+1, r.err
		}
	}
	if failed > 0 {
		l.logger.Warn("lease renewals failed", slog.Int("failed", failed), slog.Int("owned", len(out)), slog.Any("err", err))
	}
	if len(lost) > 0 {
		l.logger.Warn("leases lost: written by another node", slog.Any("partitions", lost))
		st.drop(lost, "lost")
	}
	st.beatOK = beatErr == nil
	if beatErr == nil {
		l.beatUntil.Store(int64(start.Add(l.fenceAfter()).Sub(l.epoch)))
		st.beatRev = beatRev
	} else {
		retry = true
		l.logger.Warn("heartbeat failed", slog.Any("err", beatErr))
	}
	if watchErr != nil {
		l.logger.Warn("lease watcher restart failed", slog.Any("err", watchErr))
	}
	st.nextRound = start.Add(l.renewEvery())
	if retry {
		st.nextRound = start.Add(l.retryAfter())
	}
}

// beat writes this node's heartbeat over revision rev (0: none written
// yet), or over whatever is there if rev is not the key's.
func (st *leaseState) beat(ctx context.Context, rev uint64) (uint64, error) {
	kv := st.l.b.kv
	var err error
	if rev != 0 {
		var next uint64
		if next, err = kv.Update(ctx, st.l.beatKey, st.l.value, rev); err == nil || !casLost(err) {
			return next, err
		}
	} else {
		var next uint64
		if next, err = kv.Create(ctx, st.l.beatKey, st.l.value); err == nil || !casLost(err) {
			return next, err
		}
	}
	// Written since: by this run (a write whose answer did not come in
	// time), by an earlier run of this node, or (if this run had written
	// one) by another process using the same node name.
	e, err := kv.Get(ctx, st.l.beatKey)
	if err != nil {
		return 0, err
	}
	var h leaseHolder
	_ = json.Unmarshal(e.Value(), &h)
	if rev != 0 && h.Run != st.l.run {
		st.l.logger.Warn("heartbeat written by another process with this node name", slog.String("run", h.Run))
	}
	return kv.Update(ctx, st.l.beatKey, st.l.value, e.Revision())
}

// purgeStrays deletes the leases that this run wrote without holding
// them: a take or a renewal whose answer did not come in time, and which
// the watcher then showed written.
func (st *leaseState) purgeStrays(life context.Context) {
	if len(st.strays) == 0 {
		return
	}
	var ps []int
	var revs []uint64
	for p, rev := range st.strays {
		ps, revs = append(ps, p), append(revs, rev)
		delete(st.strays, p)
	}
	if err := st.purge(life, ps, revs, 0); err != nil {
		st.l.logger.Debug("stray leases not deleted", slog.Any("err", err))
	}
}

// drop stops owning those of ps this node owns: Owns turns false and
// Released is called for each, in increasing order. It returns them and
// the revisions this node wrote.
func (st *leaseState) drop(ps []int, reason string) ([]int, []uint64) {
	l := st.l
	slices.Sort(ps)
	ps = slices.DeleteFunc(ps, func(p int) bool { return st.owned[p] == nil })
	revs := make([]uint64, len(ps))
	for i, p := range ps {
		revs[i] = st.owned[p].rev
		delete(st.owned, p)
		l.until[p].Store(0)
		if l.released != nil {
			l.released(p)
		}
	}
	if len(ps) > 0 {
		l.logger.Debug("leases released", slog.String("reason", reason), slog.Any("partitions", ps), slog.Int("owned", len(st.owned)))
	}
	return ps, revs
}

// release drops ps, and then deletes each lease against the revision
// this node wrote, so that another node may take it at once.
func (st *leaseState) release(ctx context.Context, ps []int, reason string) error {
	ps, revs := st.drop(ps, reason)
	return st.purge(ctx, ps, revs, 0)
}

// purge deletes the leases ps at revisions revs (and the heartbeat at
// beatRev, unless 0), all at once.
func (st *leaseState) purge(ctx context.Context, ps []int, revs []uint64, beatRev uint64) error {
	l := st.l
	ctx, cancel := st.bound(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		first  error
	)
	del := func(key string, rev uint64) {
		wg.Go(func() {
			if err := l.b.purge(ctx, key, rev); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if failed++; first == nil {
					first = fmt.Errorf("%s: %w", key, err)
				}
			}
		})
	}
	for i, p := range ps {
		del(leaseKey(p), revs[i])
	}
	if beatRev != 0 {
		del(l.beatKey, beatRev)
	}
	wg.Wait()
	if failed > 0 {
		return fmt.Errorf("jetstream: leases: %d deletions failed, first %w", failed, first)
	}
	return nil
}

// closeAll releases every lease and deletes this node's heartbeat.
func (st *leaseState) closeAll(ctx context.Context) error {
	ps := make([]int, 0, len(st.owned))
	for p := range st.owned {
		ps = append(ps, p)
	}
	ps, revs := st.drop(ps, "close")
	return st.purge(ctx, ps, revs, st.beatRev)
}

// live returns the names of the live nodes, this one included, sorted.
func (st *leaseState) live(now time.Time) []string {
	names := []string{st.l.node}
	for _, ob := range st.beats {
		if ob.held(now, st.l.ttl) && ob.holder.Node != "" {
			names = append(names, ob.holder.Node)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// score returns node's rendezvous hash for each partition.
func (st *leaseState) score(node string) []uint64 {
	s, ok := st.scores[node]
	if !ok {
		s = make([]uint64, st.l.parts)
		for p := range s {
			h := fnv.New64a()
			h.Write([]byte(node))
			h.Write([]byte{0})
			h.Write([]byte(strconv.Itoa(p)))
			s[p] = h.Sum64()
		}
		st.scores[node] = s
	}
	return s
}

// share returns how many partitions this node should own: of P
// partitions on N live nodes, the P mod N that own the most now (ties
// by name) get ceil(P/N), the others floor(P/N).
func (st *leaseState) share(live []string, counts map[string]int) int {
	order := slices.Clone(live)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(counts[b], counts[a]) })
	floor, rem := st.l.parts/len(order), st.l.parts%len(order)
	if slices.Index(order, st.l.node) < rem {
		return floor + 1
	}
	return floor
}

// balance takes free partitions while this node owns fewer than its
// share and, in a renewal round, gives away the extras.
func (st *leaseState) balance(life context.Context, now time.Time, inRound bool) {
	l := st.l
	if now.Before(st.startAt.Add(l.renewEvery())) {
		return // still watching who else is there
	}
	if !st.beatOK || st.w == nil {
		// Cut off, or blind: whatever this node would take or give away
		// would be decided on an old view.
		return
	}
	live := st.live(now)
	counts := map[string]int{l.node: len(st.owned)}
	for p := range st.obs {
		if ob := &st.obs[p]; st.owned[p] == nil && ob.held(now, l.ttl) && ob.holder.Node != l.node {
			counts[ob.holder.Node]++
		}
	}
	share := st.share(live, counts)
	have := len(st.owned)
	if have == share || have > share && !inRound {
		return
	}
	// rank[p] is how many live nodes hash higher than this one for p.
	mine := st.score(l.node)
	rank := make([]int, l.parts)
	for _, n := range live {
		if n == l.node {
			continue
		}
		for p, s := range st.score(n) {
			if s > mine[p] || s == mine[p] && n < l.node {
				rank[p]++
			}
		}
	}
	byPreference := func(a, b int) int {
		return cmp.Or(cmp.Compare(rank[a], rank[b]), cmp.Compare(mine[b], mine[a]))
	}
	if have > share {
		ps := make([]int, 0, have)
		for p := range st.owned {
			ps = append(ps, p)
		}
		slices.SortFunc(ps, byPreference)
		extra := ps[share:]
		l.logger.Info("leases given away for balance", slog.Int("share", share), slog.Int("live", len(live)), slog.Any("partitions", sorted(extra)))
		if l.handover != nil {
			// TTL/6: with the deletions' TTL/3 after it, the next
			// round still comes before the first fencing deadline.
			ctx, cancel := st.bound(life)
			hctx, hcancel := context.WithTimeout(ctx, l.ttl/6)
			l.handover(hctx, sorted(extra))
			hcancel()
			cancel()
		}
		if err := st.release(life, extra, "balance"); err != nil {
			l.logger.Warn("leases given away but not deleted", slog.Any("err", err))
		}
		return
	}
	var free []int
	for p := range st.obs {
		ob := &st.obs[p]
		if st.owned[p] != nil || ob.held(now, l.ttl) {
			continue
		}
		if a, ok := st.tried[p]; ok && a.rev == ob.rev && now.Sub(a.at) < l.renewEvery() {
			continue
		}
		free = append(free, p)
	}
	slices.SortFunc(free, byPreference)
	st.take(life, free[:min(len(free), share-have)])
}

// take tries to take the free leases ps at once, and calls Acquired for
// those it got.
func (st *leaseState) take(life context.Context, ps []int) {
	if len(ps) == 0 {
		return
	}
	l := st.l
	type result struct {
		rev   uint64
		start time.Time
		err   error
	}
	out := make([]result, len(ps))
	var wg sync.WaitGroup
	ctx, cancel := st.bound(life)
	defer cancel()
	for i, p := range ps {
		ob := st.obs[p]
		wg.Go(func() {
			r := &out[i]
			r.start = l.clock.Now()
			if ob.rev == 0 || ob.deleted {
				r.rev, r.err = l.b.kv.Create(ctx, leaseKey(p), l.value)
			} else {
				// Expired: taken over the revision that was seen to stay.
				r.rev, r.err = l.b.kv.Update(ctx, leaseKey(p), l.value, ob.rev)
			}
		})
	}
	wg.Wait()
	now := l.clock.Now()
	var (
		got    []int
		failed int
		err    error
	)
	for i, p := range ps {
		r := out[i]
		if r.err != nil {
			st.tried[p] = attempt{rev: st.obs[p].rev, at: now}
			if !casLost(r.err) {
				failed, err = failed+1, r.err
			}
			continue
		}
		delete(st.tried, p)
		st.record(p, r.rev, r.start)
		if !now.Before(r.start.Add(l.fenceAfter())) {
			st.strays[p] = r.rev // too late to use: give it back
			continue
		}
		st.owned[p] = &ownedLease{rev: r.rev, start: r.start}
		l.setUntil(p, r.start)
		got = append(got, p)
		if l.acquired != nil {
			l.acquired(p)
		}
	}
	if failed > 0 {
		l.logger.Warn("leases not taken", slog.Int("failed", failed), slog.Any("err", err))
	}
	if len(got) > 0 {
		l.logger.Debug("leases acquired", slog.Any("partitions", got), slog.Int("owned", len(st.owned)))
	}
}

// nextWake returns when the lease goroutine must look again without news
// from the watcher: the next round, the first fencing deadline, or the
// first time a lease or a heartbeat expires.
func (st *leaseState) nextWake(now time.Time) time.Time {
	l := st.l
	next := st.nextRound
	earlier := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	earlier(st.startAt.Add(l.renewEvery()))
	for _, o := range st.owned {
		earlier(o.start.Add(l.fenceAfter()))
	}
	for p := range st.obs {
		if ob := &st.obs[p]; st.owned[p] == nil && ob.held(now, l.ttl) {
			earlier(ob.seen.Add(l.ttl))
		}
	}
	for _, ob := range st.beats {
		if ob.held(now, l.ttl) {
			earlier(ob.seen.Add(l.ttl))
		}
	}
	return next
}

// casLost reports whether err says that a compare-and-set write lost: the
// key was not at the revision it was written against. (Create reports a
// race lost on a deleted key as the servers' bare "wrong last sequence",
// code 10071 on one replica and 10164 on several.)
func casLost(err error) bool {
	if errors.Is(err, natsjs.ErrKeyExists) || errors.Is(err, natsjs.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *natsjs.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == natsjs.JSErrCodeStreamWrongLastSequenceConstant)
}

func sorted(ps []int) []int {
	ps = slices.Clone(ps)
	slices.Sort(ps)
	return ps
}

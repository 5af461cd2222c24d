package eventing

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSchedule is the default retry schedule: the delays before the
// second, third, … attempt of a delivery (the first is immediate), the same
// as Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
var defaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// DefaultSchedule returns a copy of the default retry schedule.
func DefaultSchedule() []time.Duration { return append([]time.Duration(nil), defaultSchedule...) }

// DispatcherOptions configure delivery. Zero values take the defaults
// documented on each field.
type DispatcherOptions struct {
	// Workers is the number of deliveries in flight at once (64).
	Workers int
	// Schedule holds the delays before each retry (DefaultSchedule). An
	// event is attempted 1+len(Schedule) times before it becomes a dead
	// letter.
	Schedule []time.Duration
	// Jitter spreads each delay by up to ± this fraction (0.2). Negative
	// means none.
	Jitter float64
	// Timeout bounds one delivery attempt (15 s).
	Timeout time.Duration
	// MaxRetryAfter caps an endpoint's Retry-After (the schedule's
	// longest delay).
	MaxRetryAfter time.Duration
	// QueueLimit is how many matched events a subscription keeps in
	// memory before it falls back to reading the log (1024).
	QueueLimit int
	// ScanBatch is how many events one read of the log returns (256).
	ScanBatch int
	// FailureLimit and FailureWindow end a subscription whose endpoint
	// has failed at least FailureLimit consecutive attempts spanning at
	// least FailureWindow (10 attempts, 24 h). FailureLimit < 0 never ends one.
	FailureLimit  int
	FailureWindow time.Duration
	// LogSize is how many attempts the delivery log keeps per
	// subscription (20).
	LogSize int
	// FlushInterval is how often cursors and delivery state are written
	// (200 ms). A crash repeats at most what was delivered since.
	FlushInterval time.Duration
	// Retention is how long events are kept after every cursor passed
	// them (7 days); RetentionInterval how often the log is trimmed (1 min).
	Retention         time.Duration
	RetentionInterval time.Duration
	// Random returns a number in [0,1) for jitter (math/rand/v2).
	Random func() float64
	// Observer is told of every delivery attempt (metrics); nil for none.
	Observer DeliveryObserver
	// Partitions, when positive, makes the dispatcher one of several
	// nodes on a shared store: it delivers only the subscriptions of the
	// partitions it acquired (see partition.go), and the store must be a
	// PartitionedStateStore; the holder of partition 0 trims the log,
	// below the store's LowWater. 0 delivers every subscription.
	Partitions int
}

// An Outcome is what became of one delivery attempt.
type Outcome string

// The outcomes of an attempt.
const (
	// OutcomeDelivered: the endpoint acknowledged the event.
	OutcomeDelivered Outcome = "delivered"
	// OutcomeRetry: the attempt failed; the event will be tried again.
	OutcomeRetry Outcome = "retry"
	// OutcomeDeadLetter: the attempt failed for good; the event moved to
	// the subscription's dead letters.
	OutcomeDeadLetter Outcome = "dead_letter"
)

// A DeliveryObserver is told of every delivery attempt, from the worker
// that made it: it must be quick and must not block.
type DeliveryObserver interface {
	// Attempted reports one attempt: the subscription's processor, the
	// outcome, how long the attempt took, and, for a delivery, how long
	// after its acceptance the event was delivered.
	Attempted(processor string, outcome Outcome, latency, lag time.Duration)
}

func (o *DispatcherOptions) defaults() {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule()
	}
	if o.Jitter == 0 {
		o.Jitter = 0.2
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		for _, d := range o.Schedule {
			o.MaxRetryAfter = max(o.MaxRetryAfter, d)
		}
		if o.MaxRetryAfter == 0 {
			o.MaxRetryAfter = time.Hour
		}
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 1024
	}
	if o.ScanBatch <= 0 {
		o.ScanBatch = 256
	}
	if o.FailureLimit == 0 {
		o.FailureLimit = 10
	}
	if o.FailureWindow == 0 {
		o.FailureWindow = 24 * time.Hour
	}
	if o.LogSize <= 0 {
		o.LogSize = 20
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = time.Minute
	}
	if o.Random == nil {
		o.Random = rand.Float64
	}
}

// dispatcherHooks are the Service's callbacks.
type dispatcherHooks struct {
	// failed is called (from a worker) when a subscription passed the
	// failure limit.
	failed func(s *Subscription, reason string)
	// filterFailed is called (from a worker) when a subscription's filter
	// exceeded its evaluation budget.
	filterFailed func(s *Subscription, err error)
	// reload, when set, parses a subscription's endpoint again from its
	// stored record: the dispatcher then keeps subscriptions without
	// their Message and their endpoints behind a bounded cache
	// (lazyendpoint.go).
	reload func(id, processor string) Endpoint
}

// A Dispatcher delivers logged events to subscriptions. See the package
// documentation for the model.
//
// Its code is split by concern: dispatcher.go (the subscription set),
// dispatcher_schedule.go (matcher, workers, timers), dispatcher_outcome.go
// (what an attempt's result does), dispatcher_state.go (persistence and
// retention), dispatcher_replay.go and dispatcher_expiry.go.
//
// Lock order: flushMu, then mu, then a subState's mu, then any of the
// leaf locks (inMu, headMu, dirtyMu, expiryMu, the work queue's), which
// are never held while another lock is taken. No lock is held while an
// endpoint delivers, a filter is evaluated by a worker, or the store is
// called, except flushMu, which is held across a flush's write so that
// flushes land in the order they were taken.
type Dispatcher struct {
	log    EventLog
	states StateStore
	dead   DeadLetterStore
	clock  Clock
	logger *slog.Logger
	opts   DispatcherOptions
	hooks  dispatcherHooks
	// endpoints bounds the parsed endpoints kept for lazy endpoints.
	endpoints *endpointCache

	mu   sync.RWMutex
	subs map[string]*subState
	// byTopic files the subscriptions with a topic filter by topic (see
	// topicIndex: not a set per topic, since most topics have one
	// subscription, and a million small maps cost hundreds of bytes each).
	byTopic topicIndex
	others  map[*subState]struct{} // push subscriptions without a topic filter
	owners  map[string]int         // subscriptions per owner (for quotas)
	// byPart lists the subscriptions by partition (subState.partPos is
	// each one's place), and held says which partitions this node
	// delivers; both empty without partitions (partition.go).
	byPart [][]*subState
	held   []atomic.Bool
	// partGen counts each partition's acquisitions and releases, so
	// that a flush raises the position only of partitions that stayed
	// held throughout it.
	partGen []atomic.Uint64
	pstates PartitionedStateStore

	// matching: events committed by the log, waiting for the matcher.
	inMu     sync.Mutex
	incoming []*Event
	overflow bool
	inSignal chan struct{}
	matching atomic.Uint64 // seq of the event being matched (or last matched)
	matched  atomic.Uint64 // every event up to it has been matched
	// expiries orders the lease ends, earliest first (see Expired).
	expiryMu    sync.Mutex
	expiries    expiryHeap
	expiryStale int // entries of expiries known to be stale
	headMu      sync.Mutex
	headCh      chan struct{} // closed when new events are matched
	queue       workQueue

	// State persistence (dispatcher_state.go). flushMu makes flushes
	// one at a time, so that a later snapshot is never overwritten by an
	// earlier one. The maps below are guarded by dirtyMu.
	flushMu sync.Mutex
	dirtyMu sync.Mutex
	// dirty: the state changed since the last flush.
	dirty map[*subState]struct{}
	// logDirty: the delivery log changed since the last full flush.
	logDirty map[*subState]struct{}
	// own: the subscriptions whose stored state is their position (a
	// pending state, or a pull subscription), with that position. Every
	// other one is at savedThrough or past it.
	own map[*subState]uint64
	// savedThrough is the matched-through position last stored.
	savedThrough atomic.Uint64
	// holds: the matcher's position when each HoldThrough still held was
	// taken, by its number (holdSeq numbers them).
	holds   map[uint64]uint64
	holdSeq uint64

	// timers holds the subscriptions parked on a timer (guarded by
	// timerMu), so that Shutdown stops them.
	timerMu sync.Mutex
	timers  map[*subState]struct{}

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	starting  atomic.Bool // Start was called
	started   atomic.Bool // Start finished
	workers   sync.WaitGroup
	closeOnce sync.Once
	// deliveries run under deliverCtx, which outlives ctx until the
	// shutdown deadline.
	deliverCtx    context.Context
	deliverCancel context.CancelFunc
}

// subState is the Dispatcher's view of one subscription. A million of
// them stay in memory, so the fields are ordered by size (pointers and
// 8-byte fields, then 4-byte ones, then flags) to fit a smaller size class:
// each says what guards it.
type subState struct {
	id string // immutable

	// Guarded by mu:
	sub      *Subscription
	filter   Filter
	endpoint Endpoint
	queue    *eventQueue // matched events not yet delivered, in order (nil: none)
	replay   []*Event    // dead letters sent back by an operator; delivered first
	enqueued uint64      // every event up to it has been considered
	timer    Timer
	// flight is the bookkeeping of attempts in a partitioned
	// dispatcher (nil until the first step of work).
	flight       *flight
	retry        retryState // of the oldest queued event
	replayRetry  retryState // of the replayed dead letter being delivered
	failingSince time.Time
	log          *[]Attempt // the delivery log (nil: empty)
	saved        uint64     // cursor last written
	pullCursor   uint64     // for pull subscriptions: what the client acknowledged

	// expirySec and expiryNsec are the lease end queued in the expiry
	// heap for s (see setExpiry); guarded by the Dispatcher's expiryMu.
	expirySec int64

	mu sync.Mutex

	// topicPos is s's place in its topic's list in Dispatcher.byTopic;
	// part is s's partition and partPos its place in byPart[part]
	// (guarded by the Dispatcher's mu).
	topicPos, part, partPos int32

	expiryNsec int32

	// Guarded by mu:
	failures   int32
	logVersion uint32 // counts changes to the delivery log
	logSaved   uint32 // the log version last written

	pull bool // immutable
	// evaluates marks a filter evaluated per event (XPath): the matcher
	// queues every candidate (all events, or those of the pinned topic)
	// and the subscription's worker evaluates them, so that no filter
	// runs under a lock another subscription or a subscribe needs
	// (guarded by the Dispatcher's mu and by mu).
	evaluates bool

	// Guarded by mu:
	live      bool // the matcher feeds queue; else the worker reads the log
	scheduled bool // in the work queue, being worked, or waiting for a timer
	checked   bool // the queue's head is known to match the filter
	removed   bool
	// parked marks a subscription of a partition this node does not
	// hold.
	parked bool
	// handing marks a subscription of a partition being handed over
	// (Handover): no new attempt starts, the one in flight takes effect.
	handing bool
	// dirty and logDirty: s is in the Dispatcher's dirty (logDirty) set
	// (see markDirty).
	dirty, logDirty bool
}

// A flight is what a partitioned dispatcher keeps of a subscription's
// work, so that a Release can cut an attempt short and a Handover can
// wait for it: guarded by the subscription's mu.
type flight struct {
	// cancel ends the attempt in flight.
	cancel context.CancelFunc
	// working counts the workers in process for the subscription (one,
	// and a second that took it back from the queue before the first
	// returned); drain, if set, is told when it drops to 0.
	working int32
	drain   *drainWait
}

// indexedTopic is the topic s is filed under in Dispatcher.byTopic, ""
// for none (a pull subscription, or a filter without a topic); the
// Dispatcher's mu or s.mu must be held.
func (s *subState) indexedTopic() string {
	if s.pull {
		return ""
	}
	return FilterTopic(s.filter)
}

// NewDispatcher returns a dispatcher over the given stores. Call Start.
func NewDispatcher(st Store, clock Clock, logger *slog.Logger, opts DispatcherOptions) *Dispatcher {
	opts.defaults()
	if clock == nil {
		clock = SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{
		log: st, states: st, dead: st, clock: clock, logger: logger, opts: opts,
		subs:      map[string]*subState{},
		byTopic:   newTopicIndex(),
		others:    map[*subState]struct{}{},
		owners:    map[string]int{},
		inSignal:  make(chan struct{}, 1),
		headCh:    make(chan struct{}),
		dirty:     map[*subState]struct{}{},
		logDirty:  map[*subState]struct{}{},
		own:       map[*subState]uint64{},
		holds:     map[uint64]uint64{},
		timers:    map[*subState]struct{}{},
		endpoints: newEndpointCache(endpointCacheSize),
	}
	if opts.Partitions > 0 {
		d.byPart = make([][]*subState, opts.Partitions)
		d.held = make([]atomic.Bool, opts.Partitions)
		d.partGen = make([]atomic.Uint64, opts.Partitions)
		d.pstates, _ = st.(PartitionedStateStore)
		if d.pstates == nil {
			panic("eventing: DispatcherOptions.Partitions needs a PartitionedStateStore")
		}
	}
	d.queue.init()
	head := st.Head()
	d.matching.Store(head)
	d.matched.Store(head)
	st.Watch(d.committed)
	return d
}

// reserve sizes the indexes for n subscriptions before a load adds them
// (growing a map of a million entries rehashes it about twenty times); it
// does nothing once subscriptions are there. The topic index is sized as
// if every subscription had a topic of its own, the common case at scale;
// where many share one, the unused room costs about 30 bytes a
// subscription, about 3 % of what one costs in all.
func (d *Dispatcher) reserve(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.subs) > 0 || n <= 0 {
		return
	}
	d.subs = make(map[string]*subState, n)
	d.byTopic.one = make(map[string]*subState, n)
}

// committed is the log's commit callback: it must not block.
func (d *Dispatcher) committed(evs []*Event) {
	d.inMu.Lock()
	if !d.overflow {
		if len(d.incoming)+len(evs) > 64*1024 {
			// The matcher is far behind: let it read the log instead of
			// holding the events here.
			d.overflow = true
			d.incoming = nil
		} else {
			d.incoming = append(d.incoming, evs...)
		}
	}
	d.inMu.Unlock()
	select {
	case d.inSignal <- struct{}{}:
	default:
	}
}

// Start loads delivery state for the subscriptions already added and starts
// the matcher, the workers and the flusher. ctx bounds nothing but the
// initial load; Shutdown stops them. A dispatcher starts once: a second
// call returns an error.
func (d *Dispatcher) Start(ctx context.Context) error {
	if !d.starting.CompareAndSwap(false, true) {
		return errors.New("eventing: dispatcher already started")
	}
	through, states, err := d.states.DeliveryStates(ctx)
	if err != nil {
		d.starting.Store(false)
		return err
	}
	replaying, err := d.dead.Replaying(ctx)
	if err != nil {
		d.starting.Store(false)
		return err
	}
	// Every subscription without a pending state is at the stored
	// matched-through position or past it: the matcher matches again
	// the events after that position (those a crash left unflushed),
	// and those subscriptions go live at once, so that a start with many
	// idle subscriptions reads the log once, not once per subscription.
	// Only the subscriptions with work pending, or behind that position,
	// read the log on their own. A file without the position (written
	// before it existed) starts matching at the head, as before.
	head := d.matching.Load()
	from := through
	if from == 0 || from > head {
		from = head
	}
	d.savedThrough.Store(through)
	var behind, owned []*subState
	d.mu.RLock()
	for id, s := range d.subs {
		s.mu.Lock()
		if s.parked {
			s.mu.Unlock()
			continue // restored by Acquire
		}
		for _, dl := range replaying[id] {
			s.replay = append(s.replay, dl.Event())
		}
		own := s.pull
		if st, ok := states[id]; ok {
			own = s.restore(st, through) || own
		} else if !s.pull {
			s.enqueued = max(s.enqueued, through)
			s.saved = s.enqueued
		}
		if own {
			owned = append(owned, s)
		}
		if !s.pull && s.enqueued >= from && len(s.replay) == 0 && s.retry.next.IsZero() {
			s.live = true
		} else {
			behind = append(behind, s)
		}
		s.mu.Unlock()
	}
	d.mu.RUnlock()
	d.dirtyMu.Lock()
	for _, s := range owned {
		d.own[s] = s.saved
		// Written again at the first flush: as pending while it is, or
		// as caught up, which frees the position for retention.
		d.dirty[s] = struct{}{}
	}
	for _, s := range behind {
		d.dirty[s] = struct{}{}
	}
	d.dirtyMu.Unlock()
	if from < head {
		d.matching.Store(from)
		d.matched.Store(from)
		d.inMu.Lock()
		d.overflow, d.incoming = true, nil
		d.inMu.Unlock()
		select {
		case d.inSignal <- struct{}{}:
		default:
		}
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.deliverCtx, d.deliverCancel = context.WithCancel(context.Background())
	d.started.Store(true)
	d.wg.Add(3)
	go d.matchLoop()
	go d.flushLoop()
	go d.retentionLoop()
	for range d.opts.Workers {
		d.workers.Add(1)
		go d.worker()
	}
	for _, s := range behind {
		d.kick(s)
	}
	return nil
}

// Add starts delivering to a subscription (from its Start position). It
// replaces a subscription with the same id.
func (d *Dispatcher) Add(sub *Subscription, f Filter, ep Endpoint) {
	d.mu.Lock()
	if old := d.subs[sub.ID]; old != nil {
		d.mu.Unlock()
		d.Replace(sub, f, ep)
		return
	}
	sub, ep = d.compact(sub, ep)
	s := &subState{id: sub.ID, sub: sub, filter: f, endpoint: ep, enqueued: sub.Start, saved: sub.Start, pullCursor: sub.Start}
	if _, ok := ep.(PullEndpoint); ok {
		s.pull = true
	}
	d.subs[sub.ID] = s
	d.owners[sub.Owner]++
	d.index(s, sub)
	d.indexPart(s)
	s.parked = !d.delivers(s)
	started := d.started.Load()
	// A new subscription whose start the matcher has not passed goes
	// live at once (the matcher takes d.mu to collect an event's
	// targets after it set matching); one it passed reads the log.
	if started && !s.pull && !s.parked && sub.Start >= d.matching.Load() {
		s.live = true
	}
	parked := s.parked
	d.mu.Unlock()
	d.noteExpiry(s, sub.Expires)
	if !started || parked {
		return // Start (or Acquire) restores it
	}
	// Its stored position is Start (the one CreateSubscription wrote,
	// or its creator's HoldThrough, released after this); the next
	// flush writes its state, or none once it caught up.
	d.dirtyMu.Lock()
	d.own[s] = sub.Start
	d.dirty[s] = struct{}{}
	d.dirtyMu.Unlock()
	if !s.live {
		d.kick(s)
	}
}

// index files s under its topic (or among the others); d.mu must be held.
func (d *Dispatcher) index(s *subState, sub *Subscription) {
	s.evaluates = FilterEvaluates(s.filter)
	switch topic := s.indexedTopic(); {
	case s.pull:
	case topic != "":
		d.byTopic.add(topic, s)
	default:
		d.others[s] = struct{}{}
	}
}

// Replace gives a subscription a new record, filter and endpoint (a
// repeated WS-Eventing Subscribe for its endpoint) in place: its position,
// attempt counts and delivery in flight carry on, a retry it waits for is
// tried at once, and events from now on are matched with the new filter.
func (d *Dispatcher) Replace(sub *Subscription, f Filter, ep Endpoint) {
	d.mu.Lock()
	s := d.subs[sub.ID]
	if s == nil {
		d.mu.Unlock()
		return
	}
	sub, ep = d.compact(sub, ep)
	s.mu.Lock()
	d.unindex(s)
	wasEvaluating := s.evaluates && s.queue.len() > 0
	s.sub, s.filter, s.endpoint = sub, f, ep
	s.checked = false // the head is checked again, with the new filter
	d.index(s, sub)
	// Candidates queued for the old filter were never checked: they are
	// checked with the new one, whatever it is.
	s.evaluates = s.evaluates || wasEvaluating
	// A subscriber that subscribed again (its endpoint fixed, say) is
	// tried at once: the attempts carry on, the wait does not.
	s.retry.next, s.replayRetry.next = time.Time{}, time.Time{}
	s.mu.Unlock()
	d.mu.Unlock()
	d.noteExpiry(s, sub.Expires)
	d.wake(s)
}

// unindex removes s from the indexes; d.mu must be held.
func (d *Dispatcher) unindex(s *subState) {
	if topic := s.indexedTopic(); topic != "" {
		d.byTopic.remove(topic, s)
	}
	delete(d.others, s)
}

// Update replaces the stored subscription record (after Renew); a
// subscription that is not in the dispatcher is ignored.
func (d *Dispatcher) Update(sub *Subscription) {
	d.mu.RLock()
	s := d.subs[sub.ID]
	d.mu.RUnlock()
	if s == nil {
		return
	}
	sub = d.compactRecord(sub)
	s.mu.Lock()
	s.sub = sub
	s.mu.Unlock()
	d.noteExpiry(s, sub.Expires)
	d.kick(s)
}

// Remove stops delivering to a subscription.
func (d *Dispatcher) Remove(id string) {
	d.mu.Lock()
	s := d.subs[id]
	if s != nil {
		delete(d.subs, id)
		s.mu.Lock()
		owner := s.sub.Owner // the same in every record of s
		s.mu.Unlock()
		if d.owners[owner]--; d.owners[owner] <= 0 {
			delete(d.owners, owner)
		}
		d.unindex(s)
		d.unindexPart(s)
	}
	d.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	s.removed = true
	s.queue = nil
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	d.unschedule(s)
	d.expiryMu.Lock()
	d.dropExpiry(s)
	d.expiryMu.Unlock()
}

// unschedule drops s from the sets of state to write and of parked
// timers (a subscription removed, or parked on another node's partition).
func (d *Dispatcher) unschedule(s *subState) {
	d.dirtyMu.Lock()
	delete(d.dirty, s)
	delete(d.logDirty, s)
	delete(d.own, s)
	d.dirtyMu.Unlock()
	d.timerMu.Lock()
	delete(d.timers, s)
	d.timerMu.Unlock()
}

// Running reports whether the dispatcher has started and not shut down.
func (d *Dispatcher) Running() bool {
	return d.started.Load() && d.ctx.Err() == nil
}

// Census counts the subscriptions by processor and state: "pull" (events
// wait to be pulled), "retrying" (the head event failed at least once),
// "active" (every other one). It visits every subscription: call it at
// scrape time, not per event.
func (d *Dispatcher) Census() map[[2]string]int {
	out := map[[2]string]int{}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.subs {
		s.mu.Lock()
		state := "active"
		switch {
		case s.pull:
			state = "pull"
		case !s.retry.next.IsZero() || !s.replayRetry.next.IsZero():
			// A failed attempt waits for its retry (or is retried now).
			// Not attempts > 0: that counts the first attempt while it
			// is in flight, and a healthy subscription read as retrying.
			state = "retrying"
		}
		out[[2]string{s.sub.Processor, state}]++
		s.mu.Unlock()
	}
	return out
}

// Owned returns how many subscriptions owner holds.
func (d *Dispatcher) Owned(owner string) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.owners[owner]
}

// State returns a snapshot of a subscription's delivery state.
func (d *Dispatcher) State(id string) (*DeliveryState, bool) {
	s := d.state(id)
	if s == nil {
		return nil, false
	}
	matched := d.matched.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state(matched), true
}

func (d *Dispatcher) isPull(id string) bool {
	s := d.state(id)
	return s != nil && s.pull
}

func (d *Dispatcher) state(id string) *subState {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.subs[id]
}

// Subscriptions returns the subscription records the dispatcher holds.
func (d *Dispatcher) Subscriptions() []*Subscription {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*Subscription, 0, len(d.subs))
	for _, s := range d.subs {
		s.mu.Lock()
		out = append(out, s.sub)
		s.mu.Unlock()
	}
	return out
}

// Shutdown stops starting deliveries, lets the deliveries in flight finish
// until ctx ends (then cancels them), stops the matcher and saves the
// delivery state.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	if !d.started.Load() {
		return nil
	}
	var err error
	d.closeOnce.Do(func() {
		d.queue.close()
		done := make(chan struct{})
		go func() { d.workers.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
			d.deliverCancel()
			<-done
		}
		d.cancel()
		d.deliverCancel()
		d.stopTimers()
		d.wg.Wait()
		if ferr := d.Flush(context.Background(), true); ferr != nil && err == nil {
			err = ferr
		}
	})
	return err
}

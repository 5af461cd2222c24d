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
}

// A Dispatcher delivers logged events to subscriptions. See the package
// documentation for the model.
type Dispatcher struct {
	log    EventLog
	states StateStore
	dead   DeadLetterStore
	clock  Clock
	logger *slog.Logger
	opts   DispatcherOptions
	hooks  dispatcherHooks

	mu      sync.RWMutex
	subs    map[string]*subState
	byTopic map[string]map[*subState]struct{}
	others  map[*subState]struct{} // push subscriptions without a topic filter
	owners  map[string]int         // subscriptions per owner (for quotas)

	// matching: events committed by the log, waiting for the matcher.
	inMu     sync.Mutex
	incoming []*Event
	overflow bool
	inSignal chan struct{}
	matching atomic.Uint64 // seq of the event being matched (or last matched)
	matched  atomic.Uint64 // every event up to it has been matched
	expiryMu sync.Mutex
	earliest time.Time // the earliest lease end among the subscriptions (zero: none)
	// expiryNotes counts noteExpiry calls, so that Expired does not
	// overwrite a lease end noted while it scanned.
	expiryNotes uint64
	headMu      sync.Mutex
	headCh      chan struct{} // closed when new events are matched
	queue       workQueue
	dirtyMu     sync.Mutex
	dirty       map[*subState]struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	started     atomic.Bool
	workers     sync.WaitGroup
	closeOnce   sync.Once
	// deliveries run under deliverCtx, which outlives ctx until the
	// shutdown deadline.
	deliverCtx    context.Context
	deliverCancel context.CancelFunc
}

// subState is the Dispatcher's view of one subscription. Fields below mu
// are guarded by it.
type subState struct {
	id    string
	owner string // the subscription's owner (immutable)
	topic string // topic of a topic filter, "" otherwise
	pull  bool
	// evaluates marks a filter evaluated per event (XPath): the matcher
	// queues every candidate (all events, or those of the pinned topic)
	// and the subscription's worker evaluates them, so that no filter
	// runs under a lock another subscription or a subscribe needs.
	evaluates bool
	mu        sync.Mutex
	sub       *Subscription
	filter    Filter
	endpoint  Endpoint

	queue     []*Event // matched events not yet delivered, in order
	replay    []*Event // dead letters sent back by an operator; delivered first
	enqueued  uint64   // every event up to it has been considered
	live      bool     // the matcher feeds queue; else the worker reads the log
	scheduled bool     // in the work queue, being worked, or waiting for a timer
	checked   bool     // the queue's head is known to match the filter
	timer     Timer
	removed   bool

	retry        retryState // of the oldest queued event
	replayRetry  retryState // of the replayed dead letter being delivered
	failures     int
	failingSince time.Time
	log          []Attempt
	saved        uint64 // cursor last written
	logVersion   uint64 // counts changes to the delivery log
	logSaved     uint64 // the log version last written
	pullCursor   uint64 // for pull subscriptions: what the client acknowledged
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
		subs:     map[string]*subState{},
		byTopic:  map[string]map[*subState]struct{}{},
		others:   map[*subState]struct{}{},
		owners:   map[string]int{},
		inSignal: make(chan struct{}, 1),
		headCh:   make(chan struct{}),
		dirty:    map[*subState]struct{}{},
	}
	d.queue.init()
	head := st.Head()
	d.matching.Store(head)
	d.matched.Store(head)
	st.Watch(d.committed)
	return d
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
// initial load; Shutdown stops them.
func (d *Dispatcher) Start(ctx context.Context) error {
	states, err := d.states.DeliveryStates(ctx)
	if err != nil {
		return err
	}
	replaying, err := d.dead.Replaying(ctx)
	if err != nil {
		return err
	}
	// A subscription whose cursor is at the head has nothing to read: it
	// goes live at once. Only those behind read the log, so a start with
	// many idle subscriptions costs no transaction per subscription. This
	// happens before the matcher runs: events committed meanwhile wait for
	// it, and reach the live subscriptions.
	head := d.matching.Load()
	var behind []*subState
	d.mu.RLock()
	for id, s := range d.subs {
		s.mu.Lock()
		for _, dl := range replaying[id] {
			s.replay = append(s.replay, dl.Event())
		}
		if st, ok := states[id]; ok {
			s.restore(st)
		}
		if !s.pull && s.enqueued >= head && len(s.replay) == 0 && s.retry.next.IsZero() {
			s.live = true
		} else {
			behind = append(behind, s)
		}
		s.mu.Unlock()
	}
	d.mu.RUnlock()
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

// restore applies a stored delivery state; the replayed dead letters must
// already be queued, so that a replay's retry state finds its head.
func (s *subState) restore(st *DeliveryState) {
	if st.Cursor > s.enqueued {
		s.enqueued = st.Cursor
	}
	s.saved = s.enqueued
	s.pullCursor = s.enqueued
	s.retry = retryState{attempts: st.Attempts, next: st.NextAttempt}
	if st.ReplaySeq != 0 && len(s.replay) > 0 && s.replay[0].Seq == st.ReplaySeq {
		s.replayRetry = retryState{attempts: st.ReplayAttempts, next: st.ReplayNext}
	}
	s.failures = st.Failures
	s.failingSince = st.FailingSince
	s.log = append([]Attempt(nil), st.Log...)
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
	s := &subState{id: sub.ID, owner: sub.Owner, sub: sub, filter: f, endpoint: ep, enqueued: sub.Start, saved: sub.Start, pullCursor: sub.Start}
	if _, ok := ep.(PullEndpoint); ok {
		s.pull = true
	}
	d.subs[sub.ID] = s
	d.owners[sub.Owner]++
	d.index(s, sub)
	d.mu.Unlock()
	d.noteExpiry(sub.Expires)
	if d.started.Load() {
		d.kick(s)
	}
}

// index files s under its topic (or among the others); d.mu must be held.
func (d *Dispatcher) index(s *subState, sub *Subscription) {
	s.topic = ""
	s.evaluates = FilterEvaluates(s.filter)
	switch {
	case s.pull:
	case FilterTopic(s.filter) != "":
		s.topic = FilterTopic(s.filter)
		set := d.byTopic[s.topic]
		if set == nil {
			set = map[*subState]struct{}{}
			d.byTopic[s.topic] = set
		}
		set[s] = struct{}{}
	default:
		d.others[s] = struct{}{}
	}
}

// Replace gives a subscription a new record, filter and endpoint (a
// repeated WS-Eventing Subscribe for its endpoint) in place: its position,
// retry state and delivery in flight carry on, and events from now on are
// matched with the new filter.
func (d *Dispatcher) Replace(sub *Subscription, f Filter, ep Endpoint) {
	d.mu.Lock()
	s := d.subs[sub.ID]
	if s == nil {
		d.mu.Unlock()
		return
	}
	s.mu.Lock()
	d.unindex(s)
	wasEvaluating := s.evaluates && len(s.queue) > 0
	s.sub, s.filter, s.endpoint = sub, f, ep
	s.checked = false // the head is checked again, with the new filter
	d.index(s, sub)
	// Candidates queued for the old filter were never checked: they are
	// checked with the new one, whatever it is.
	s.evaluates = s.evaluates || wasEvaluating
	s.mu.Unlock()
	d.mu.Unlock()
	d.noteExpiry(sub.Expires)
	d.kick(s)
}

// unindex removes s from the indexes; d.mu must be held.
func (d *Dispatcher) unindex(s *subState) {
	if set := d.byTopic[s.topic]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(d.byTopic, s.topic)
		}
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
	s.mu.Lock()
	s.sub = sub
	s.mu.Unlock()
	d.noteExpiry(sub.Expires)
	d.kick(s)
}

// Remove stops delivering to a subscription.
func (d *Dispatcher) Remove(id string) {
	d.mu.Lock()
	s := d.subs[id]
	if s != nil {
		delete(d.subs, id)
		if d.owners[s.owner]--; d.owners[s.owner] <= 0 {
			delete(d.owners, s.owner)
		}
		d.unindex(s)
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
	d.dirtyMu.Lock()
	delete(d.dirty, s)
	d.dirtyMu.Unlock()
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
		case s.retry.attempts > 0 || s.replayRetry.attempts > 0:
			state = "retrying"
		}
		out[[2]string{s.sub.Processor, state}]++
		s.mu.Unlock()
	}
	return out
}

// OldestCursor returns the lowest saved delivery position among the
// subscriptions (the matcher's position when there are none).
func (d *Dispatcher) OldestCursor() uint64 {
	low := d.matched.Load()
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.subs {
		s.mu.Lock()
		low = min(low, s.saved)
		s.mu.Unlock()
	}
	return low
}

// Owned returns how many subscriptions owner holds.
func (d *Dispatcher) Owned(owner string) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.owners[owner]
}

// Replay queues dead letters of subscription id for delivery ahead of its
// new events (those already queued are skipped).
func (d *Dispatcher) Replay(id string, dls []*DeadLetter) {
	s := d.state(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	for _, dl := range dls {
		dup := false
		for _, e := range s.replay {
			dup = dup || e.Seq == dl.Seq
		}
		if !dup {
			s.replay = append(s.replay, dl.Event())
		}
	}
	s.mu.Unlock()
	d.kick(s)
}

// AckPull records that the client of pull subscription id has everything
// up to cursor; the position never moves back.
func (d *Dispatcher) AckPull(id string, cursor uint64) {
	s := d.state(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	if cursor > s.pullCursor {
		s.pullCursor = cursor
		d.markDirty(s)
	}
	s.mu.Unlock()
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

// Expired returns the subscriptions whose lease has ended at now. It scans
// only when the earliest lease end it knows of has come, so that many
// subscriptions without a lease, or with long ones, cost nothing.
func (d *Dispatcher) Expired(now time.Time) []*Subscription {
	d.expiryMu.Lock()
	due := !d.earliest.IsZero() && !now.Before(d.earliest)
	gen := d.expiryNotes
	d.expiryMu.Unlock()
	if !due {
		return nil
	}
	var out []*Subscription
	var earliest time.Time // over every lease, the ended ones too until they are gone
	d.mu.RLock()
	for _, s := range d.subs {
		s.mu.Lock()
		sub := s.sub
		s.mu.Unlock()
		if sub.Expires.IsZero() {
			continue
		}
		if sub.Expired(now) {
			out = append(out, sub)
		}
		if earliest.IsZero() || sub.Expires.Before(earliest) {
			earliest = sub.Expires
		}
	}
	d.mu.RUnlock()
	d.expiryMu.Lock()
	if d.expiryNotes == gen || (!earliest.IsZero() && earliest.Before(d.earliest)) {
		d.earliest = earliest
	}
	d.expiryMu.Unlock()
	return out
}

// noteExpiry records a lease end for Expired.
func (d *Dispatcher) noteExpiry(t time.Time) {
	if t.IsZero() {
		return
	}
	d.expiryMu.Lock()
	if d.earliest.IsZero() || t.Before(d.earliest) {
		d.earliest = t
	}
	d.expiryNotes++
	d.expiryMu.Unlock()
}

// kick makes sure s gets a worker's attention.
func (d *Dispatcher) kick(s *subState) {
	s.mu.Lock()
	if s.removed || s.pull || s.scheduled {
		s.mu.Unlock()
		return
	}
	s.scheduled = true
	s.mu.Unlock()
	d.queue.push(s)
}

// matchLoop feeds committed events to the live subscriptions they match.
func (d *Dispatcher) matchLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.inSignal:
		}
		for {
			d.inMu.Lock()
			evs, overflow := d.incoming, d.overflow
			d.incoming, d.overflow = nil, false
			d.inMu.Unlock()
			if overflow {
				// Read what the log holds after what was matched; events
				// that arrive meanwhile are skipped by seq below.
				var err error
				evs, _, err = d.log.ReadEvents(d.ctx, d.matched.Load(), 4096, "")
				if err != nil {
					if d.ctx.Err() == nil {
						d.logger.Error("matcher cannot read the log", slog.Any("err", err))
					}
					d.inMu.Lock()
					d.overflow = true
					d.inMu.Unlock()
					select {
					case <-d.ctx.Done():
						return
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				if len(evs) == 4096 {
					d.inMu.Lock()
					d.overflow = true
					d.inMu.Unlock()
				}
			}
			if len(evs) == 0 {
				break
			}
			for _, ev := range evs {
				if ev.Seq <= d.matched.Load() {
					continue
				}
				d.match(ev)
			}
			d.notifyHead()
		}
	}
}

func (d *Dispatcher) match(ev *Event) {
	d.matching.Store(ev.Seq)
	d.mu.RLock()
	var targets []*subState
	for s := range d.byTopic[ev.Topic] {
		targets = append(targets, s)
	}
	for s := range d.others {
		// A filter that is evaluated per event is evaluated by the
		// subscription's worker, not here: one costly filter must not
		// hold up the matcher, and so every other subscription.
		if !s.evaluates {
			if ok, _ := s.filter.Match(ev); !ok {
				continue
			}
		}
		targets = append(targets, s)
	}
	d.mu.RUnlock()
	for _, s := range targets {
		s.mu.Lock()
		if s.removed || !s.live || ev.Seq <= s.enqueued {
			s.mu.Unlock()
			continue
		}
		if len(s.queue) >= d.opts.QueueLimit {
			// Too far behind: stop holding events in memory; the worker
			// reads the log from s.enqueued once the queue drains.
			s.live = false
			s.mu.Unlock()
			continue
		}
		s.queue = append(s.queue, ev)
		s.enqueued = ev.Seq
		kick := !s.scheduled
		s.scheduled = true
		s.mu.Unlock()
		if kick {
			d.queue.push(s)
		}
	}
	d.matched.Store(ev.Seq)
}

func (d *Dispatcher) notifyHead() {
	d.headMu.Lock()
	close(d.headCh)
	d.headCh = make(chan struct{})
	d.headMu.Unlock()
}

// Matched returns the position up to which events have been matched, and a
// channel closed when it moves on. Pull and stream readers wait on it.
func (d *Dispatcher) Matched() (uint64, <-chan struct{}) {
	d.headMu.Lock()
	defer d.headMu.Unlock()
	return d.matched.Load(), d.headCh
}

func (d *Dispatcher) worker() {
	defer d.workers.Done()
	for {
		s, ok := d.queue.pop()
		if !ok {
			return
		}
		d.process(s)
	}
}

// process gives one subscription one step of work: a read of the log when
// its queue is empty and it is not live, else one delivery attempt of its
// oldest event. It keeps the subscription scheduled while work remains.
func (d *Dispatcher) process(s *subState) {
	s.mu.Lock()
	if s.removed {
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	if len(s.replay) == 0 && len(s.queue) == 0 && !s.live {
		s.mu.Unlock()
		if err := d.scan(s); err != nil {
			if d.ctx.Err() != nil {
				return
			}
			d.logger.Error("cannot read the event log", slog.String("subscription_id", s.id), slog.Any("err", err))
			d.wait(s, d.clock.Now().Add(time.Second))
			return
		}
		s.mu.Lock()
	}
	if s.removed || (len(s.replay) == 0 && len(s.queue) == 0) {
		s.scheduled = s.requeue(d)
		s.mu.Unlock()
		return
	}
	now := d.clock.Now()
	if s.sub.Expired(now) {
		// The lease ended: nothing more is delivered; the sweeper
		// reclaims the subscription.
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	if s.evaluates && len(s.replay) == 0 && !s.checked && !d.filterHead(s) {
		return
	}
	ev, sub, ep := s.head(), s.sub, s.endpoint
	r := s.retryFor(ev)
	if now.Before(r.next) {
		at := r.next
		s.mu.Unlock()
		d.wait(s, at)
		return
	}
	r.attempts++
	n := &Notification{Event: ev, Subscription: sub, MessageID: MessageID(sub.ID, ev.Seq), Attempt: r.attempts}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(d.deliverCtx, d.opts.Timeout)
	start := time.Now()
	err := ep.Deliver(ctx, n)
	latency := time.Since(start)
	cancel()
	d.outcome(s, ev, n, err, latency)
}

// filterBatch is how many queued candidates one step of a worker
// evaluates before it lets other subscriptions have the worker.
const filterBatch = 64

// filterHead evaluates s's filter on the queue's head until one matches
// (dropping those that do not), with s.mu held on entry and released
// while the filter runs. It returns true with s.mu held when the head is
// a match to deliver; false with s.mu released when there is nothing to
// deliver now (s rescheduled if work remains), or when the filter
// exceeded its budget and s is being ended.
func (d *Dispatcher) filterHead(s *subState) bool {
	for n := 0; ; n++ {
		switch {
		case len(s.replay) > 0 || s.checked:
			return true
		case len(s.queue) == 0 || n == filterBatch:
			s.scheduled = s.requeue(d)
			s.mu.Unlock()
			return false
		}
		ev, f := s.queue[0], s.filter
		s.mu.Unlock()
		ok, err := f.Match(ev)
		s.mu.Lock()
		if s.removed {
			s.scheduled = false
			s.mu.Unlock()
			return false
		}
		if len(s.queue) == 0 || s.queue[0] != ev || s.filter != f {
			continue // changed while the filter ran: look again
		}
		switch {
		case errors.Is(err, ErrFilterBudget) && d.hooks.filterFailed != nil:
			sub := s.sub
			s.scheduled = false
			s.mu.Unlock()
			d.hooks.filterFailed(sub, err)
			return false
		case err != nil:
			d.logger.Warn("filter failed on an event; the event does not match", slog.String("subscription_id", s.id), slog.Uint64("seq", ev.Seq), slog.Any("err", err))
			s.popHead(ev)
		case !ok:
			s.popHead(ev)
		default:
			s.checked = true
		}
	}
}

// requeue reports whether s still has work (and pushes it back to the work
// queue if so); s.mu must be held.
func (s *subState) requeue(d *Dispatcher) bool {
	if s.removed || s.pull || (len(s.replay) == 0 && len(s.queue) == 0 && s.live) {
		return false
	}
	d.queue.push(s)
	return true
}

// wait parks s until at, then schedules it again.
func (d *Dispatcher) wait(s *subState, at time.Time) {
	delay := at.Sub(d.clock.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		s.scheduled = false
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = d.clock.AfterFunc(max(delay, 0), func() {
		if d.ctx.Err() != nil {
			return
		}
		d.queue.push(s)
	})
}

// outcome records one attempt's result and decides what comes next.
func (d *Dispatcher) outcome(s *subState, ev *Event, n *Notification, err error, latency time.Duration) {
	if err != nil && d.deliverCtx.Err() != nil {
		// Shutdown cut the attempt short: it does not count, and the
		// event stays first in line for the next start.
		s.mu.Lock()
		s.retryFor(ev).attempts--
		s.mu.Unlock()
		return
	}
	now := d.clock.Now()
	status, retryAfter, permanent := deliveryDetails(err)
	exhausted := err != nil && (permanent || n.Attempt > len(d.opts.Schedule))
	att := Attempt{Time: now, Seq: ev.Seq, OK: err == nil, Status: status, Latency: latency}
	if err != nil {
		att.Error = err.Error()
	}
	if obs := d.opts.Observer; obs != nil {
		switch {
		case err == nil:
			obs.Attempted(n.Subscription.Processor, OutcomeDelivered, latency, now.Sub(ev.Received))
		case exhausted:
			obs.Attempted(n.Subscription.Processor, OutcomeDeadLetter, latency, 0)
		default:
			obs.Attempted(n.Subscription.Processor, OutcomeRetry, latency, 0)
		}
	}
	s.mu.Lock()
	s.log = append(s.log, att)
	s.logVersion++
	if len(s.log) > d.opts.LogSize {
		s.log = append(s.log[:0:0], s.log[len(s.log)-d.opts.LogSize:]...)
	}
	d.markDirty(s)
	if s.removed {
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	if err == nil {
		replayed := s.popHead(ev)
		s.failures, s.failingSince = 0, time.Time{}
		s.scheduled = s.requeue(d)
		s.mu.Unlock()
		if replayed {
			if derr := d.dead.DeleteDeadLetter(d.ctx, s.id, ev.Seq); derr != nil && d.ctx.Err() == nil {
				d.logger.Error("cannot remove a replayed dead letter; it may be delivered again", slog.String("subscription_id", s.id), slog.Any("err", derr))
			}
		}
		return
	}
	s.failures++
	if s.failingSince.IsZero() {
		s.failingSince = now
	}
	logger := d.logger.With(slog.String("subscription_id", s.id), slog.Uint64("seq", ev.Seq), slog.Int("attempt", n.Attempt))
	failedOut := d.opts.FailureLimit > 0 && s.failures >= d.opts.FailureLimit && now.Sub(s.failingSince) >= d.opts.FailureWindow
	sub := s.sub
	if !exhausted {
		delay := d.opts.Schedule[n.Attempt-1]
		delay = d.jitter(delay)
		if retryAfter > 0 {
			delay = min(retryAfter, d.opts.MaxRetryAfter)
		}
		s.retryFor(ev).next = now.Add(delay)
		s.mu.Unlock()
		logger.Warn("delivery failed; will retry", slog.Any("err", err), slog.Duration("retry_in", delay))
	} else {
		s.mu.Unlock()
		// The dead letter is durable before the cursor may pass the event.
		dl := &DeadLetter{Seq: ev.Seq, Received: ev.Received, Message: ev.Message, Attempts: n.Attempt, Error: err.Error(), Time: now}
		if derr := d.dead.AddDeadLetter(d.ctx, s.id, dl); derr != nil {
			if !errors.Is(derr, ErrNotFound) && d.ctx.Err() == nil {
				logger.Error("cannot store a dead letter; will retry the event", slog.Any("err", derr))
				s.mu.Lock()
				s.retryFor(ev).attempts--
				s.mu.Unlock()
				d.wait(s, now.Add(time.Second))
				return
			}
		} else {
			logger.Error("delivery failed for good; event moved to the dead letters", slog.Any("err", err))
		}
		s.mu.Lock()
		s.popHead(ev)
		s.mu.Unlock()
	}
	if failedOut && d.hooks.failed != nil {
		// The hook ends the subscription; if it could not, delivery
		// goes on as before rather than stopping silently.
		d.hooks.failed(sub, err.Error())
	}
	s.mu.Lock()
	if s.removed {
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	var at time.Time
	if len(s.replay) > 0 || len(s.queue) > 0 {
		at = s.retryFor(s.head()).next
	}
	s.mu.Unlock()
	if now.Before(at) {
		d.wait(s, at)
		return
	}
	s.mu.Lock()
	s.scheduled = s.requeue(d)
	s.mu.Unlock()
}

// retryState is how often an event was attempted and when its next attempt
// is due (zero: now).
type retryState struct {
	attempts int
	next     time.Time
}

// retryFor returns the retry state of ev, the head: replayed dead letters
// keep theirs apart from the queued event they go ahead of; s.mu must be
// held.
func (s *subState) retryFor(ev *Event) *retryState {
	if len(s.replay) > 0 && s.replay[0] == ev {
		return &s.replayRetry
	}
	return &s.retry
}

// head returns the event to deliver next: a replayed dead letter first,
// else the oldest queued event; s.mu must be held and one of them non-empty.
func (s *subState) head() *Event {
	if len(s.replay) > 0 {
		return s.replay[0]
	}
	return s.queue[0]
}

// popHead drops ev, the head, after it was delivered or dead-lettered, and
// reports whether it was a replayed dead letter; s.mu must be held.
func (s *subState) popHead(ev *Event) (replayed bool) {
	switch {
	case len(s.replay) > 0 && s.replay[0] == ev:
		s.replay[0] = nil
		s.replay = s.replay[1:]
		s.replayRetry = retryState{}
		return true
	case len(s.queue) > 0 && s.queue[0] == ev:
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		s.retry = retryState{}
		s.checked = false
	}
	return false
}

func (d *Dispatcher) jitter(delay time.Duration) time.Duration {
	if d.opts.Jitter == 0 || delay == 0 {
		return delay
	}
	f := 1 + d.opts.Jitter*(2*d.opts.Random()-1)
	return time.Duration(float64(delay) * f)
}

// scan reads the log after s.enqueued into s.queue (the worker holding s's
// turn is the only caller), and switches s to live when it caught up.
func (d *Dispatcher) scan(s *subState) error {
	s.mu.Lock()
	after, topic, filter, evaluates := s.enqueued, s.topic, s.filter, s.evaluates
	s.mu.Unlock()
	evs, through, err := d.log.ReadEvents(d.ctx, after, d.opts.ScanBatch, topic)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed || s.enqueued != after || s.filter != filter {
		return nil // changed while the log was read: read again
	}
	for _, ev := range evs {
		// Candidates of a filter evaluated per event are checked when
		// they reach the head (filterHead), by this worker, unlocked.
		if evaluates {
			s.queue = append(s.queue, ev)
		} else if ok, _ := filter.Match(ev); ok {
			s.queue = append(s.queue, ev)
		}
	}
	if through > s.enqueued {
		s.enqueued = through
		d.markDirty(s)
	}
	// Caught up when the read covered every event the matcher may have
	// skipped while s was not live (see the package documentation).
	if len(evs) < d.opts.ScanBatch && s.enqueued >= d.matching.Load() {
		s.live = true
	}
	return nil
}

// cursor returns the position up to which s is done; s.mu must be held.
// matched is the matcher's position read before taking s.mu.
func (s *subState) cursor(matched uint64) uint64 {
	if s.pull {
		return s.pullCursor
	}
	if len(s.queue) > 0 {
		return s.queue[0].Seq - 1
	}
	if s.live && matched > s.enqueued {
		return matched
	}
	return s.enqueued
}

func (d *Dispatcher) markDirty(s *subState) {
	d.dirtyMu.Lock()
	d.dirty[s] = struct{}{}
	d.dirtyMu.Unlock()
}

func (s *subState) state(matched uint64) *DeliveryState {
	st := &DeliveryState{
		Cursor: s.cursor(matched), Attempts: s.retry.attempts, NextAttempt: s.retry.next,
		Failures: s.failures, FailingSince: s.failingSince,
		Log: append([]Attempt{}, s.log...),
	}
	if len(s.replay) > 0 && s.replayRetry.attempts > 0 {
		st.ReplaySeq, st.ReplayAttempts, st.ReplayNext = s.replay[0].Seq, s.replayRetry.attempts, s.replayRetry.next
	}
	return st
}

func (d *Dispatcher) flushLoop() {
	defer d.wg.Done()
	tick := time.NewTicker(d.opts.FlushInterval)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-tick.C:
		}
		n++
		// Every 25th flush also saves the cursors that moved only
		// because the matcher passed events that did not match.
		if err := d.Flush(context.Background(), n%25 == 0); err != nil {
			d.logger.Error("cannot save delivery state", slog.Any("err", err))
		}
	}
}

// Flush writes the delivery state of subscriptions that changed; with all,
// also of those whose cursor moved only because the matcher passed events
// that did not match them.
func (d *Dispatcher) Flush(ctx context.Context, all bool) error {
	d.dirtyMu.Lock()
	dirty := d.dirty
	d.dirty = map[*subState]struct{}{}
	d.dirtyMu.Unlock()
	matched := d.matched.Load()
	states := map[string]*DeliveryState{}
	type position struct{ cursor, log uint64 }
	saved := map[*subState]position{}
	consider := func(s *subState, force bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.removed {
			return
		}
		if !force && s.cursor(matched) == s.saved && (!all || s.logVersion == s.logSaved) {
			return // nothing to write: most subscriptions, most of the time
		}
		st := s.state(matched)
		if !all {
			// The frequent flushes save positions and retry state; the
			// delivery log, the bulk of a state, goes with every full one.
			st.Log = nil
		}
		states[s.id] = st
		saved[s] = position{st.Cursor, s.logVersion}
	}
	for s := range dirty {
		consider(s, true)
	}
	if all {
		d.mu.RLock()
		for _, s := range d.subs {
			if _, done := dirty[s]; !done {
				consider(s, false)
			}
		}
		d.mu.RUnlock()
	}
	if len(states) == 0 {
		return nil
	}
	if err := d.states.SaveDeliveryStates(ctx, states); err != nil {
		d.dirtyMu.Lock()
		for s := range saved {
			d.dirty[s] = struct{}{}
		}
		d.dirtyMu.Unlock()
		return err
	}
	for s, p := range saved {
		s.mu.Lock()
		s.saved = p.cursor
		if all {
			s.logSaved = p.log
		}
		s.mu.Unlock()
	}
	return nil
}

func (d *Dispatcher) retentionLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(d.opts.RetentionInterval):
		}
		if _, err := d.Trim(d.ctx); err != nil && d.ctx.Err() == nil {
			d.logger.Error("cannot trim the event log", slog.Any("err", err))
		}
	}
}

// Trim deletes the events every subscription's saved cursor has passed that
// are older than the retention, and returns how many.
func (d *Dispatcher) Trim(ctx context.Context) (int, error) {
	low := d.matched.Load()
	d.mu.RLock()
	for _, s := range d.subs {
		s.mu.Lock()
		low = min(low, s.saved)
		s.mu.Unlock()
	}
	d.mu.RUnlock()
	n, err := d.log.Trim(ctx, low, d.clock.Now().Add(-d.opts.Retention))
	if n > 0 {
		d.logger.Info("event log trimmed", slog.Int("events", n), slog.Uint64("through", low))
	}
	return n, err
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
		d.wg.Wait()
		if ferr := d.Flush(context.Background(), true); ferr != nil && err == nil {
			err = ferr
		}
	})
	return err
}

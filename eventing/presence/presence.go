// Package presence turns the event log into what operators want to see at
// a glance: the presence of every instance that publishes (up, degraded,
// down or unknown, with when it was last seen and what it said last) and
// service levels over sliding windows ("99.9 % (1 failure event in the
// last 10 min)"), after the idea of application presence: simple rules on
// the events an application already sends set its "mood".
//
// A Tracker watches every commit of the log (eventing.EventLog.Watch): the
// callback only hands the events over, through a bounded queue, to the
// tracker's goroutine, so the log's writer never waits for presence; when
// the queue is full the tracker reads the log instead, so nothing is lost.
//
// Presence is an event source of its own: a change of an instance's state
// (an instance seen for the first time changes from unknown) is published
// on ChangedTopic, a service level crossing its threshold (either way) on
// CrossedTopic, through Herald's own operator events. Events on Herald's
// topics (herald.*) never feed presence.
//
// Everything that waits or expires reads the tracker's eventing.Clock.
// Memory is bounded: at most Rules.MaxInstances instances are tracked, the
// longest silent one forgotten first; a service level keeps HistoryMinutes
// per-minute buckets (or its window's, if longer).
package presence

import (
	"container/heap"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
)

// A State is an instance's presence.
type State string

// The states. Rules set up, degraded and down; silence sets unknown, and
// an instance not seen yet is unknown.
const (
	Unknown  State = "unknown"
	Up       State = "up"
	Degraded State = "degraded"
	Down     State = "down"
)

// States lists the states, best first.
var States = []State{Up, Degraded, Down, Unknown}

// The topics of presence's operator events.
const (
	// ChangedTopic carries a change of an instance's state: instanceId is
	// the instance, text "i-acc-1: unknown → up", info what caused it.
	ChangedTopic = "herald.presence.changed"
	// CrossedTopic carries a service level crossing its threshold:
	// instanceId is the level's name, text "accounting: 99.8 % < 99.9 %
	// (2 failure events in the last 10 min)".
	CrossedTopic = "herald.sla.crossed"
)

// A Publisher publishes Herald's own operator events;
// eventing.Service.PublishOperatorEvent is one.
type Publisher interface {
	PublishOperatorEvent(ctx context.Context, m *eventing.Message) (*eventing.Event, error)
}

// Options configure a Tracker. Zero values take the documented defaults.
type Options struct {
	// Log is the event log to watch (required).
	Log eventing.EventLog
	// Publisher publishes the tracker's operator events; nil publishes
	// none.
	Publisher Publisher
	// Clock is the clock of every silence and window (SystemClock).
	Clock eventing.Clock
	// Rules are the presence rules; nil for none.
	Rules  *Rules
	Logger *slog.Logger // discard
	// QueueLimit is how many committed events wait for the tracker's
	// goroutine before it reads the log instead (65,536).
	QueueLimit int
	// PublishQueue is how many operator events wait to be published
	// (1,024); past it they are dropped, counted and logged.
	PublishQueue int
}

// A Tracker keeps the presence of instances and the service levels. Its
// methods are safe for concurrent use.
type Tracker struct {
	log    eventing.EventLog
	pub    Publisher
	clock  eventing.Clock
	rules  *Rules
	logger *slog.Logger
	opts   Options

	// Observe's side: events committed, waiting for run.
	inMu     sync.Mutex
	incoming []*eventing.Event
	overflow bool
	observed uint64 // the last event to apply handed over (or skipped in overflow)
	signal   chan struct{}

	mu        sync.Mutex
	instances map[string]*instance
	lru       *list.List // of *instance, most recently seen first
	silent    silenceHeap
	counts    map[State]int
	levels    []*level
	applied   uint64 // every event up to it has been applied
	evicted   uint64
	progress  chan struct{} // closed when applied moves
	timer     eventing.Timer
	timerAt   time.Time

	dropped atomic.Uint64
	pubCh   chan *eventing.Message
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	pubWG   sync.WaitGroup
	closed  atomic.Bool
	once    sync.Once
}

type instance struct {
	id       string
	group    int
	state    State
	since    time.Time
	lastSeen time.Time
	topic    string
	text     string
	seq      uint64
	elem     *list.Element
	heapIdx  int // in silent; -1 when not waiting for silence (unknown)
	deadline time.Time
}

// New starts a tracker on o.Log's commits. Close stops it.
func New(o Options) (*Tracker, error) {
	if o.Log == nil {
		return nil, errors.New("presence: Options.Log is nil")
	}
	if o.Clock == nil {
		o.Clock = eventing.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 64 * 1024
	}
	if o.PublishQueue <= 0 {
		o.PublishQueue = 1024
	}
	t := &Tracker{
		log: o.Log, pub: o.Publisher, clock: o.Clock, rules: o.Rules, logger: o.Logger, opts: o,
		signal:    make(chan struct{}, 1),
		instances: map[string]*instance{},
		lru:       list.New(),
		counts:    map[State]int{},
		progress:  make(chan struct{}),
		pubCh:     make(chan *eventing.Message, o.PublishQueue),
	}
	if o.Rules != nil {
		for i := range o.Rules.levels {
			r := &o.Rules.levels[i]
			n := max(HistoryMinutes, int(r.window/time.Minute))
			t.levels = append(t.levels, &level{rule: r, buckets: make([]bucket, n)})
		}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	o.Log.Watch(t.Observe)
	head := o.Log.Head()
	t.applied, t.observed = head, head
	t.wg.Add(1)
	go t.run()
	t.pubWG.Add(1)
	go t.publishLoop()
	return t, nil
}

// Close stops the tracker: it applies no more events, publishes the
// operator events already queued and returns. The log's callback stays
// registered and drops everything from now on.
func (t *Tracker) Close() error {
	t.once.Do(func() {
		t.closed.Store(true)
		t.cancel()
		t.wg.Wait()
		t.mu.Lock()
		if t.timer != nil {
			t.timer.Stop()
		}
		t.mu.Unlock()
		close(t.pubCh)
		t.pubWG.Wait()
	})
	return nil
}

// Observe is the log's commit callback: it hands the events over to the
// tracker's goroutine and never blocks. Events on Herald's own topics are
// left out.
func (t *Tracker) Observe(evs []*eventing.Event) {
	if t.closed.Load() || len(evs) == 0 {
		return
	}
	t.inMu.Lock()
	if !t.overflow && len(t.incoming)+len(evs) > t.opts.QueueLimit {
		// The goroutine is far behind: it reads the log instead.
		t.overflow = true
		t.incoming = nil
	}
	for _, ev := range evs {
		if access.Reserved(ev.Topic) {
			continue
		}
		if !t.overflow {
			t.incoming = append(t.incoming, ev)
		}
		t.observed = max(t.observed, ev.Seq)
	}
	t.inMu.Unlock()
	t.poke()
}

func (t *Tracker) poke() {
	select {
	case t.signal <- struct{}{}:
	default:
	}
}

// Flush waits until every event committed before the call has been
// applied, or ctx ends.
func (t *Tracker) Flush(ctx context.Context) error {
	t.inMu.Lock()
	target := t.observed
	t.inMu.Unlock()
	for {
		t.mu.Lock()
		done, ch := t.applied >= target, t.progress
		t.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.ctx.Done():
			return errors.New("presence: the tracker is closed")
		}
	}
}

func (t *Tracker) run() {
	defer t.wg.Done()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-t.signal:
		}
		for t.ctx.Err() == nil {
			evs, more := t.take()
			if len(evs) == 0 {
				if more {
					continue
				}
				break
			}
			t.apply(evs)
		}
		t.tick()
	}
}

// take returns the next events to apply: those handed over, or, after an
// overflow, those the log holds after the last one applied (more: read
// on).
func (t *Tracker) take() (evs []*eventing.Event, more bool) {
	t.inMu.Lock()
	evs, overflow := t.incoming, t.overflow
	t.incoming, t.overflow = nil, false
	t.inMu.Unlock()
	if !overflow {
		return evs, false
	}
	t.mu.Lock()
	after := t.applied
	t.mu.Unlock()
	const batch = 4096
	read, through, err := t.log.ReadEvents(t.ctx, after, batch, "")
	if err != nil {
		if t.ctx.Err() == nil {
			t.logger.Error("presence cannot read the event log; trying again in a second", slog.Any("err", err))
		}
		t.inMu.Lock()
		t.overflow = true
		t.inMu.Unlock()
		t.clock.AfterFunc(time.Second, t.poke)
		return nil, false
	}
	if len(read) == batch {
		t.inMu.Lock()
		t.overflow = true
		t.inMu.Unlock()
		more = true
	}
	if len(read) == 0 && through > after {
		// Only trimmed or skipped positions: move past them.
		t.mu.Lock()
		t.advance(through)
		t.mu.Unlock()
	}
	return read, more
}

// advance moves applied to seq; t.mu must be held.
func (t *Tracker) advance(seq uint64) {
	if seq > t.applied {
		t.applied = seq
		close(t.progress)
		t.progress = make(chan struct{})
	}
}

// apply applies events in log order.
func (t *Tracker) apply(evs []*eventing.Event) {
	var out []*eventing.Message
	t.mu.Lock()
	last := t.applied
	for _, ev := range evs {
		if ev.Seq <= last {
			continue // read from the log and handed over: seen already
		}
		last = ev.Seq
		if access.Reserved(ev.Topic) {
			continue
		}
		out = t.applyOne(ev, out)
	}
	out = t.checkLevels(t.clock.Now(), out)
	t.advance(last)
	t.mu.Unlock()
	t.publish(out)
}

// applyOne applies one event; t.mu must be held.
func (t *Tracker) applyOne(ev *eventing.Event, out []*eventing.Message) []*eventing.Message {
	id := strings.TrimSpace(ev.InstanceID)
	g := -1
	var inst *instance
	if id != "" {
		inst = t.instances[id]
		if inst == nil {
			inst = t.track(id)
		}
		g = inst.group
	}
	for _, l := range t.levels {
		if l.rule.counts(ev.Topic, g) {
			l.count(ev.Received, l.rule.failure(ev.Topic, ev.Text))
		}
	}
	if inst == nil {
		return out
	}
	next, matched := t.rules.stateFor(ev.Topic, ev.Text, g)
	if !matched {
		next = inst.state
		if next == Unknown {
			next = Up // seen
		}
	}
	if ev.Received.After(inst.lastSeen) {
		inst.lastSeen = ev.Received
	}
	inst.topic, inst.text, inst.seq = ev.Topic, ev.Text, ev.Seq
	t.lru.MoveToFront(inst.elem)
	inst.deadline = inst.lastSeen.Add(t.rules.silenceOf(g))
	if inst.heapIdx >= 0 {
		heap.Fix(&t.silent, inst.heapIdx)
	} else {
		heap.Push(&t.silent, inst)
	}
	if next != inst.state {
		out = append(out, t.change(inst, next, ev.Received, fmt.Sprintf("event %d on %s: %s", ev.Seq, ev.Topic, clip(ev.Text))))
	}
	return out
}

// track starts tracking a new instance (unknown), forgetting the longest
// silent one when the tracker is full; t.mu must be held.
func (t *Tracker) track(id string) *instance {
	if len(t.instances) >= t.rules.MaxInstances() {
		if e := t.lru.Back(); e != nil {
			old := e.Value.(*instance)
			t.lru.Remove(e)
			delete(t.instances, old.id)
			if old.heapIdx >= 0 {
				heap.Remove(&t.silent, old.heapIdx)
			}
			t.counts[old.state]--
			t.evicted++
		}
	}
	inst := &instance{id: id, group: t.rules.groupOf(id), state: Unknown, heapIdx: -1}
	inst.elem = t.lru.PushFront(inst)
	t.instances[id] = inst
	t.counts[Unknown]++
	return inst
}

// change moves inst to state at and returns the operator event; t.mu must
// be held.
func (t *Tracker) change(inst *instance, state State, at time.Time, why string) *eventing.Message {
	from := inst.state
	t.counts[from]--
	t.counts[state]++
	inst.state, inst.since = state, at
	return &eventing.Message{
		Topic: ChangedTopic, InstanceID: inst.id, Timestamp: t.clock.Now().UTC().Format(time.RFC3339),
		Text: fmt.Sprintf("%s: %s → %s", inst.id, from, state), Info: why,
	}
}

// tick expires silent instances, checks the service levels against the
// clock and sets the timer for the next time something may change.
func (t *Tracker) tick() {
	if t.ctx.Err() != nil {
		return
	}
	var out []*eventing.Message
	t.mu.Lock()
	now := t.clock.Now()
	for len(t.silent) > 0 && !t.silent[0].deadline.After(now) {
		inst := heap.Pop(&t.silent).(*instance)
		silence := t.rules.silenceOf(inst.group)
		out = append(out, t.change(inst, Unknown, inst.deadline,
			fmt.Sprintf("silent since %s (silence %s)", inst.lastSeen.UTC().Format(time.RFC3339), formatDuration(silence))))
	}
	out = t.checkLevels(now, out)
	var next time.Time
	if len(t.silent) > 0 {
		next = t.silent[0].deadline
	}
	for _, l := range t.levels {
		if _, failures := l.window(now); failures > 0 {
			// The level changes as the failures' minutes leave the window.
			b := now.Truncate(time.Minute).Add(time.Minute)
			if next.IsZero() || b.Before(next) {
				next = b
			}
			break
		}
	}
	t.schedule(now, next)
	t.mu.Unlock()
	t.publish(out)
}

// schedule makes sure the tracker wakes up by at (zero: no need); t.mu
// must be held.
func (t *Tracker) schedule(now, at time.Time) {
	if at.IsZero() {
		return // a pending timer may fire for nothing: harmless
	}
	if t.timer != nil && t.timerAt.After(now) && !t.timerAt.After(at) {
		return // it wakes up early enough
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timerAt = at
	t.timer = t.clock.AfterFunc(at.Sub(now), t.poke)
	if !t.clock.Now().Before(at) {
		t.poke() // the clock moved on meanwhile: the timer may be late
	}
}

// checkLevels publishes the crossings of the levels' thresholds at now;
// t.mu must be held.
func (t *Tracker) checkLevels(now time.Time, out []*eventing.Message) []*eventing.Message {
	for _, l := range t.levels {
		if l.rule.threshold == 0 {
			continue
		}
		events, failures := l.window(now)
		pct := percent(events, failures)
		below := pct < l.rule.threshold
		if below == l.below {
			continue
		}
		l.below = below
		rel := "<"
		if !below {
			rel = "≥"
		}
		text := fmt.Sprintf("%s: %s %s %s (%s)", l.rule.name, FormatPercent(pct), rel, FormatPercent(l.rule.threshold), failuresText(failures, l.rule.window))
		out = append(out, &eventing.Message{
			Topic: CrossedTopic, InstanceID: l.rule.name, Timestamp: now.UTC().Format(time.RFC3339),
			Text: text, Info: fmt.Sprintf("%d events, %s", events, failuresText(failures, l.rule.window)),
		})
	}
	return out
}

// publish queues operator events, dropping (and counting) those that do
// not fit.
func (t *Tracker) publish(msgs []*eventing.Message) {
	if t.pub == nil {
		return
	}
	for _, m := range msgs {
		select {
		case t.pubCh <- m:
		default:
			if n := t.dropped.Add(1); n == 1 || n%1000 == 0 {
				t.logger.Warn("presence operator events dropped: the queue is full", slog.Uint64("dropped", n))
			}
		}
	}
}

func (t *Tracker) publishLoop() {
	defer t.pubWG.Done()
	for m := range t.pubCh {
		if t.pub == nil {
			continue
		}
		if _, err := t.pub.PublishOperatorEvent(context.Background(), m); err != nil {
			t.logger.Error("cannot publish a presence event", slog.String("topic", m.Topic), slog.Any("err", err))
		}
	}
}

// An Instance is what the tracker knows of one instanceId.
type Instance struct {
	ID    string
	State State
	// Since is when the instance entered its state.
	Since time.Time
	// LastSeen is when Herald received its last event.
	LastSeen time.Time
	// Group is the name of the first [[group]] whose pattern matches the
	// id ("" for none).
	Group string
	// Topic, Text and Seq are those of its last event.
	Topic, Text string
	Seq         uint64
}

func (t *Tracker) view(inst *instance) Instance {
	return Instance{
		ID: inst.id, State: inst.state, Since: inst.since, LastSeen: inst.lastSeen,
		Group: t.rules.groupName(inst.group), Topic: inst.topic, Text: inst.text, Seq: inst.seq,
	}
}

// Instance returns what the tracker knows of one instance.
func (t *Tracker) Instance(id string) (Instance, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	inst := t.instances[id]
	if inst == nil {
		return Instance{}, false
	}
	return t.view(inst), true
}

// An InstanceQuery selects a page of instances, most recently seen first.
type InstanceQuery struct {
	// State keeps only the instances in this state ("" for all).
	State State
	// Contains keeps only the instances whose id contains it.
	Contains string
	// After is the Next of the previous page ("" for the first page).
	After string
	// Limit is the page's size (50; at most 1,000).
	Limit int
}

// An InstancePage is one page of instances.
type InstancePage struct {
	Instances []Instance
	// Next is the After of the next page, "" on the last page.
	Next string
	// Counts holds how many instances are tracked in each state.
	Counts map[State]int
	// Total is how many instances are tracked.
	Total int
}

// Instances returns a page of instances, most recently seen first. A page
// costs the instances it walks past, never a sort of all of them.
func (t *Tracker) Instances(q InstanceQuery) InstancePage {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 1000)
	t.mu.Lock()
	defer t.mu.Unlock()
	p := InstancePage{Counts: map[State]int{}, Total: len(t.instances)}
	for _, s := range States {
		p.Counts[s] = t.counts[s]
	}
	e := t.lru.Front()
	if q.After != "" {
		if inst := t.instances[q.After]; inst != nil {
			e = inst.elem.Next()
		}
	}
	for ; e != nil; e = e.Next() {
		inst := e.Value.(*instance)
		if (q.State != "" && inst.state != q.State) || !strings.Contains(inst.id, q.Contains) {
			continue
		}
		if len(p.Instances) == q.Limit {
			p.Next = p.Instances[len(p.Instances)-1].ID
			break
		}
		p.Instances = append(p.Instances, t.view(inst))
	}
	return p
}

// Stats are the tracker's counters.
type Stats struct {
	// Tracked is how many instances are tracked; Evicted how many were
	// forgotten to stay within MaxInstances.
	Tracked, MaxInstances int
	Evicted               uint64
	// Dropped counts operator events not published because their queue
	// was full.
	Dropped uint64
	// Applied is the log position up to which events have been applied.
	Applied uint64
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{Tracked: len(t.instances), MaxInstances: t.rules.MaxInstances(), Evicted: t.evicted, Dropped: t.dropped.Load(), Applied: t.applied}
}

// Rules returns the tracker's rules (nil for none).
func (t *Tracker) Rules() *Rules { return t.rules }

// level is a service level's buckets: a ring of minutes.
type level struct {
	rule    *levelRule
	buckets []bucket
	below   bool
}

type bucket struct {
	minute   int64 // Unix minute; the bucket is empty unless it is the current one
	events   int
	failures int
}

func unixMinute(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 60)) }

func (l *level) slot(m int64) *bucket {
	n := int64(len(l.buckets))
	return &l.buckets[((m%n)+n)%n]
}

// count adds an event received at at.
func (l *level) count(at time.Time, failure bool) {
	m := unixMinute(at)
	b := l.slot(m)
	switch {
	case b.minute < m:
		*b = bucket{minute: m}
	case b.minute > m:
		return // older than the ring
	}
	b.events++
	if failure {
		b.failures++
	}
}

// window returns the events and failures of the window ending at now: the
// current minute and those before it, whole minutes.
func (l *level) window(now time.Time) (events, failures int) {
	nm := unixMinute(now)
	w := int64(l.rule.window / time.Minute)
	for m := nm - w + 1; m <= nm; m++ {
		if b := l.slot(m); b.minute == m {
			events += b.events
			failures += b.failures
		}
	}
	return events, failures
}

// A Level is a service level as of now.
type Level struct {
	Name string
	// Percent is the share of the window's events that were not
	// failures (100 when there were none).
	Percent          float64
	Events, Failures int
	Window           time.Duration
	// Threshold is the percentage whose crossing is published (0 for
	// none); Below says the level is under it.
	Threshold float64
	Below     bool
	// Minutes holds the last HistoryMinutes (or the window's, if more)
	// minutes, oldest first, the current one last.
	Minutes []Minute
}

// A Minute is one bucket of a service level.
type Minute struct {
	Start            time.Time
	Events, Failures int
}

// Percent returns the minute's level (100 without events).
func (m Minute) Percent() float64 { return percent(m.Events, m.Failures) }

// String describes the level: "99.9 % (1 failure event in the last 10 min)".
func (l Level) String() string {
	return fmt.Sprintf("%s (%s)", FormatPercent(l.Percent), failuresText(l.Failures, l.Window))
}

// Levels returns the service levels as of the clock's now, in the rules'
// order.
func (t *Tracker) Levels() []Level {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	nm := unixMinute(now)
	out := make([]Level, 0, len(t.levels))
	for _, l := range t.levels {
		events, failures := l.window(now)
		lv := Level{
			Name: l.rule.name, Percent: percent(events, failures), Events: events, Failures: failures,
			Window: l.rule.window, Threshold: l.rule.threshold,
		}
		lv.Below = lv.Threshold > 0 && lv.Percent < lv.Threshold
		n := int64(len(l.buckets))
		for m := nm - n + 1; m <= nm; m++ {
			mb := Minute{Start: time.Unix(m*60, 0).UTC()}
			if b := l.slot(m); b.minute == m {
				mb.Events, mb.Failures = b.events, b.failures
			}
			lv.Minutes = append(lv.Minutes, mb)
		}
		out = append(out, lv)
	}
	return out
}

func percent(events, failures int) float64 {
	if events == 0 {
		return 100
	}
	return 100 * float64(events-failures) / float64(events)
}

// FormatPercent writes a level rounded down to two decimals, so that a
// level below 100 never reads 100 %: "99.9 %", "100 %".
func FormatPercent(p float64) string {
	f := math.Floor(p*100) / 100
	if p < 100 && f >= 100 {
		f = 99.99
	}
	return strconv.FormatFloat(f, 'f', -1, 64) + " %"
}

func failuresText(failures int, window time.Duration) string {
	w := formatDuration(window)
	switch failures {
	case 0:
		return "no failure event in the last " + w
	case 1:
		return "1 failure event in the last " + w
	}
	return fmt.Sprintf("%d failure events in the last %s", failures, w)
}

// formatDuration writes whole minutes as "10 min", other durations as Go
// does.
func formatDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// silenceHeap orders the instances that are not unknown by the time their
// silence ends.
type silenceHeap []*instance

func (h silenceHeap) Len() int           { return len(h) }
func (h silenceHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h silenceHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}

func (h *silenceHeap) Push(x any) {
	inst := x.(*instance)
	inst.heapIdx = len(*h)
	*h = append(*h, inst)
}

func (h *silenceHeap) Pop() any {
	old := *h
	inst := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	inst.heapIdx = -1
	return inst
}

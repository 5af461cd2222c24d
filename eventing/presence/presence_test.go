package presence_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/eventingtest"
	"github.com/herald-eventing/herald/eventing/presence"
	"github.com/herald-eventing/herald/store"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// env is a tracker on a real log, with a fake clock and a publisher that
// appends the operator events to the same log (so that they come back to
// the tracker, which must ignore them) and records them.
type env struct {
	t       *testing.T
	db      *store.DB
	clock   *eventingtest.Clock
	tracker *presence.Tracker
	pub     *recorder
}

type recorder struct {
	db  *store.DB
	clk eventing.Clock
	ch  chan *eventing.Message
}

func (r *recorder) PublishOperatorEvent(ctx context.Context, m *eventing.Message) (*eventing.Event, error) {
	ev, err := r.db.Append(ctx, m, r.clk.Now())
	if err == nil {
		r.ch <- m
	}
	return ev, err
}

func newEnv(t *testing.T, rules string, o presence.Options) *env {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db, clock: eventingtest.NewClock(t0)}
	e.pub = &recorder{db: db, clk: e.clock, ch: make(chan *eventing.Message, 1000)}
	if rules != "" {
		r, err := presence.ParseRules("rules.toml", []byte(rules))
		if err != nil {
			t.Fatal(err)
		}
		o.Rules = r
	}
	o.Log, o.Clock, o.Publisher = db, e.clock, e.pub
	e.tracker, err = presence.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.tracker.Close() })
	return e
}

// publish appends an event received now.
func (e *env) publish(instance, topic, text string) {
	e.t.Helper()
	if _, err := e.db.Append(e.t.Context(), &eventing.Message{Topic: topic, InstanceID: instance, Text: text}, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	if err := e.tracker.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// next returns the next operator event.
func (e *env) next() *eventing.Message {
	e.t.Helper()
	select {
	case m := <-e.pub.ch:
		return m
	case <-time.After(10 * time.Second):
		e.t.Fatal("no operator event within 10s")
	}
	return nil
}

func (e *env) expect(topic, text string) *eventing.Message {
	e.t.Helper()
	m := e.next()
	if m.Topic != topic || m.Text != text {
		e.t.Fatalf("operator event %s %q; want %s %q", m.Topic, m.Text, topic, text)
	}
	return m
}

// none checks that no operator event was published (after a flush).
func (e *env) none() {
	e.t.Helper()
	e.flush()
	select {
	case m := <-e.pub.ch:
		e.t.Fatalf("unexpected operator event %s %q", m.Topic, m.Text)
	default:
	}
}

func (e *env) state(id string) presence.State {
	e.t.Helper()
	inst, ok := e.tracker.Instance(id)
	if !ok {
		return ""
	}
	return inst.State
}

func TestNoRules_SeenIsUp_SilenceIsUnknown(t *testing.T) {
	e := newEnv(t, "", presence.Options{})
	e.publish("i-acc-1", "orders", "order 1")
	m := e.expect(presence.ChangedTopic, "i-acc-1: unknown → up")
	if m.InstanceID != "i-acc-1" || !strings.Contains(m.Info, "on orders: order 1") {
		t.Errorf("event: %+v", m)
	}
	inst, _ := e.tracker.Instance("i-acc-1")
	if inst.State != presence.Up || !inst.LastSeen.Equal(t0) || inst.Topic != "orders" || inst.Text != "order 1" || inst.Since != t0 {
		t.Errorf("instance: %+v", inst)
	}
	// Seen again: no change, no event.
	e.clock.Advance(9 * time.Minute)
	e.publish("i-acc-1", "orders", "order 2")
	e.none()
	// 10 minutes after the last event (the default silence) and not before.
	e.clock.Advance(9*time.Minute + 59*time.Second)
	e.none()
	if got := e.state("i-acc-1"); got != presence.Up {
		t.Fatalf("state %s before the silence ended", got)
	}
	e.clock.Advance(time.Second)
	m = e.expect(presence.ChangedTopic, "i-acc-1: up → unknown")
	if !strings.Contains(m.Info, "silence 10 min") {
		t.Errorf("info %q", m.Info)
	}
	if got := e.state("i-acc-1"); got != presence.Unknown {
		t.Errorf("state %s after the silence", got)
	}
	// Back: unknown → up again.
	e.publish("i-acc-1", "orders", "order 3")
	e.expect(presence.ChangedTopic, "i-acc-1: unknown → up")
}

const rulesUpDown = `
silence = "5m"

[[group]]
name = "db"
instances = "db-*"
silence = "1m"

[[state]]
topic = "health"
text = "(?i)\\bdown\\b"
state = "down"

[[state]]
topic = "health"
text = "(?i)slow"
state = "degraded"

[[state]]
topic = "health"
state = "up"

[[state]]
group = "db"
text = "replica lag"
state = "degraded"
`

func TestRules_SetStates(t *testing.T) {
	e := newEnv(t, rulesUpDown, presence.Options{})
	e.publish("i-1", "health", "all good")
	e.expect(presence.ChangedTopic, "i-1: unknown → up")
	e.publish("i-1", "health", "disk slow")
	e.expect(presence.ChangedTopic, "i-1: up → degraded")
	e.publish("i-1", "health", "service DOWN")
	e.expect(presence.ChangedTopic, "i-1: degraded → down")
	// An event no rule matches leaves a known state alone.
	e.publish("i-1", "orders", "order 1")
	e.none()
	if got := e.state("i-1"); got != presence.Down {
		t.Errorf("state %s; want down", got)
	}
	e.publish("i-1", "health", "back")
	e.expect(presence.ChangedTopic, "i-1: down → up")
	// A rule limited to a group applies to its instances only.
	e.publish("i-1", "orders", "replica lag 3s")
	e.none()
	e.publish("db-1", "orders", "replica lag 3s")
	e.expect(presence.ChangedTopic, "db-1: unknown → degraded")
	inst, _ := e.tracker.Instance("db-1")
	if inst.Group != "db" {
		t.Errorf("group %q", inst.Group)
	}
	// The group's silence (1 min) ends first, then the file's (5 min).
	e.clock.Advance(time.Minute)
	e.expect(presence.ChangedTopic, "db-1: degraded → unknown")
	e.none()
	e.clock.Advance(4 * time.Minute)
	e.expect(presence.ChangedTopic, "i-1: up → unknown")
	p := e.tracker.Instances(presence.InstanceQuery{})
	if p.Counts[presence.Unknown] != 2 || p.Counts[presence.Up] != 0 || p.Total != 2 {
		t.Errorf("counts %v, total %d", p.Counts, p.Total)
	}
}

func TestHeraldTopicsDoNotFeedPresence(t *testing.T) {
	e := newEnv(t, `
[[level]]
name = "all"
failure_text = "→"
threshold = 50
`, presence.Options{})
	// Herald's own events (and the tracker's, which come back through
	// the log) are neither instances nor counted.
	e.publish("herald", eventing.EndedTopic, "subscription uuid:x (soap) ended: DeliveryFailure")
	e.publish("i-1", "orders", "order")
	e.expect(presence.ChangedTopic, "i-1: unknown → up")
	e.publish("i-2", "orders", "order")
	e.expect(presence.ChangedTopic, "i-2: unknown → up")
	e.none()
	if _, ok := e.tracker.Instance("herald"); ok {
		t.Error("herald.* events made an instance")
	}
	lv := e.tracker.Levels()[0]
	if lv.Events != 2 || lv.Failures != 0 {
		t.Errorf("level counted %d events, %d failures; want 2, 0 (the operator events hold →)", lv.Events, lv.Failures)
	}
}

func TestLevel_WindowAndThreshold(t *testing.T) {
	e := newEnv(t, `
silence = "1h"

[[group]]
name = "acc"
instances = "i-acc-*"

[[level]]
name = "accounting"
group = "acc"
topic = "acc.>"
failure_topic = "acc.*.error"
window = "10m"
threshold = 99
`, presence.Options{})
	for i := range 99 {
		e.publish(fmt.Sprintf("i-acc-%d", i%2), "acc.ledger", "ok")
	}
	e.publish("i-other", "acc.ledger.error", "not counted: not in the group")
	e.publish("i-acc-1", "orders.error", "not counted: not the level's topic")
	e.flush()
	for range 3 {
		<-e.pub.ch // first seen
	}
	lv := e.tracker.Levels()[0]
	if lv.Events != 99 || lv.Failures != 0 || lv.Percent != 100 || lv.Below {
		t.Fatalf("level %+v", lv)
	}
	if got := lv.String(); got != "100 % (no failure event in the last 10 min)" {
		t.Errorf("String %q", got)
	}
	// 1 failure in 100: 99 %, at the threshold, not below it.
	e.publish("i-acc-0", "acc.ledger.error", "posting failed")
	e.none()
	if lv := e.tracker.Levels()[0]; lv.String() != "99 % (1 failure event in the last 10 min)" || lv.Below {
		t.Errorf("level %s, below %v", lv, lv.Below)
	}
	e.clock.Advance(3 * time.Minute)
	e.publish("i-acc-0", "acc.ledger.error", "posting failed")
	m := e.expect(presence.CrossedTopic, "accounting: 98.01 % < 99 % (2 failure events in the last 10 min)")
	if m.InstanceID != "accounting" {
		t.Errorf("instanceId %q", m.InstanceID)
	}
	lv = e.tracker.Levels()[0]
	if !lv.Below || lv.Events != 101 || lv.Failures != 2 || lv.String() != "98.01 % (2 failure events in the last 10 min)" {
		t.Errorf("level %+v %s", lv, lv)
	}
	if n := len(lv.Minutes); n != presence.HistoryMinutes {
		t.Fatalf("%d minutes", n)
	}
	if last, before := lv.Minutes[59], lv.Minutes[56]; last.Events != 1 || last.Failures != 1 || before.Events != 100 || before.Failures != 1 || !before.Start.Equal(t0) {
		t.Errorf("minutes %+v, %+v", before, last)
	}
	// The first minute's 100 events and 1 failure leave the window after
	// 10 minutes: 1 event, 1 failure, 0 %.
	e.clock.Advance(7 * time.Minute)
	e.none()
	if lv := e.tracker.Levels()[0]; lv.Events != 1 || lv.Percent != 0 {
		t.Errorf("after 10 min: %+v", lv)
	}
	// The last failure leaves the window: back at 100 %.
	e.clock.Advance(3 * time.Minute)
	e.expect(presence.CrossedTopic, "accounting: 100 % ≥ 99 % (no failure event in the last 10 min)")
}

func TestMaxInstances_ForgetsTheLongestSilent(t *testing.T) {
	e := newEnv(t, "max_instances = 3\n", presence.Options{})
	for i := range 3 {
		e.publish(fmt.Sprintf("i-%d", i), "t", "")
		e.clock.Advance(time.Second)
	}
	e.publish("i-0", "t", "") // i-1 is now the longest silent
	e.publish("i-3", "t", "")
	e.flush()
	if _, ok := e.tracker.Instance("i-1"); ok {
		t.Error("i-1 is still tracked")
	}
	for _, id := range []string{"i-0", "i-2", "i-3"} {
		if _, ok := e.tracker.Instance(id); !ok {
			t.Errorf("%s is not tracked", id)
		}
	}
	st := e.tracker.Stats()
	if st.Tracked != 3 || st.Evicted != 1 || st.MaxInstances != 3 {
		t.Errorf("stats %+v", st)
	}
	p := e.tracker.Instances(presence.InstanceQuery{})
	if p.Total != 3 || p.Counts[presence.Up] != 3 || p.Counts[presence.Unknown] != 0 {
		t.Errorf("page %+v", p)
	}
	// Silence still works for those that stayed, and the forgotten one
	// is no longer waited for.
	e.clock.Advance(10 * time.Minute)
	seen := map[string]bool{}
	for range 3 + 4 { // 4 first seen, 3 unknown
		m := e.next()
		seen[m.Text] = true
	}
	for _, want := range []string{"i-0: up → unknown", "i-2: up → unknown", "i-3: up → unknown"} {
		if !seen[want] {
			t.Errorf("no %q in %v", want, seen)
		}
	}
	e.none()
}

func TestOverflow_ReadsTheLog(t *testing.T) {
	e := newEnv(t, "", presence.Options{QueueLimit: 2})
	// One commit of more events than the queue holds: the tracker reads
	// them from the log.
	var msgs []*eventing.Message
	for i := range 10 {
		msgs = append(msgs, &eventing.Message{Topic: "t", InstanceID: fmt.Sprintf("i-%d", i)})
	}
	evs := make([]*eventing.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := e.db.Append(t.Context(), m, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	e.tracker.Observe(evs) // again, all at once: the tracker skips what it has
	e.flush()
	if p := e.tracker.Instances(presence.InstanceQuery{Limit: 100}); p.Total != 10 || len(p.Instances) != 10 {
		t.Errorf("%d instances tracked; want 10", p.Total)
	}
	for range 10 {
		e.next()
	}
	e.none()
}

func TestInstances_Pages(t *testing.T) {
	e := newEnv(t, rulesUpDown, presence.Options{})
	for i := range 25 {
		text := "fine"
		if i%5 == 0 {
			text = "down"
		}
		e.publish(fmt.Sprintf("i-%02d", i), "health", text)
		e.clock.Advance(time.Second)
	}
	e.flush()
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		p := e.tracker.Instances(presence.InstanceQuery{Limit: 10, After: after})
		for _, inst := range p.Instances {
			got = append(got, inst.ID)
		}
		if p.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages", pages+1)
			}
			break
		}
		after = p.Next
	}
	if len(got) != 25 || got[0] != "i-24" || got[24] != "i-00" {
		t.Errorf("pages: %v", got)
	}
	p := e.tracker.Instances(presence.InstanceQuery{State: presence.Down})
	if len(p.Instances) != 5 || p.Counts[presence.Down] != 5 || p.Counts[presence.Up] != 20 {
		t.Errorf("down: %d, counts %v", len(p.Instances), p.Counts)
	}
	p = e.tracker.Instances(presence.InstanceQuery{Contains: "i-1"})
	if len(p.Instances) != 10 {
		t.Errorf("contains i-1: %d", len(p.Instances))
	}
}

func TestNew_NeedsALog(t *testing.T) {
	if _, err := presence.New(presence.Options{}); err == nil {
		t.Error("no error without a log")
	}
}

func TestClose_PublishesWhatIsQueued(t *testing.T) {
	e := newEnv(t, "", presence.Options{})
	e.publish("i-1", "t", "")
	e.flush()
	e.tracker.Close()
	e.expect(presence.ChangedTopic, "i-1: unknown → up")
	e.tracker.Close() // twice is fine
	e.publish("i-2", "t", "")
	select {
	case m := <-e.pub.ch:
		t.Errorf("a closed tracker published %q", m.Text)
	default:
	}
}

// Package storetest is the conformance suite for eventing.Store
// implementations: one test body per contract of eventing/store.go, run
// against every backend (bbolt in store, JetStream in store/jetstream),
// the way nats-server runs one StreamStore suite against its file and
// memory stores.
//
// # Contracts the suite pins down beyond eventing/store.go
//
// eventing/store.go was written against one bbolt transaction per call. A
// backend without multi-key transactions (JetStream KV) cannot promise
// that, so the suite checks what callers rely on instead:
//
//   - UpdateSubscription's fn may be called more than once, as with
//     bbolt's Batch: a backend that detects a concurrent write (a revision
//     mismatch) re-reads the subscription and calls fn again. fn must
//     therefore only change the subscription it is given and decide from
//     it alone. Concurrent updates are never lost.
//   - CreateSubscription with a Key stores at most one subscription per
//     key, also under concurrent calls.
//   - Watch may call its functions after Append has returned (an event
//     is seen by watchers once it is durable, not necessarily before its
//     publisher is answered), but always in log order, each event once.
//   - SaveDeliveryStates writes each state atomically, not necessarily
//     all of them in one transaction, and raises the matched-through
//     position only once they are all stored: a save that failed leaves the
//     position where it was. The position never moves back.
//   - CreateSubscription stores the subscription with a Pending state at
//     its Start, unless the backend is run with SingleWriter; either way
//     the new subscription's position is its Start. A nil state in a
//     save deletes the stored one.
//   - A canceled context fails a call rather than blocking.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
)

// Run runs every contract test against the stores open returns. open must
// return a new, empty store for each call and close it when t ends (with
// t.Cleanup). A store that also implements access.KeyStore is tested as
// one too.
func Run(t *testing.T, open func(t *testing.T) eventing.Store, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	pendingAtStart := testDeliveryStatesPendingAtStart
	if o.singleWriter {
		pendingAtStart = testDeliveryStatesStartWithoutState
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, st eventing.Store)
	}{
		{"Append_SequenceAndFields", testAppendSequenceAndFields},
		{"Append_Concurrent", testAppendConcurrent},
		{"Append_CanceledContext", testAppendCanceledContext},
		{"Head_Empty", testHeadEmpty},
		{"Watch_InOrderOnce", testWatchInOrderOnce},
		{"ReadEvents_AllAndMax", testReadEventsAllAndMax},
		{"ReadEvents_ByTopic", testReadEventsByTopic},
		{"ReadEvents_OddTopics", testReadEventsOddTopics},
		{"Trim_ThroughAndBefore", testTrimThroughAndBefore},
		{"Trim_EverythingKeepsHead", testTrimEverythingKeepsHead},
		{"CreateSubscription_RoundTrip", testCreateSubscriptionRoundTrip},
		{"CreateSubscription_KeyDedup", testCreateSubscriptionKeyDedup},
		{"CreateSubscription_KeyDedupConcurrent", testCreateSubscriptionKeyDedupConcurrent},
		{"CreateSubscription_DuplicateID", testCreateSubscriptionDuplicateID},
		{"UpdateSubscription_Callback", testUpdateSubscriptionCallback},
		{"UpdateSubscription_Concurrent", testUpdateSubscriptionConcurrent},
		{"DeleteSubscription_RemovesEverything", testDeleteSubscriptionRemovesEverything},
		{"Subscriptions_Iterates", testSubscriptionsIterates},
		{"LoadSubscriptions_Trimmed", testLoadSubscriptionsTrimmed},
		{"DeadLetters_AddListDelete", testDeadLettersAddListDelete},
		{"DeadLetters_MarkReplay", testDeadLettersMarkReplay},
		{"Settings", testSettings},
		{"DeliveryStates_SaveAndLoad", testDeliveryStatesSaveAndLoad},
		{"DeliveryStates_NilLogKeepsLog", testDeliveryStatesNilLogKeepsLog},
		{"DeliveryStates_ThroughNeverMovesBack", testDeliveryStatesThroughNeverMovesBack},
		{"DeliveryStates_PendingAtStart", pendingAtStart},
		{"DeliveryStates_NilDeletes", testDeliveryStatesNilDeletes},
		{"ErrNotFound_Wrapped", testErrNotFoundWrapped},
		{"CanceledContext", testCanceledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
	t.Run("KeyStore", func(t *testing.T) {
		st := open(t)
		ks, ok := st.(access.KeyStore)
		if !ok {
			t.Skipf("%T does not implement access.KeyStore", st)
		}
		testKeyStore(t, ks)
	})
}

// An Option changes what Run expects of a backend.
type Option func(*options)

type options struct {
	singleWriter bool
}

// SingleWriter is for a backend that only one process writes (bbolt): its
// CreateSubscription need not store a pending state, because that
// process's Service holds the matched-through position at or below the
// Start of a subscription it is creating (eventing.SubscriptionStore).
func SingleWriter() Option {
	return func(o *options) { o.singleWriter = true }
}

// RunReopen runs the contracts about what a store keeps across a restart.
// storage is called once per test with a new, empty storage location and
// returns a function that opens a store on it; the suite calls it again
// after closing the previous store (the stores must implement io.Closer,
// and may be closed twice).
func RunReopen(t *testing.T, storage func(t *testing.T) func() eventing.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() eventing.Store)
	}{
		{"DeliveryStates_SurviveReopen", testDeliveryStatesSurviveReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, storage(t))
		})
	}
}

func mustClose(t *testing.T, st eventing.Store) {
	t.Helper()
	c, ok := st.(io.Closer)
	if !ok {
		t.Fatalf("%T does not implement io.Closer", st)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// RunKeyStore runs the access.KeyStore contract tests alone.
func RunKeyStore(t *testing.T, open func(t *testing.T) access.KeyStore) {
	testKeyStore(t, open(t))
}

// base is a fixed received time: the suite compares times exactly.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func msg(topic string, i int) *eventing.Message {
	return &eventing.Message{Topic: topic, InstanceID: fmt.Sprint("i-", i), Timestamp: "2026-03-14T15:09:26Z",
		Text: fmt.Sprint("text ", i, " <&>"), Info: "ünïcode \x00 \"q\""}
}

func mustAppend(t *testing.T, st eventing.Store, m *eventing.Message, received time.Time) *eventing.Event {
	t.Helper()
	ev, err := st.Append(t.Context(), m, received)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return ev
}

// WaitFor polls cond until it holds, and fails t when 10 s pass first
// (the nats-server checkFor idiom: no fixed sleeps).
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sameMessage(a, b eventing.Message) bool { return a == b }

func checkEvent(t *testing.T, got *eventing.Event, seq uint64, received time.Time, m *eventing.Message) {
	t.Helper()
	if got.Seq != seq || !got.Received.Equal(received) || !sameMessage(got.Message, *m) {
		t.Fatalf("event = seq %d received %v %+v; want seq %d received %v %+v", got.Seq, got.Received, got.Message, seq, received, *m)
	}
	if got.Received.Location() != time.UTC {
		t.Fatalf("event %d received in %v; want UTC", seq, got.Received.Location())
	}
}

func seqs(evs []*eventing.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// --- event log ---

func testHeadEmpty(t *testing.T, st eventing.Store) {
	if h := st.Head(); h != 0 {
		t.Fatalf("Head of an empty store = %d; want 0", h)
	}
	evs, through, err := st.ReadEvents(t.Context(), 0, 10, "")
	if err != nil || len(evs) != 0 || through != 0 {
		t.Fatalf("ReadEvents on an empty store = %v through %d, %v; want none through 0", evs, through, err)
	}
}

// Each Append gets the next sequence number, and the event comes back
// with every field and the received time intact, in UTC.
func testAppendSequenceAndFields(t *testing.T, st eventing.Store) {
	local := time.FixedZone("X", 3600)
	var want []*eventing.Message
	for i := range 5 {
		m := msg("t", i)
		received := base.Add(time.Duration(i) * time.Second).In(local)
		ev := mustAppend(t, st, m, received)
		checkEvent(t, ev, uint64(i+1), received, m)
		if h := st.Head(); h != uint64(i+1) {
			t.Fatalf("Head after append %d = %d; want %d", i+1, h, i+1)
		}
		want = append(want, m)
	}
	empty := &eventing.Message{Topic: "t"}
	ev := mustAppend(t, st, empty, base)
	checkEvent(t, ev, 6, base, empty)
	want = append(want, empty)
	evs, through, err := st.ReadEvents(t.Context(), 0, 100, "")
	if err != nil || len(evs) != 6 || through != 6 {
		t.Fatalf("ReadEvents = %v through %d, %v; want 6 events through 6", seqs(evs), through, err)
	}
	for i, ev := range evs {
		received := base.Add(time.Duration(i) * time.Second)
		if i == 5 {
			received = base
		}
		checkEvent(t, ev, uint64(i+1), received, want[i])
	}
}

// Concurrent appends (group commit) get distinct, gap-free sequence
// numbers; each publisher's appends keep their order; the log holds
// exactly what each Append returned.
func testAppendConcurrent(t *testing.T, st eventing.Store) {
	const publishers, each = 16, 20
	var (
		mu  sync.Mutex
		got = map[uint64]*eventing.Event{}
		wg  sync.WaitGroup
	)
	for p := range publishers {
		wg.Go(func() {
			var last uint64
			for i := range each {
				ev, err := st.Append(t.Context(), msg(fmt.Sprint("p", p), i), base)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if ev.Seq <= last {
					t.Errorf("publisher %d: seq %d after %d", p, ev.Seq, last)
				}
				last = ev.Seq
				mu.Lock()
				if got[ev.Seq] != nil {
					t.Errorf("seq %d returned twice", ev.Seq)
				}
				got[ev.Seq] = ev
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const n = publishers * each
	if h := st.Head(); h != n {
		t.Fatalf("Head = %d; want %d", h, n)
	}
	evs, through, err := st.ReadEvents(t.Context(), 0, 2*n, "")
	if err != nil || len(evs) != n || through != n {
		t.Fatalf("ReadEvents = %d events through %d, %v; want %d through %d", len(evs), through, err, n, n)
	}
	for i, ev := range evs {
		want := got[uint64(i+1)]
		if want == nil {
			t.Fatalf("seq %d was never returned by Append", i+1)
		}
		checkEvent(t, ev, uint64(i+1), base, &want.Message)
	}
}

func testAppendCanceledContext(t *testing.T, st eventing.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := st.Append(ctx, msg("t", 0), base); err == nil {
		t.Fatal("Append with a canceled context succeeded")
	}
	// The store still works.
	ev := mustAppend(t, st, msg("t", 1), base)
	if ev.Seq == 0 {
		t.Fatal("seq 0")
	}
}

// Watch sees every event once, in log order, including events appended
// concurrently; it may see them after Append returned.
func testWatchInOrderOnce(t *testing.T, st eventing.Store) {
	var (
		mu      sync.Mutex
		watched []uint64
		calls   int
	)
	st.Watch(func(evs []*eventing.Event) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if len(evs) == 0 {
			t.Error("Watch called with no events")
		}
		for _, ev := range evs {
			watched = append(watched, ev.Seq)
		}
	})
	const n = 100
	var wg sync.WaitGroup
	for p := range 10 {
		wg.Go(func() {
			for i := range n / 10 {
				if _, err := st.Append(t.Context(), msg(fmt.Sprint("w", p), i), base); err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	WaitFor(t, "the watcher to see every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(watched) >= n
	})
	mu.Lock()
	defer mu.Unlock()
	if len(watched) != n {
		t.Fatalf("watched %d events; want %d", len(watched), n)
	}
	for i, seq := range watched {
		if seq != uint64(i+1) {
			t.Fatalf("watched[%d] = %d; want %d (log order, each once)", i, seq, i+1)
		}
	}
}

func testReadEventsAllAndMax(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	for i := range 10 {
		mustAppend(t, st, msg(fmt.Sprint("t", i%3), i), base)
	}
	tests := []struct {
		name        string
		after       uint64
		max         int
		wantSeqs    []uint64
		wantThrough uint64
	}{
		{"all", 0, 100, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10},
		{"page", 0, 3, []uint64{1, 2, 3}, 3},
		{"middle page", 4, 2, []uint64{5, 6}, 6},
		{"exactly to the end", 7, 3, []uint64{8, 9, 10}, 10},
		{"at the head", 10, 5, nil, 10},
	}
	for _, tt := range tests {
		evs, through, err := st.ReadEvents(ctx, tt.after, tt.max, "")
		if err != nil || !slices.Equal(seqs(evs), tt.wantSeqs) || through != tt.wantThrough {
			t.Errorf("%s: ReadEvents(%d, %d) = %v through %d, %v; want %v through %d",
				tt.name, tt.after, tt.max, seqs(evs), through, err, tt.wantSeqs, tt.wantThrough)
		}
	}
}

// A topic read returns that topic's events only; through is the last event
// returned when max stopped the read, else the head.
func testReadEventsByTopic(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	for i, topic := range []string{"a", "b", "a", "c", "a", "b", "a", "c"} {
		ev := mustAppend(t, st, msg(topic, i), base)
		if ev.Topic != topic {
			t.Fatalf("topic %q", ev.Topic)
		}
	}
	tests := []struct {
		name        string
		after       uint64
		max         int
		topic       string
		wantSeqs    []uint64
		wantThrough uint64
	}{
		{"all of a", 0, 10, "a", []uint64{1, 3, 5, 7}, 8},
		{"a after 3", 3, 10, "a", []uint64{5, 7}, 8},
		{"a limited", 0, 2, "a", []uint64{1, 3}, 3},
		{"b limited to its last", 0, 2, "b", []uint64{2, 6}, 6},
		{"c", 0, 10, "c", []uint64{4, 8}, 8},
		{"unknown topic", 0, 10, "nobody", nil, 8},
		{"a after its last", 7, 10, "a", nil, 8},
		{"prefix of a topic", 0, 10, "", []uint64{1, 2, 3, 4, 5, 6, 7, 8}, 8},
	}
	for _, tt := range tests {
		evs, through, err := st.ReadEvents(ctx, tt.after, tt.max, tt.topic)
		if err != nil || !slices.Equal(seqs(evs), tt.wantSeqs) || through != tt.wantThrough {
			t.Errorf("%s: ReadEvents(%d, %d, %q) = %v through %d, %v; want %v through %d",
				tt.name, tt.after, tt.max, tt.topic, seqs(evs), through, err, tt.wantSeqs, tt.wantThrough)
		}
		for _, ev := range evs {
			if tt.topic != "" && ev.Topic != tt.topic {
				t.Errorf("%s: event %d has topic %q", tt.name, ev.Seq, ev.Topic)
			}
		}
	}
}

// Topics are free strings: separators, wildcards, spaces, long ones and
// prefixes of one another are all distinct topics.
func testReadEventsOddTopics(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	long := string(make([]byte, 600))
	topics := []string{"a.b", "a", "a.*", ">", "a b", "a/b", "ä=b", "%41", "=41", "A", long, long + "x", "a\tb", "."}
	for i, topic := range topics {
		mustAppend(t, st, msg(topic, i), base)
	}
	for i, topic := range topics {
		evs, _, err := st.ReadEvents(ctx, 0, 10, topic)
		if err != nil || len(evs) != 1 || evs[0].Seq != uint64(i+1) || evs[0].Topic != topic {
			t.Errorf("ReadEvents(topic %q) = %v, %v; want only event %d", topic[:min(len(topic), 10)], seqs(evs), err, i+1)
		}
	}
}

// Trim deletes the events up to through that were received before before,
// from the start of the log, and says how many.
func testTrimThroughAndBefore(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	for i := range 10 {
		mustAppend(t, st, msg(fmt.Sprint("t", i%2), i), base.Add(time.Duration(i)*time.Second))
	}
	// Received before base+4.5s: events 1..5; through 7 does not limit.
	n, err := st.Trim(ctx, 7, base.Add(4500*time.Millisecond))
	if err != nil || n != 5 {
		t.Fatalf("Trim(7, +4.5s) = %d, %v; want 5", n, err)
	}
	evs, through, _ := st.ReadEvents(ctx, 0, 100, "")
	if !slices.Equal(seqs(evs), []uint64{6, 7, 8, 9, 10}) || through != 10 {
		t.Fatalf("after trim: %v through %d; want 6..10 through 10", seqs(evs), through)
	}
	evs, _, _ = st.ReadEvents(ctx, 0, 100, "t0")
	if !slices.Equal(seqs(evs), []uint64{7, 9}) {
		t.Fatalf("topic t0 after trim: %v; want [7 9]", seqs(evs))
	}
	// Nothing left below through 3.
	if n, err := st.Trim(ctx, 3, base.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("Trim(3) again = %d, %v; want 0", n, err)
	}
	// through limits now.
	if n, err := st.Trim(ctx, 8, base.Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("Trim(8) = %d, %v; want 3", n, err)
	}
	evs, _, _ = st.ReadEvents(ctx, 0, 100, "")
	if !slices.Equal(seqs(evs), []uint64{9, 10}) {
		t.Fatalf("after second trim: %v; want [9 10]", seqs(evs))
	}
	if h := st.Head(); h != 10 {
		t.Fatalf("Head after trim = %d; want 10", h)
	}
}

// Trimming every event keeps the head: sequence numbers never restart.
func testTrimEverythingKeepsHead(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	for i := range 5 {
		mustAppend(t, st, msg("t", i), base)
	}
	if n, err := st.Trim(ctx, 5, base.Add(time.Hour)); err != nil || n != 5 {
		t.Fatalf("Trim = %d, %v; want 5", n, err)
	}
	if h := st.Head(); h != 5 {
		t.Fatalf("Head after trimming all = %d; want 5", h)
	}
	evs, through, err := st.ReadEvents(ctx, 0, 10, "t")
	if err != nil || len(evs) != 0 || through != 5 {
		t.Fatalf("ReadEvents after trimming all = %v through %d, %v; want none through 5", seqs(evs), through, err)
	}
	ev := mustAppend(t, st, msg("t", 5), base)
	if ev.Seq != 6 {
		t.Fatalf("seq after trimming all = %d; want 6", ev.Seq)
	}
}

// --- subscriptions ---

func newSub(id string) *eventing.Subscription {
	return &eventing.Subscription{
		ID: id, Processor: "soap", Message: "<Subscribe><Delivery>" + id + "</Delivery></Subscribe>",
		Secret: "s3cret", Filter: eventing.TopicFilter("orders"), EndTo: "<EndTo/>", Manager: "http://h/manager",
		AddressingNS: "http://www.w3.org/2005/08/addressing", EventingNS: "http://www.w3.org/2011/03/ws-evt",
		Expires: base.Add(time.Hour), Created: base, Start: 42, Owner: "owner-1",
	}
}

func sameSub(a, b *eventing.Subscription) bool {
	if a == nil || b == nil {
		return a == b
	}
	ca, cb := *a, *b
	if !ca.Expires.Equal(cb.Expires) || !ca.Created.Equal(cb.Created) {
		return false
	}
	ca.Expires, cb.Expires, ca.Created, cb.Created = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	fa, fb := ca.Filter, cb.Filter
	ca.Filter, cb.Filter = nil, nil
	if (fa == nil) != (fb == nil) {
		return false
	}
	if fa != nil && (fa.Dialect != fb.Dialect || fa.Expression != fb.Expression || !maps.Equal(fa.Namespaces, fb.Namespaces)) {
		return false
	}
	return ca == cb
}

func mustCreate(t *testing.T, st eventing.Store, s *eventing.Subscription) {
	t.Helper()
	existing, err := st.CreateSubscription(t.Context(), s)
	if err != nil || existing != nil {
		t.Fatalf("CreateSubscription(%s) = %v, %v; want nil, nil", s.ID, existing, err)
	}
}

func testCreateSubscriptionRoundTrip(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	s := newSub("uuid:0b0e1d5c-0000-4000-8000-000000000001")
	s.Filter = &eventing.FilterSpec{Dialect: "http://www.w3.org/TR/1999/REC-xpath-19991116", Expression: "/m:message[m:topic='x']",
		Namespaces: map[string]string{"m": "urn:m"}}
	mustCreate(t, st, s)
	got, err := st.Subscription(ctx, s.ID)
	if err != nil || !sameSub(got, s) {
		t.Fatalf("Subscription = %+v, %v; want %+v", got, err, s)
	}
	plain := &eventing.Subscription{ID: "uuid:plain", Processor: "webhook", Message: "{}", Created: base}
	mustCreate(t, st, plain)
	if got, err := st.Subscription(ctx, plain.ID); err != nil || !sameSub(got, plain) {
		t.Fatalf("Subscription(plain) = %+v, %v", got, err)
	}
}

// A subscription with a Key that is already used is not stored: the
// existing one is returned. After the first is deleted the key is free.
func testCreateSubscriptionKeyDedup(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	first := newSub("uuid:first")
	first.Key = "endpoint|filter"
	mustCreate(t, st, first)
	second := newSub("uuid:second")
	second.Key = first.Key
	existing, err := st.CreateSubscription(ctx, second)
	if err != nil || existing == nil || existing.ID != first.ID || !sameSub(existing, first) {
		t.Fatalf("CreateSubscription with a used key = %+v, %v; want the first", existing, err)
	}
	if _, err := st.Subscription(ctx, second.ID); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("the deduplicated subscription was stored: %v", err)
	}
	other := newSub("uuid:other")
	other.Key = "another key"
	mustCreate(t, st, other)
	// Without a key, every subscription is new.
	mustCreate(t, st, newSub("uuid:nokey1"))
	mustCreate(t, st, newSub("uuid:nokey2"))
	if _, err := st.DeleteSubscription(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, second)
	third := newSub("uuid:third")
	third.Key = first.Key
	if existing, err := st.CreateSubscription(ctx, third); err != nil || existing == nil || existing.ID != second.ID {
		t.Fatalf("after delete and re-create, CreateSubscription = %v, %v; want %s", existing, err, second.ID)
	}
}

// Concurrent creates with one key store exactly one subscription, and every
// other caller is given it.
func testCreateSubscriptionKeyDedupConcurrent(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	const n = 8
	results := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s := newSub(fmt.Sprint("uuid:c", i))
			s.Key = "same"
			existing, err := st.CreateSubscription(ctx, s)
			switch {
			case err != nil:
				t.Errorf("CreateSubscription: %v", err)
			case existing != nil:
				results[i] = existing.ID
			default:
				results[i] = s.ID
			}
		})
	}
	wg.Wait()
	winner := results[0]
	for _, id := range results {
		if id != winner {
			t.Fatalf("concurrent creates with one key got %v; want one id", results)
		}
	}
	var stored []string
	if err := st.Subscriptions(ctx, func(s *eventing.Subscription) error {
		stored = append(stored, s.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stored, []string{winner}) {
		t.Fatalf("stored %v; want only %s", stored, winner)
	}
}

func testCreateSubscriptionDuplicateID(t *testing.T, st eventing.Store) {
	s := newSub("uuid:dup")
	mustCreate(t, st, s)
	again := newSub("uuid:dup")
	again.Processor = "other"
	if _, err := st.CreateSubscription(t.Context(), again); err == nil {
		t.Fatal("CreateSubscription with a used id succeeded")
	}
	if got, _ := st.Subscription(t.Context(), s.ID); got == nil || got.Processor != "soap" {
		t.Fatalf("the first subscription was overwritten: %+v", got)
	}
}

var errAbort = errors.New("storetest: abort")

// fn's changes are stored and returned; fn's error aborts and is returned;
// the id cannot be changed.
func testUpdateSubscriptionCallback(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	s := newSub("uuid:u")
	mustCreate(t, st, s)
	later := base.Add(48 * time.Hour)
	got, err := st.UpdateSubscription(ctx, s.ID, func(cur *eventing.Subscription) error {
		if !sameSub(cur, s) {
			t.Errorf("fn got %+v; want the stored %+v", cur, s)
		}
		cur.Expires = later
		cur.Filter = eventing.TopicFilter("other")
		cur.ID = "uuid:hijack"
		return nil
	})
	if err != nil || got.ID != s.ID || !got.Expires.Equal(later) || got.Topic() != "other" {
		t.Fatalf("UpdateSubscription = %+v, %v", got, err)
	}
	if stored, _ := st.Subscription(ctx, s.ID); !sameSub(stored, got) {
		t.Fatalf("stored %+v; want %+v", stored, got)
	}
	if _, err := st.Subscription(ctx, "uuid:hijack"); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("fn changed the id: %v", err)
	}
	_, err = st.UpdateSubscription(ctx, s.ID, func(cur *eventing.Subscription) error {
		cur.Expires = base
		return fmt.Errorf("wrapped: %w", errAbort)
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("UpdateSubscription with a failing fn = %v; want errAbort", err)
	}
	if stored, _ := st.Subscription(ctx, s.ID); !stored.Expires.Equal(later) {
		t.Fatalf("an aborted update was stored: expires %v", stored.Expires)
	}
	called := false
	_, err = st.UpdateSubscription(ctx, "uuid:absent", func(*eventing.Subscription) error { called = true; return nil })
	if !errors.Is(err, eventing.ErrNotFound) || called {
		t.Fatalf("UpdateSubscription(absent) = %v (fn called %v); want ErrNotFound, not called", err, called)
	}
}

// Concurrent updates are never lost. fn may run more than once per call
// (a backend retries it after a concurrent write), so it is counted, not
// assumed to run once.
func testUpdateSubscriptionConcurrent(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	s := newSub("uuid:counter")
	s.Start = 0
	mustCreate(t, st, s)
	const n = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		calls int
	)
	for range n {
		wg.Go(func() {
			_, err := st.UpdateSubscription(ctx, s.ID, func(cur *eventing.Subscription) error {
				mu.Lock()
				calls++
				mu.Unlock()
				cur.Start++
				return nil
			})
			if err != nil {
				t.Errorf("UpdateSubscription: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := st.Subscription(ctx, s.ID)
	if err != nil || got.Start != n {
		t.Fatalf("after %d concurrent increments Start = %d, %v; want %d", n, got.Start, err, n)
	}
	if calls < n {
		t.Fatalf("fn ran %d times for %d updates", calls, n)
	}
	t.Logf("fn ran %d times for %d concurrent updates", calls, n)
}

// DeleteSubscription returns the subscription and removes its delivery
// state and dead letters with it.
func testDeleteSubscriptionRemovesEverything(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	s, keep := newSub("uuid:gone"), newSub("uuid:kept")
	s.Key = "k"
	mustCreate(t, st, s)
	mustCreate(t, st, keep)
	if err := st.SaveDeliveryStates(ctx, 0, map[string]*eventing.DeliveryState{s.ID: {Cursor: 3}, keep.ID: {Cursor: 4}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{s.ID, keep.ID} {
		if err := st.AddDeadLetter(ctx, id, &eventing.DeadLetter{Seq: 2, Time: base, Replay: true}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.DeleteSubscription(ctx, s.ID)
	if err != nil || !sameSub(got, s) {
		t.Fatalf("DeleteSubscription = %+v, %v; want the subscription", got, err)
	}
	if _, err := st.Subscription(ctx, s.ID); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("Subscription after delete: %v", err)
	}
	if _, err := st.DeleteSubscription(ctx, s.ID); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("second DeleteSubscription = %v; want ErrNotFound", err)
	}
	_, states, err := st.DeliveryStates(ctx)
	if err != nil || states[s.ID] != nil || states[keep.ID] == nil || states[keep.ID].Cursor != 4 {
		t.Fatalf("states after delete = %v, %v; want only %s", states, err, keep.ID)
	}
	if dls, err := st.DeadLetters(ctx, s.ID); err != nil || len(dls) != 0 {
		t.Fatalf("dead letters after delete = %v, %v", dls, err)
	}
	if dls, _ := st.DeadLetters(ctx, keep.ID); len(dls) != 1 {
		t.Fatalf("the other subscription's dead letters: %d; want 1", len(dls))
	}
	replaying, err := st.Replaying(ctx)
	if err != nil || replaying[s.ID] != nil || len(replaying[keep.ID]) != 1 {
		t.Fatalf("Replaying after delete = %v, %v", replaying, err)
	}
	if err := st.AddDeadLetter(ctx, s.ID, &eventing.DeadLetter{Seq: 3}); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("AddDeadLetter after delete = %v; want ErrNotFound", err)
	}
}

func testSubscriptionsIterates(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	calls := 0
	if err := st.Subscriptions(ctx, func(*eventing.Subscription) error { calls++; return nil }); err != nil || calls != 0 {
		t.Fatalf("Subscriptions on an empty store: %d calls, %v", calls, err)
	}
	want := map[string]*eventing.Subscription{}
	for i := range 25 {
		s := newSub(fmt.Sprintf("uuid:%d", i))
		mustCreate(t, st, s)
		want[s.ID] = s
	}
	if _, err := st.DeleteSubscription(ctx, "uuid:7"); err != nil {
		t.Fatal(err)
	}
	delete(want, "uuid:7")
	if _, err := st.UpdateSubscription(ctx, "uuid:3", func(s *eventing.Subscription) error { s.Owner = "new"; return nil }); err != nil {
		t.Fatal(err)
	}
	want["uuid:3"].Owner = "new"
	got := map[string]*eventing.Subscription{}
	if err := st.Subscriptions(ctx, func(s *eventing.Subscription) error {
		if got[s.ID] != nil {
			t.Errorf("%s listed twice", s.ID)
		}
		got[s.ID] = s
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d subscriptions; want %d", len(got), len(want))
	}
	for id, s := range want {
		if !sameSub(got[id], s) {
			t.Fatalf("listed %+v; want %+v", got[id], s)
		}
	}
	calls = 0
	err := st.Subscriptions(ctx, func(*eventing.Subscription) error {
		calls++
		if calls == 3 {
			return errAbort
		}
		return nil
	})
	if !errors.Is(err, errAbort) || calls != 3 {
		t.Fatalf("Subscriptions with fn failing at the third = %v after %d calls; want errAbort after 3", err, calls)
	}
}

// testLoadSubscriptionsTrimmed checks a SubscriptionLoader (a store that
// is none skips it): every subscription once, trimmed of Message, Secret,
// EndTo and Key, with full giving the whole record during the callback;
// the count is a hint, so only checked to be near; fn's error ends it.
func testLoadSubscriptionsTrimmed(t *testing.T, st eventing.Store) {
	l, ok := st.(eventing.SubscriptionLoader)
	if !ok {
		t.Skip("not a SubscriptionLoader")
	}
	ctx := t.Context()
	want := map[string]*eventing.Subscription{}
	for i := range 25 {
		s := newSub(fmt.Sprintf("uuid:%d", i))
		s.Key = fmt.Sprintf("key-%d", i)
		mustCreate(t, st, s)
		want[s.ID] = s
	}
	if _, err := st.DeleteSubscription(ctx, "uuid:7"); err != nil {
		t.Fatal(err)
	}
	delete(want, "uuid:7")
	if n, err := l.SubscriptionCount(ctx); err != nil || n < 20 || n > 30 {
		t.Errorf("SubscriptionCount = %d, %v; want about %d", n, err, len(want))
	}
	seen := map[string]bool{}
	var fulls []func() (*eventing.Subscription, error)
	err := l.LoadSubscriptions(ctx, func(s *eventing.Subscription, full func() (*eventing.Subscription, error)) error {
		w := want[s.ID]
		if w == nil || seen[s.ID] {
			t.Errorf("loaded %s: unknown, deleted or twice", s.ID)
			return nil
		}
		seen[s.ID] = true
		trimmed := *w
		trimmed.Message, trimmed.Secret, trimmed.EndTo, trimmed.Key = "", "", "", ""
		if !sameSub(s, &trimmed) {
			t.Errorf("loaded %+v; want %+v", s, &trimmed)
		}
		whole, err := full()
		if err != nil || !sameSub(whole, w) {
			t.Errorf("full() = %+v, %v; want %+v", whole, err, w)
		}
		fulls = append(fulls, full)
		return nil
	})
	if err != nil || len(seen) != len(want) {
		t.Fatalf("LoadSubscriptions = %v after %d subscriptions; want nil after %d", err, len(seen), len(want))
	}
	if _, err := fulls[0](); err == nil {
		t.Error("full() after the load answered; want an error")
	}
	calls := 0
	err = l.LoadSubscriptions(ctx, func(*eventing.Subscription, func() (*eventing.Subscription, error)) error {
		if calls++; calls == 3 {
			return errAbort
		}
		return nil
	})
	if !errors.Is(err, errAbort) || calls != 3 {
		t.Fatalf("LoadSubscriptions with fn failing at the third = %v after %d calls; want errAbort after 3", err, calls)
	}
}

// --- dead letters ---

func dl(seq uint64, died time.Time) *eventing.DeadLetter {
	return &eventing.DeadLetter{Seq: seq, Received: base, Message: *msg("t", int(seq)), Attempts: 7, Error: "503", Time: died}
}

func sameDL(a, b *eventing.DeadLetter) bool {
	return a.Seq == b.Seq && a.Received.Equal(b.Received) && a.Message == b.Message && a.Attempts == b.Attempts &&
		a.Error == b.Error && a.Time.Equal(b.Time) && a.Replay == b.Replay
}

func testDeadLettersAddListDelete(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	// Ids that are prefixes of one another keep separate dead letters.
	for _, id := range []string{"sub-1", "sub-10", "sub-1.x"} {
		mustCreate(t, st, newSub(id))
	}
	if err := st.AddDeadLetter(ctx, "uuid:absent", dl(1, base)); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("AddDeadLetter for an absent subscription = %v; want ErrNotFound", err)
	}
	for _, seq := range []uint64{30, 4, 1000, 17} {
		if err := st.AddDeadLetter(ctx, "sub-1", dl(seq, base)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddDeadLetter(ctx, "sub-10", dl(5, base)); err != nil {
		t.Fatal(err)
	}
	if err := st.AddDeadLetter(ctx, "sub-1.x", dl(6, base)); err != nil {
		t.Fatal(err)
	}
	// Same sequence number: replaced.
	repl := dl(17, base.Add(time.Minute))
	repl.Error = "again"
	if err := st.AddDeadLetter(ctx, "sub-1", repl); err != nil {
		t.Fatal(err)
	}
	got, err := st.DeadLetters(ctx, "sub-1")
	if err != nil {
		t.Fatal(err)
	}
	var gotSeqs []uint64
	for _, d := range got {
		gotSeqs = append(gotSeqs, d.Seq)
	}
	if !slices.Equal(gotSeqs, []uint64{4, 17, 30, 1000}) {
		t.Fatalf("DeadLetters = %v; want [4 17 30 1000] (by sequence, oldest first)", gotSeqs)
	}
	if !sameDL(got[1], repl) || !sameDL(got[0], dl(4, base)) {
		t.Fatalf("DeadLetters[0..1] = %+v %+v", got[0], got[1])
	}
	if ev := got[0].Event(); ev.Seq != 4 || ev.Topic != "t" {
		t.Fatalf("dead letter event = %+v", ev)
	}
	if other, _ := st.DeadLetters(ctx, "sub-10"); len(other) != 1 || other[0].Seq != 5 {
		t.Fatalf("sub-10's dead letters = %v", other)
	}
	if none, err := st.DeadLetters(ctx, "sub-none"); err != nil || len(none) != 0 {
		t.Fatalf("dead letters of an unknown id = %v, %v", none, err)
	}
	if err := st.DeleteDeadLetter(ctx, "sub-1", 30); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteDeadLetter(ctx, "sub-1", 31); err != nil {
		t.Fatalf("deleting an absent dead letter = %v; want nil", err)
	}
	if got, _ := st.DeadLetters(ctx, "sub-1"); len(got) != 3 {
		t.Fatalf("after delete: %d dead letters; want 3", len(got))
	}
}

// MarkReplay marks the dead letters that died at or after since and are not
// marked yet, once; Replaying lists the marked ones by subscription.
func testDeadLettersMarkReplay(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	mustCreate(t, st, newSub("a"))
	mustCreate(t, st, newSub("b"))
	for i := range 4 {
		if err := st.AddDeadLetter(ctx, "a", dl(uint64(i+1), base.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddDeadLetter(ctx, "b", dl(9, base)); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Replaying(ctx); err != nil || len(r) != 0 {
		t.Fatalf("Replaying before any mark = %v, %v", r, err)
	}
	marked, err := st.MarkReplay(ctx, "a", base.Add(2*time.Minute))
	if err != nil || len(marked) != 2 || marked[0].Seq != 3 || marked[1].Seq != 4 || !marked[0].Replay {
		t.Fatalf("MarkReplay(since +2m) = %v, %v; want 3 and 4 marked", marked, err)
	}
	again, err := st.MarkReplay(ctx, "a", base.Add(2*time.Minute))
	if err != nil || len(again) != 0 {
		t.Fatalf("MarkReplay again = %v, %v; want none", again, err)
	}
	rest, err := st.MarkReplay(ctx, "a", time.Time{})
	if err != nil || len(rest) != 2 || rest[0].Seq != 1 || rest[1].Seq != 2 {
		t.Fatalf("MarkReplay(zero) = %v, %v; want 1 and 2", rest, err)
	}
	r, err := st.Replaying(ctx)
	if err != nil || len(r) != 1 || len(r["a"]) != 4 {
		t.Fatalf("Replaying = %v, %v; want a's four", r, err)
	}
	var rs []uint64
	for _, d := range r["a"] {
		rs = append(rs, d.Seq)
		if !d.Replay {
			t.Fatalf("Replaying returned an unmarked dead letter %d", d.Seq)
		}
	}
	slices.Sort(rs)
	if !slices.Equal(rs, []uint64{1, 2, 3, 4}) {
		t.Fatalf("Replaying a = %v", rs)
	}
	all, _ := st.DeadLetters(ctx, "a")
	for _, d := range all {
		if !d.Replay {
			t.Fatalf("dead letter %d not stored as marked", d.Seq)
		}
	}
	if err := st.DeleteDeadLetter(ctx, "a", 3); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Replaying(ctx); len(r["a"]) != 3 {
		t.Fatalf("Replaying after a delete = %d; want 3", len(r["a"]))
	}
	if none, err := st.MarkReplay(ctx, "absent", time.Time{}); err != nil || len(none) != 0 {
		t.Fatalf("MarkReplay(absent) = %v, %v", none, err)
	}
}

// --- settings ---

func testSettings(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	if v, err := st.Setting(ctx, "message_path"); err != nil || v != "" {
		t.Fatalf("unset setting = %q, %v; want empty", v, err)
	}
	for _, kv := range [][2]string{{"message_path", "/in"}, {"odd key/with.dots and space", "v=1"}, {"message_path", "/in2"}} {
		if err := st.SetSetting(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := st.Setting(ctx, "message_path"); v != "/in2" {
		t.Fatalf("setting = %q; want the last value /in2", v)
	}
	if v, _ := st.Setting(ctx, "odd key/with.dots and space"); v != "v=1" {
		t.Fatalf("odd setting = %q", v)
	}
	if err := st.SetSetting(ctx, "message_path", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Setting(ctx, "message_path"); v != "" {
		t.Fatalf("setting set to empty = %q", v)
	}
}

// --- delivery state ---

func fullState() *eventing.DeliveryState {
	return &eventing.DeliveryState{
		Cursor: 10, Attempts: 2, NextAttempt: base.Add(time.Minute),
		ReplaySeq: 4, ReplayAttempts: 1, ReplayNext: base.Add(2 * time.Minute),
		Failures: 3, FailingSince: base,
		Log: []eventing.Attempt{{Time: base, Seq: 11, OK: false, Status: 503, Latency: 12 * time.Millisecond, Error: "busy"},
			{Time: base.Add(time.Second), Seq: 11, OK: true, Status: 200, Latency: time.Millisecond}},
	}
}

func sameState(a, b *eventing.DeliveryState) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Cursor != b.Cursor || a.Pending != b.Pending || a.Attempts != b.Attempts || !a.NextAttempt.Equal(b.NextAttempt) || a.ReplaySeq != b.ReplaySeq ||
		a.ReplayAttempts != b.ReplayAttempts || !a.ReplayNext.Equal(b.ReplayNext) || a.Failures != b.Failures ||
		!a.FailingSince.Equal(b.FailingSince) || len(a.Log) != len(b.Log) {
		return false
	}
	for i := range a.Log {
		x, y := a.Log[i], b.Log[i]
		if !x.Time.Equal(y.Time) || x.Seq != y.Seq || x.OK != y.OK || x.Status != y.Status || x.Latency != y.Latency || x.Error != y.Error {
			return false
		}
	}
	return true
}

// States are stored per subscription and skipped for subscriptions that do
// not exist; a later save replaces a state.
func testDeliveryStatesSaveAndLoad(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	if through, states, err := st.DeliveryStates(ctx); err != nil || len(states) != 0 || through != 0 {
		t.Fatalf("DeliveryStates on an empty store = %d, %v, %v", through, states, err)
	}
	for i := range 5 {
		mustCreate(t, st, newSub(fmt.Sprint("uuid:s", i)))
	}
	save := map[string]*eventing.DeliveryState{"uuid:absent": {Cursor: 99}}
	for i := range 5 {
		s := fullState()
		s.Cursor = uint64(i)
		save[fmt.Sprint("uuid:s", i)] = s
	}
	if err := st.SaveDeliveryStates(ctx, 0, save); err != nil {
		t.Fatal(err)
	}
	_, got, err := st.DeliveryStates(ctx)
	if err != nil || len(got) != 5 || got["uuid:absent"] != nil {
		t.Fatalf("DeliveryStates = %d states (absent: %v), %v; want 5 without the absent one", len(got), got["uuid:absent"], err)
	}
	for i := range 5 {
		id := fmt.Sprint("uuid:s", i)
		if !sameState(got[id], save[id]) {
			t.Fatalf("state %s = %+v; want %+v", id, got[id], save[id])
		}
	}
	// A second save replaces, the untouched ones stay.
	next := &eventing.DeliveryState{Cursor: 20, Log: []eventing.Attempt{}}
	for range 3 {
		if err := st.SaveDeliveryStates(ctx, 0, map[string]*eventing.DeliveryState{"uuid:s1": next}); err != nil {
			t.Fatal(err)
		}
	}
	_, got, _ = st.DeliveryStates(ctx)
	if !sameState(got["uuid:s1"], next) || !sameState(got["uuid:s2"], save["uuid:s2"]) {
		t.Fatalf("after a second save: s1 %+v, s2 %+v", got["uuid:s1"], got["uuid:s2"])
	}
	if err := st.SaveDeliveryStates(ctx, 0, nil); err != nil {
		t.Fatalf("saving no states: %v", err)
	}
}

// A state saved with a nil Log keeps the log stored before; an empty,
// non-nil Log replaces it.
func testDeliveryStatesNilLogKeepsLog(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	mustCreate(t, st, newSub("uuid:l"))
	first := fullState()
	if err := st.SaveDeliveryStates(ctx, 0, map[string]*eventing.DeliveryState{"uuid:l": first}); err != nil {
		t.Fatal(err)
	}
	noLog := &eventing.DeliveryState{Cursor: 12}
	if err := st.SaveDeliveryStates(ctx, 0, map[string]*eventing.DeliveryState{"uuid:l": noLog}); err != nil {
		t.Fatal(err)
	}
	if noLog.Log != nil {
		t.Fatal("SaveDeliveryStates modified the caller's state")
	}
	_, got, _ := st.DeliveryStates(ctx)
	want := &eventing.DeliveryState{Cursor: 12, Log: first.Log}
	if !sameState(got["uuid:l"], want) {
		t.Fatalf("state after a nil-log save = %+v; want cursor 12 with the first log", got["uuid:l"])
	}
	// A new subscription's first state with a nil log.
	mustCreate(t, st, newSub("uuid:m"))
	if err := st.SaveDeliveryStates(ctx, 0, map[string]*eventing.DeliveryState{"uuid:m": {Cursor: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveDeliveryStates(ctx, 0, map[string]*eventing.DeliveryState{"uuid:l": {Cursor: 13, Log: []eventing.Attempt{}}}); err != nil {
		t.Fatal(err)
	}
	_, got, _ = st.DeliveryStates(ctx)
	if got["uuid:m"] == nil || got["uuid:m"].Cursor != 1 || len(got["uuid:l"].Log) != 0 || got["uuid:l"].Cursor != 13 {
		t.Fatalf("states = m %+v, l %+v", got["uuid:m"], got["uuid:l"])
	}
}

func mustSave(t *testing.T, st eventing.Store, through uint64, states map[string]*eventing.DeliveryState) {
	t.Helper()
	if err := st.SaveDeliveryStates(t.Context(), through, states); err != nil {
		t.Fatalf("SaveDeliveryStates(%d, %d states): %v", through, len(states), err)
	}
}

func mustThrough(t *testing.T, st eventing.Store, want uint64) map[string]*eventing.DeliveryState {
	t.Helper()
	through, states, err := st.DeliveryStates(t.Context())
	if err != nil || through != want {
		t.Fatalf("DeliveryStates: through %d, %v; want %d", through, err, want)
	}
	return states
}

// The matched-through position is raised by a save, with or without
// states, and never moves back; a save that fails (a canceled context)
// does not raise it.
func testDeliveryStatesThroughNeverMovesBack(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	mustThrough(t, st, 0)
	mustCreate(t, st, newSub("uuid:t"))
	mustSave(t, st, 5, map[string]*eventing.DeliveryState{"uuid:t": {Cursor: 5}})
	mustThrough(t, st, 5)
	mustSave(t, st, 3, nil)
	mustThrough(t, st, 5)
	mustSave(t, st, 0, map[string]*eventing.DeliveryState{"uuid:t": {Cursor: 6}})
	if states := mustThrough(t, st, 5); states["uuid:t"] == nil || states["uuid:t"].Cursor != 6 {
		t.Fatalf("state after a save below the position = %+v; want cursor 6", states["uuid:t"])
	}
	mustSave(t, st, 9, nil)
	mustThrough(t, st, 9)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.SaveDeliveryStates(canceled, 20, map[string]*eventing.DeliveryState{"uuid:t": {Cursor: 20}}); err == nil {
		t.Fatal("SaveDeliveryStates with a canceled context succeeded")
	}
	mustThrough(t, st, 9)
	// Concurrent saves end at the highest position.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := st.SaveDeliveryStates(ctx, uint64(10+i), nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mustThrough(t, st, 17)
}

// A new subscription is stored with a Pending state at its Start, so that
// a position raised past Start does not cover it; its state round-trips
// Pending. A deduplicated subscription leaves no state.
func testDeliveryStatesPendingAtStart(t *testing.T, st eventing.Store) {
	testDeliveryStatesNewSubscription(t, st, true)
}

// A single writer's new subscription is at its Start with a position
// below it stored, whether it stores a state for it or not (the loader
// puts a subscription without one at the larger of its Start and the
// position); a deduplicated one leaves nothing.
func testDeliveryStatesStartWithoutState(t *testing.T, st eventing.Store) {
	testDeliveryStatesNewSubscription(t, st, false)
}

// testDeliveryStatesNewSubscription is the two above: pendingAtStart
// says whether st must store a new subscription pending at its Start.
func testDeliveryStatesNewSubscription(t *testing.T, st eventing.Store, pendingAtStart bool) {
	s := newSub("uuid:p")
	s.Start = 7
	mustCreate(t, st, s)
	if pendingAtStart {
		states := mustThrough(t, st, 0)
		want := &eventing.DeliveryState{Cursor: 7, Pending: true}
		if got := states[s.ID]; !sameState(got, want) {
			t.Fatalf("state of a new subscription = %+v; want %+v", got, want)
		}
		mustSave(t, st, 12, nil)
		states = mustThrough(t, st, 12)
		if got := states[s.ID]; got.Position(12) != 7 {
			t.Fatalf("position of the new subscription = %d; want 7", got.Position(12))
		}
	} else {
		mustSave(t, st, 5, nil)
		states := mustThrough(t, st, 5)
		if got, ok := states[s.ID]; ok && got.Position(5) != 7 {
			t.Fatalf("position of the new subscription = %d; want 7 (state %+v)", got.Position(5), got)
		}
	}
	dup := newSub("uuid:p2")
	dup.Key = "k"
	keyed := newSub("uuid:p1")
	keyed.Key = "k"
	mustCreate(t, st, keyed)
	if existing, err := st.CreateSubscription(t.Context(), dup); err != nil || existing == nil {
		t.Fatalf("CreateSubscription with a used key = %v, %v", existing, err)
	}
	next := &eventing.DeliveryState{Cursor: 8}
	mustSave(t, st, 12, map[string]*eventing.DeliveryState{s.ID: next})
	states := mustThrough(t, st, 12)
	if _, ok := states[dup.ID]; ok {
		t.Fatalf("states = %v; want none for the deduplicated subscription", states)
	}
	if pendingAtStart && (states[keyed.ID] == nil || !states[keyed.ID].Pending) {
		t.Fatalf("states = %v; want the keyed one pending", states)
	}
	if got := states[s.ID]; !sameState(got, next) || got.Position(12) != 12 {
		t.Fatalf("state after delivery = %+v; want %+v at position 12", got, next)
	}
}

// A nil state deletes the stored one (and deleting an absent one is no
// error); the other states stay.
func testDeliveryStatesNilDeletes(t *testing.T, st eventing.Store) {
	for _, id := range []string{"uuid:a", "uuid:b", "uuid:c"} {
		mustCreate(t, st, newSub(id))
	}
	mustSave(t, st, 4, map[string]*eventing.DeliveryState{"uuid:a": {Cursor: 4}, "uuid:b": fullState()})
	mustSave(t, st, 4, map[string]*eventing.DeliveryState{"uuid:a": nil, "uuid:c": nil})
	states := mustThrough(t, st, 4)
	if states["uuid:a"] != nil || states["uuid:c"] != nil || !sameState(states["uuid:b"], fullState()) {
		t.Fatalf("states after deleting a and c = %v", states)
	}
	mustSave(t, st, 4, map[string]*eventing.DeliveryState{"uuid:a": nil})
	mustSave(t, st, 5, map[string]*eventing.DeliveryState{"uuid:a": {Cursor: 5}})
	if states := mustThrough(t, st, 5); states["uuid:a"] == nil || states["uuid:a"].Cursor != 5 {
		t.Fatalf("state saved after its delete = %+v", states["uuid:a"])
	}
}

// The position and the states, Pending included, are read back after the
// store is closed and opened again.
func testDeliveryStatesSurviveReopen(t *testing.T, open func() eventing.Store) {
	st := open()
	s := newSub("uuid:r")
	s.Start = 3
	mustCreate(t, st, s)
	mustCreate(t, st, newSub("uuid:q"))
	mustSave(t, st, 11, map[string]*eventing.DeliveryState{"uuid:q": fullState(), "uuid:r": {Cursor: 3, Pending: true}})
	mustClose(t, st)
	st = open()
	states := mustThrough(t, st, 11)
	if !sameState(states["uuid:r"], &eventing.DeliveryState{Cursor: 3, Pending: true}) || !sameState(states["uuid:q"], fullState()) {
		t.Fatalf("states after reopen = r %+v, q %+v", states["uuid:r"], states["uuid:q"])
	}
	// The reopened store writes them again, and the position stays.
	mustSave(t, st, 8, map[string]*eventing.DeliveryState{"uuid:r": {Cursor: 12}, "uuid:q": nil})
	mustClose(t, st)
	st = open()
	states = mustThrough(t, st, 11)
	if states["uuid:q"] != nil || states["uuid:r"] == nil || states["uuid:r"].Cursor != 12 || states["uuid:r"].Pending {
		t.Fatalf("states after the second reopen = r %+v, q %+v", states["uuid:r"], states["uuid:q"])
	}
	mustClose(t, st)
}

func testErrNotFoundWrapped(t *testing.T, st eventing.Store) {
	ctx := t.Context()
	_, err1 := st.Subscription(ctx, "uuid:none")
	_, err2 := st.UpdateSubscription(ctx, "uuid:none", func(*eventing.Subscription) error { return nil })
	_, err3 := st.DeleteSubscription(ctx, "uuid:none")
	err4 := st.AddDeadLetter(ctx, "uuid:none", dl(1, base))
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, eventing.ErrNotFound) {
			t.Errorf("call %d: %v; want an error wrapping ErrNotFound", i+1, err)
		}
	}
}

func testCanceledContext(t *testing.T, st eventing.Store) {
	mustCreate(t, st, newSub("uuid:x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Subscription": func() error { _, err := st.Subscription(ctx, "uuid:x"); return err },
		"CreateSubscription": func() error {
			_, err := st.CreateSubscription(ctx, newSub("uuid:y"))
			return err
		},
		"UpdateSubscription": func() error {
			_, err := st.UpdateSubscription(ctx, "uuid:x", func(*eventing.Subscription) error { return nil })
			return err
		},
		"Subscriptions":  func() error { return st.Subscriptions(ctx, func(*eventing.Subscription) error { return nil }) },
		"ReadEvents":     func() error { _, _, err := st.ReadEvents(ctx, 0, 1, ""); return err },
		"DeliveryStates": func() error { _, _, err := st.DeliveryStates(ctx); return err },
		"SetSetting":     func() error { return st.SetSetting(ctx, "k", "v") },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s with a canceled context succeeded", name)
		}
	}
}

// --- keys ---

func testKeyStore(t *testing.T, ks access.KeyStore) {
	ctx := t.Context()
	if keys, err := ks.Keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("Keys on an empty store = %v, %v", keys, err)
	}
	k1 := &access.Key{ID: "id-1", Name: "ci.publisher", Role: access.Publisher, Topics: []access.Pattern{"orders/*"},
		Hash: access.Hash("hk_secret1"), Created: base}
	k2 := &access.Key{ID: "id-2", Name: "ops", Role: access.Admin, Hash: access.Hash("hk_secret2"), Created: base}
	for _, k := range []*access.Key{k1, k2} {
		if err := ks.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	dup := *k1
	dup.ID = "id-3"
	if err := ks.CreateKey(ctx, &dup); !errors.Is(err, access.ErrKeyExists) {
		t.Fatalf("CreateKey with a used name = %v; want ErrKeyExists", err)
	}
	keys, err := ks.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys = %v, %v; want 2", keys, err)
	}
	byName := map[string]*access.Key{}
	for _, k := range keys {
		byName[k.Name] = k
	}
	got := byName["ci.publisher"]
	if got == nil || got.ID != "id-1" || got.Role != k1.Role || !slices.Equal(got.Topics, k1.Topics) ||
		string(got.Hash) != string(k1.Hash) || !got.Created.Equal(base) {
		t.Fatalf("stored key = %+v; want %+v", got, k1)
	}
	if err := ks.DeleteKey(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := ks.DeleteKey(ctx, "ops"); !errors.Is(err, access.ErrNoKey) {
		t.Fatalf("DeleteKey again = %v; want ErrNoKey", err)
	}
	if keys, _ := ks.Keys(ctx); len(keys) != 1 || keys[0].Name != "ci.publisher" {
		t.Fatalf("Keys after delete = %v", keys)
	}
	// A deleted name can be used again.
	if err := ks.CreateKey(ctx, k2); err != nil {
		t.Fatalf("CreateKey after delete: %v", err)
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

func open(t testing.TB, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAppend_SequenceAndReadBack(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var got []*eventing.Event
	db.Watch(func(evs []*eventing.Event) { got = append(got, evs...) })
	for i, topic := range []string{"a", "b", "a", "c", "a"} {
		ev, err := db.Append(ctx, &eventing.Message{Topic: topic, Text: fmt.Sprint(i), Info: "x<y&z"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != uint64(i+1) {
			t.Fatalf("seq = %d; want %d", ev.Seq, i+1)
		}
	}
	if db.Head() != 5 || len(got) != 5 {
		t.Fatalf("head %d, watched %d; want 5, 5", db.Head(), len(got))
	}
	all, through, err := db.ReadEvents(ctx, 1, 10, "")
	if err != nil || len(all) != 4 || through != 5 || all[0].Seq != 2 || all[3].Info != "x<y&z" {
		t.Fatalf("ReadEvents all = %d events through %d, %v", len(all), through, err)
	}
	as, through, err := db.ReadEvents(ctx, 1, 10, "a")
	if err != nil || len(as) != 2 || as[0].Seq != 3 || as[1].Seq != 5 || through != 5 {
		t.Fatalf("ReadEvents a = %v through %d, %v", as, through, err)
	}
	page, through, _ := db.ReadEvents(ctx, 0, 2, "")
	if len(page) != 2 || through != 2 {
		t.Fatalf("a page of 2 covers through %d; want 2", through)
	}
	none, through, _ := db.ReadEvents(ctx, 0, 10, "nobody")
	if len(none) != 0 || through != 5 {
		t.Fatalf("unknown topic: %d events through %d; want 0 through 5", len(none), through)
	}
}

func TestAppend_GroupCommitUnderConcurrency(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	var wg sync.WaitGroup
	seqs := make(chan uint64, 640)
	for p := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				ev, err := db.Append(ctx, &eventing.Message{Topic: fmt.Sprintf("p%d", p), Text: fmt.Sprint(i)}, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- ev.Seq
			}
		}()
	}
	wg.Wait()
	close(seqs)
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("sequence %d given twice", s)
		}
		seen[s] = true
	}
	if len(seen) != 640 || db.Head() != 640 {
		t.Fatalf("%d distinct sequences, head %d; want 640", len(seen), db.Head())
	}
}

func TestReopen_KeepsEverything(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := &eventing.Subscription{ID: "uuid:1", Processor: "soap", Message: "<x/>", Filter: eventing.TopicFilter("t"), Key: "k", Created: time.Now().UTC()}
	if _, err := db.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(ctx, &eventing.Message{Topic: "t"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSetting(ctx, "message_path", "/in"); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveDeliveryStates(ctx, 7, map[string]*eventing.DeliveryState{"uuid:1": {Cursor: 1, Failures: 2}, "uuid:gone": {Cursor: 9}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(t, dir)
	got, err := db.Subscription(ctx, "uuid:1")
	if err != nil || got.Processor != "soap" || got.Topic() != "t" {
		t.Fatalf("subscription after reopen: %+v, %v", got, err)
	}
	if db.Head() != 1 {
		t.Fatalf("head after reopen = %d; want 1", db.Head())
	}
	if v, _ := db.Setting(ctx, "message_path"); v != "/in" {
		t.Fatalf("setting after reopen = %q", v)
	}
	through, states, _ := db.DeliveryStates(ctx)
	if through != 7 {
		t.Fatalf("matched through after reopen = %d; want 7", through)
	}
	if states["uuid:1"] == nil || states["uuid:1"].Cursor != 1 || states["uuid:gone"] != nil {
		t.Fatalf("states after reopen = %v; want only uuid:1 at cursor 1", states)
	}
	ids, _ := db.SubscriptionsByTopic(ctx, "t")
	if len(ids) != 1 || ids[0] != "uuid:1" {
		t.Fatalf("by topic = %v", ids)
	}
}

func TestCreateSubscription_DedupByKey(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	a := &eventing.Subscription{ID: "uuid:a", Processor: "soap", Key: "same"}
	if ex, err := db.CreateSubscription(ctx, a); err != nil || ex != nil {
		t.Fatalf("first create: %v, %v", ex, err)
	}
	b := &eventing.Subscription{ID: "uuid:b", Processor: "soap", Key: "same"}
	ex, err := db.CreateSubscription(ctx, b)
	if err != nil || ex == nil || ex.ID != "uuid:a" {
		t.Fatalf("second create returned %v, %v; want the existing uuid:a", ex, err)
	}
	if _, err := db.Subscription(ctx, "uuid:b"); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("uuid:b stored: %v", err)
	}
	// Once deleted, the key is free again.
	if _, err := db.DeleteSubscription(ctx, "uuid:a"); err != nil {
		t.Fatal(err)
	}
	if ex, err := db.CreateSubscription(ctx, b); err != nil || ex != nil {
		t.Fatalf("create after delete: %v, %v", ex, err)
	}
}

func TestDeleteSubscription_RemovesStateAndDeadLetters(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	for _, id := range []string{"uuid:a", "uuid:ab"} {
		if _, err := db.CreateSubscription(ctx, &eventing.Subscription{ID: id, Filter: eventing.TopicFilter("t")}); err != nil {
			t.Fatal(err)
		}
		if err := db.AddDeadLetter(ctx, id, &eventing.DeadLetter{Seq: 7, Error: "boom", Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.DeleteSubscription(ctx, "uuid:a"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteSubscription(ctx, "uuid:a"); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("second delete: %v; want ErrNotFound", err)
	}
	if dl, _ := db.DeadLetters(ctx, "uuid:a"); len(dl) != 0 {
		t.Fatalf("dead letters of a deleted subscription: %v", dl)
	}
	if dl, _ := db.DeadLetters(ctx, "uuid:ab"); len(dl) != 1 {
		t.Fatalf("dead letters of uuid:ab (sharing a prefix) = %d; want 1", len(dl))
	}
	if err := db.AddDeadLetter(ctx, "uuid:a", &eventing.DeadLetter{Seq: 8}); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("dead letter for a deleted subscription: %v; want ErrNotFound", err)
	}
}

func TestDeadLetters_MarkReplayAndDelete(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	db.CreateSubscription(ctx, &eventing.Subscription{ID: "uuid:a"})
	db.CreateSubscription(ctx, &eventing.Subscription{ID: "uuid:b"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		db.AddDeadLetter(ctx, "uuid:a", &eventing.DeadLetter{Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Hour)})
	}
	db.AddDeadLetter(ctx, "uuid:b", &eventing.DeadLetter{Seq: 9, Time: t0})
	got, err := db.MarkReplay(ctx, "uuid:a", t0.Add(time.Hour))
	if err != nil || len(got) != 2 || got[0].Seq != 2 || !got[0].Replay {
		t.Fatalf("mark since 1h = %v, %v; want seqs 2,3 marked", got, err)
	}
	if again, _ := db.MarkReplay(ctx, "uuid:a", time.Time{}); len(again) != 1 || again[0].Seq != 1 {
		t.Fatalf("a second mark = %v; want only seq 1 (the others are marked already)", again)
	}
	all, _ := db.Replaying(ctx)
	if len(all) != 1 || len(all["uuid:a"]) != 3 {
		t.Fatalf("replaying = %v; want 3 of uuid:a", all)
	}
	if err := db.DeleteDeadLetter(ctx, "uuid:a", 2); err != nil {
		t.Fatal(err)
	}
	left, _ := db.DeadLetters(ctx, "uuid:a")
	if len(left) != 2 || left[0].Seq != 1 || left[1].Seq != 3 {
		t.Fatalf("left = %v; want seqs 1 and 3", left)
	}
}

func TestTrim_RespectsCursorAndAge(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		ts := old
		if i >= 6 {
			ts = old.Add(48 * time.Hour)
		}
		db.Append(ctx, &eventing.Message{Topic: "t"}, ts)
	}
	n, err := db.Trim(ctx, 4, old.Add(time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("trim through 4 = %d, %v; want 4", n, err)
	}
	n, _ = db.Trim(ctx, 10, old.Add(time.Hour))
	if n != 2 {
		t.Fatalf("trim of the old rest = %d; want 2 (events 7-10 are too young)", n)
	}
	evs, _, _ := db.ReadEvents(ctx, 0, 100, "t")
	if len(evs) != 4 || evs[0].Seq != 7 {
		t.Fatalf("after trim the topic index holds %d events from %d; want 4 from 7", len(evs), evs[0].Seq)
	}
	if db.Head() != 10 {
		t.Fatalf("head = %d; want 10", db.Head())
	}
}

func TestOpen_RefusesOtherSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := store.ForceSchemaVersionForTest(filepath.Join(dir, store.FileName), "999"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(dir, store.Options{NoSync: true}); !errors.Is(err, store.ErrSchemaVersion) {
		t.Fatalf("open of a v999 file: %v; want ErrSchemaVersion", err)
	}
}

func TestAppend_AfterCloseFails(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := db.Append(context.Background(), &eventing.Message{Topic: "t"}, time.Now()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("append after close: %v; want ErrClosed", err)
	}
}

func TestReadEvents_TopicAcrossTheUnindexedTail(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true, IndexInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		db.Append(ctx, &eventing.Message{Topic: []string{"a", "b"}[i%2], Text: fmt.Sprint(i)}, time.Now())
	}
	// Nothing is indexed yet (the interval is an hour): the tail scan finds them.
	evs, through, err := db.ReadEvents(ctx, 2, 3, "a")
	if err != nil || len(evs) != 3 || evs[0].Seq != 3 || evs[2].Seq != 7 || through != 7 {
		t.Fatalf("unindexed read = %v through %d, %v", evs, through, err)
	}
	db.Close() // flushes the index
	db = open(t, dir)
	evs, through, _ = db.ReadEvents(ctx, 2, 3, "a")
	if len(evs) != 3 || evs[0].Seq != 3 || evs[2].Seq != 7 || through != 7 {
		t.Fatalf("indexed read = %v through %d", evs, through)
	}
	evs, through, _ = db.ReadEvents(ctx, 7, 10, "a")
	if len(evs) != 1 || evs[0].Seq != 9 || through != 10 {
		t.Fatalf("read to the end = %v through %d; want 9 through 10", evs, through)
	}
}

func TestOpen_ReindexesAfterACrash(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true, IndexInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		db.Append(ctx, &eventing.Message{Topic: "a", Text: fmt.Sprint(i)}, time.Now())
	}
	store.SimulateCrashForTest(db) // the file is left as a SIGKILL would leave it
	db = open(t, dir)
	if n, err := db.IndexedThroughForTest(); err != nil || n != 5 {
		t.Fatalf("indexed through %d after reopening, %v; want 5", n, err)
	}
}

func TestCompact_ShrinksAndKeepsData(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.CreateSubscription(ctx, &eventing.Subscription{ID: "uuid:keep", Processor: "soap"})
	for i := range 5000 {
		db.Append(ctx, &eventing.Message{Topic: "t", Text: strings.Repeat("x", 500) + fmt.Sprint(i)}, time.Unix(0, 0))
	}
	if _, _, err := store.Compact(dir); err == nil {
		t.Fatal("compacted a file that is in use")
	}
	if n, err := db.Trim(ctx, 4990, time.Now()); err != nil || n != 4990 {
		t.Fatalf("trim = %d, %v", n, err)
	}
	db.Close()
	before, after, err := store.Compact(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after >= before/2 {
		t.Fatalf("compaction: %d → %d bytes", before, after)
	}
	db = open(t, dir)
	if _, err := db.Subscription(ctx, "uuid:keep"); err != nil {
		t.Fatalf("subscription lost in compaction: %v", err)
	}
	if evs, _, _ := db.ReadEvents(ctx, 0, 100, "t"); len(evs) != 10 || db.Head() != 5000 {
		t.Fatalf("after compaction: %d events, head %d", len(evs), db.Head())
	}
}

func TestUpdateSubscription_MovesTheTopicIndex(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	db.CreateSubscription(ctx, &eventing.Subscription{ID: "uuid:a", Filter: eventing.TopicFilter("old")})
	if _, err := db.UpdateSubscription(ctx, "uuid:a", func(s *eventing.Subscription) error { s.Filter = eventing.TopicFilter("new"); return nil }); err != nil {
		t.Fatal(err)
	}
	if ids, _ := db.SubscriptionsByTopic(ctx, "old"); len(ids) != 0 {
		t.Fatalf("old topic still lists %v", ids)
	}
	if ids, _ := db.SubscriptionsByTopic(ctx, "new"); len(ids) != 1 {
		t.Fatalf("new topic lists %v", ids)
	}
}

// A new subscription is stored without a delivery state (its Service holds
// the matched-through position at or below its Start until its dispatcher
// has it), and loads at its Start; a pending state saved for it later
// keeps it there, and a nil one deletes that state.
func TestCreateSubscription_StoresNoDeliveryState(t *testing.T) {
	db := open(t, t.TempDir())
	ctx := t.Context()
	sub := &eventing.Subscription{ID: "uuid:1", Processor: "soap", Message: "<x/>", Start: 5, Created: time.Now().UTC()}
	if _, err := db.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveDeliveryStates(ctx, 4, nil); err != nil {
		t.Fatal(err)
	}
	through, states, err := db.DeliveryStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := states["uuid:1"]; through != 4 || ok {
		t.Fatalf("through %d, states %v; want 4 and no state", through, states)
	}
	var n int
	if err := db.LoadSubscriptions(ctx, func(s *eventing.Subscription, _ func() (*eventing.Subscription, error)) error {
		if n++; s.ID != "uuid:1" || s.Start != 5 {
			t.Errorf("loaded %s at start %d; want uuid:1 at 5", s.ID, s.Start)
		}
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("loaded %d subscriptions, %v; want 1", n, err)
	}
	pending := map[string]*eventing.DeliveryState{"uuid:1": {Cursor: 5, Pending: true}}
	if err := db.SaveDeliveryStates(ctx, 9, pending); err != nil {
		t.Fatal(err)
	}
	through, states, _ = db.DeliveryStates(ctx)
	if st := states["uuid:1"]; through != 9 || st == nil || st.Position(through) != 5 {
		t.Fatalf("through %d, state %+v; want 9 and pending at 5", through, st)
	}
	// The position never moves back.
	if err := db.SaveDeliveryStates(ctx, 3, nil); err != nil {
		t.Fatal(err)
	}
	if through, _, _ := db.DeliveryStates(ctx); through != 9 {
		t.Fatalf("through after saving 3 = %d; want 9", through)
	}
	// A nil state deletes the stored one: the position covers it.
	if err := db.SaveDeliveryStates(ctx, 9, map[string]*eventing.DeliveryState{"uuid:1": nil}); err != nil {
		t.Fatal(err)
	}
	if _, states, _ := db.DeliveryStates(ctx); states["uuid:1"] != nil {
		t.Fatalf("state after saving nil: %+v", states["uuid:1"])
	}
}

// Subscriptions created concurrently with appends share their commits; one
// that fails (an id that exists) fails alone, and the others and the
// events are stored.
func TestCreateSubscription_GroupCommitWithAppends(t *testing.T) {
	db := open(t, t.TempDir())
	ctx := t.Context()
	if _, err := db.CreateSubscription(ctx, &eventing.Subscription{ID: "uuid:dup", Processor: "soap", Message: "<x/>"}); err != nil {
		t.Fatal(err)
	}
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("uuid:%d", i)
			if i == n/2 {
				id = "uuid:dup"
			}
			_, errs[i] = db.CreateSubscription(ctx, &eventing.Subscription{ID: id, Processor: "soap", Message: "<x/>", Filter: eventing.TopicFilter("t")})
		}()
		go func() {
			defer wg.Done()
			if _, err := db.Append(ctx, &eventing.Message{Topic: "t"}, time.Now()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == n/2) {
			t.Errorf("subscription %d: %v", i, err)
		}
	}
	count := 0
	if err := db.Subscriptions(ctx, func(*eventing.Subscription) error { count++; return nil }); err != nil {
		t.Fatal(err)
	}
	if count != n || db.Head() != n {
		t.Fatalf("%d subscriptions and head %d; want %d and %d", count, db.Head(), n, n)
	}
}

func TestCreateSubscription_WritesNoTopicIndex(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateSubscription(t.Context(), &eventing.Subscription{ID: "uuid:a", Filter: eventing.TopicFilter("t")}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := db.SubscriptionsByTopic(t.Context(), "t"); len(ids) != 1 || ids[0] != "uuid:a" {
		t.Fatalf("by topic = %v; want [uuid:a]", ids)
	}
	db.Close()
	keys, err := store.BucketKeysForTest(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := keys["subscriptions_by_topic"]; ok {
		t.Fatalf("the file has a subscriptions_by_topic bucket (%d keys); want none", n)
	}
}

func TestOpen_DropsTheTopicIndexOfEarlierVersions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := store.PutForTest(path, "subscriptions_by_topic", "t\x00uuid:a", ""); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	keys, err := store.BucketKeysForTest(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := keys["subscriptions_by_topic"]; ok {
		t.Fatalf("after Open the file still has subscriptions_by_topic; want it dropped")
	}
}

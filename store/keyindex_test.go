package store

import (
	"errors"
	"hash/maphash"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/eventing"
)

func openInternal(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// createWant creates s and checks which existing subscription (by id, ""
// for none) CreateSubscription returned.
func createWant(t *testing.T, db *DB, s *eventing.Subscription, want string) {
	t.Helper()
	ex, err := db.CreateSubscription(t.Context(), s)
	if err != nil {
		t.Fatalf("create %s: %v", s.ID, err)
	}
	got := ""
	if ex != nil {
		got = ex.ID
	}
	if got != want {
		t.Fatalf("create %s (key %q) found %q; want %q", s.ID, s.Key, got, want)
	}
}

const (
	idA = "uuid:01a234be-f722-7ad2-a074-9bdb1a3809fd"
	idB = "uuid:01a234be-f722-7ad2-a074-9bdb1a3809fe"
	idC = "uuid:01a234be-f722-7ad2-a074-9bdb1a3809ff"
)

func TestParseID_RoundTrip(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{idA, true},
		{"uuid:01A234BE-F722-7AD2-A074-9BDB1A3809FD", false}, // not the form Herald writes
		{"uuid:a", false},
		{"urn:uuid:01a234be-f722-7ad2-a074-9bdb1a3809fd", false},
		{"uuid:01a234be+f722-7ad2-a074-9bdb1a3809fd", false},
	} {
		u, ok := parseID(tt.id)
		if ok != tt.ok {
			t.Errorf("parseID(%q) ok %v; want %v", tt.id, ok, tt.ok)
			continue
		}
		if ok && formatID(u) != tt.id {
			t.Errorf("formatID(parseID(%q)) = %q", tt.id, formatID(u))
		}
	}
}

// The keys are found again after a reopen, whatever the form of the ids,
// and a deleted subscription's key is free.
func TestKeyIndex_SurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db := openInternal(t, dir)
	createWant(t, db, &eventing.Subscription{ID: idA, Processor: "soap", Key: "0faa3b8a"}, "")
	createWant(t, db, &eventing.Subscription{ID: "legacy-b", Processor: "soap", Key: "key b"}, "")
	createWant(t, db, &eventing.Subscription{ID: idC, Processor: "soap", Key: "key c"}, "")
	if _, err := db.DeleteSubscription(t.Context(), idC); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openInternal(t, dir)
	createWant(t, db, &eventing.Subscription{ID: idB, Processor: "soap", Key: "0faa3b8a"}, idA)
	createWant(t, db, &eventing.Subscription{ID: idB, Processor: "soap", Key: "key b"}, "legacy-b")
	createWant(t, db, &eventing.Subscription{ID: idB, Processor: "soap", Key: "key c"}, "")
}

// Two keys of one hash are told apart by the records' keys.
func TestKeyIndex_HashCollision(t *testing.T) {
	dir := t.TempDir()
	db := openInternal(t, dir)
	db.keys.hash = func(maphash.Seed, string) uint64 { return 7 }
	createWant(t, db, &eventing.Subscription{ID: idA, Processor: "soap", Key: "one"}, "")
	createWant(t, db, &eventing.Subscription{ID: idB, Processor: "soap", Key: "two"}, "")
	createWant(t, db, &eventing.Subscription{ID: idC, Processor: "soap", Key: "two"}, idB)
	createWant(t, db, &eventing.Subscription{ID: idC, Processor: "soap", Key: "one"}, idA)
	// The holder of the hash goes: the other key is still found, and the
	// freed key is created anew.
	if _, err := db.DeleteSubscription(t.Context(), idA); err != nil {
		t.Fatal(err)
	}
	createWant(t, db, &eventing.Subscription{ID: idC, Processor: "soap", Key: "two"}, idB)
	createWant(t, db, &eventing.Subscription{ID: idC, Processor: "soap", Key: "one"}, "")
	createWant(t, db, &eventing.Subscription{ID: "uuid:x", Processor: "soap", Key: "one"}, idC)
}

// A transaction that does not commit leaves the index as it was.
func TestKeyIndex_RolledBackWithTheTransaction(t *testing.T) {
	db := openInternal(t, t.TempDir())
	createWant(t, db, &eventing.Subscription{ID: idA, Processor: "soap", Key: "kept"}, "")
	boom := errors.New("boom")
	err := db.update(t.Context(), func(tx *bolt.Tx) error {
		if err := db.putSub(tx, &eventing.Subscription{ID: idB, Processor: "soap", Key: "lost"}); err != nil {
			return err
		}
		// Moves "kept" to idB in the index, then fails.
		if err := db.putSub(tx, &eventing.Subscription{ID: idB, Processor: "soap", Key: "kept"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v; want boom", err)
	}
	if len(db.keys.undo) != 0 {
		t.Fatalf("%d undo entries left", len(db.keys.undo))
	}
	createWant(t, db, &eventing.Subscription{ID: idC, Processor: "soap", Key: "lost"}, "")
	createWant(t, db, &eventing.Subscription{ID: idB, Processor: "soap", Key: "kept"}, idA)
}

// A file of schema version 2 loses its subscriptions_by_key bucket at Open,
// and its subscriptions are still found by their keys.
func TestOpen_UpgradesSchemaVersion2(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	old := seedSubscription()
	createWant(t, db, old, "")
	db.Close()
	if err := ForceSchemaVersionForTest(path, "2"); err != nil {
		t.Fatal(err)
	}
	if err := PutForTest(path, "subscriptions_by_key", old.Key, old.ID); err != nil {
		t.Fatal(err)
	}
	db = openInternal(t, dir)
	again := seedSubscription()
	again.ID = idB
	createWant(t, db, again, old.ID)
	var v string
	var byKey bool
	db.bolt.View(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bucketMeta).Get(keySchemaVersion))
		byKey = tx.Bucket([]byte("subscriptions_by_key")) != nil
		return nil
	})
	if v != SchemaVersion || byKey {
		t.Fatalf("after the upgrade: schema version %q, subscriptions_by_key kept %v; want %s and dropped", v, byKey, SchemaVersion)
	}
}

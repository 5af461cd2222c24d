package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/eventing"
)

// firstHole returns the offset of the first hole in the file (its size
// when it has none, or when the file system cannot tell).
func firstHole(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const seekHole = 4 // SEEK_HOLE (Linux)
	off, err := syscall.Seek(int(f.Fd()), 0, seekHole)
	if err != nil {
		t.Skipf("SEEK_HOLE: %v", err)
	}
	return off
}

// A growing file is written past its high-water mark, so that commits do
// not write into holes (see aheadFiller), and the zeros never reach data:
// with a small chunk the filler runs every few commits, and every record
// reads back after a reopen, with bbolt's consistency check clean.
func TestAheadFiller_NoHoleBelowTheChunkAndDataIntact(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 64 << 10
	db.ahead.chunk = chunk
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 400 {
		s := &eventing.Subscription{
			ID: fmt.Sprintf("uuid:00000000-0000-7000-8000-%012d", i), Processor: "wse",
			Message: strings.Repeat("x", 600), Created: now,
		}
		if _, err := db.CreateSubscription(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Append(t.Context(), &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, now); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	var hw int64
	if err := db.bolt.View(func(tx *bolt.Tx) error { hw = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	if hw < 4*chunk {
		t.Fatalf("the file's data is %d bytes; the test needs it to grow past several chunks (%d)", hw, chunk)
	}
	path := filepath.Join(dir, FileName)
	if hole := firstHole(t, path); hole < hw+chunk/2 {
		t.Errorf("first hole at %d, high-water mark %d: want the file written at least half a chunk (%d) past it", hole, hw, chunk/2)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
	for _, id := range ids {
		s, err := db.Subscription(t.Context(), id)
		if err != nil || s.Message != strings.Repeat("x", 600) {
			t.Fatalf("%s after reopen: %v", id, err)
		}
	}
	if db.Head() != 400 {
		t.Fatalf("head %d after reopen; want 400", db.Head())
	}
}

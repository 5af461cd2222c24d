package store_test

import (
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/store/storetest"
)

// The conformance suite on a real bbolt file, fsync on.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventing.Store {
		db, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}, storetest.SingleWriter())
}

func TestConformanceReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) func() eventing.Store {
		dir := t.TempDir()
		return func() eventing.Store {
			db, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}

package cli

import (
	"runtime/debug"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// newService hands the process its own GOGC back once the load is done:
// a GOGC left at loadGCPercent would let the heap grow elevenfold between
// collections for the rest of the process's life.
func TestNewService_SetsGOGCBack(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prev := debug.SetGCPercent(77)
	defer debug.SetGCPercent(prev)
	svc, err := newService(t.Context(), eventing.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Shutdown(t.Context())
	if got := debug.SetGCPercent(77); got != 77 {
		t.Fatalf("GOGC after newService = %d; want the process's 77 back", got)
	}
}

package cli

import (
	"context"
	"runtime/debug"

	"github.com/herald-eventing/herald/eventing"
)

// loadGCPercent is the GOGC Herald runs with while a service loads its
// stored subscriptions. Nearly everything a load allocates is kept (the
// dispatcher's state of each subscription, its indexes sized up front),
// so a collection during it only marks the same live memory again, about
// once each time the heap doubles: at 1,000,000 subscriptions that was
// over half of the start (5.5 s at GOGC=100, 2.4 s at 400). At 1000 the
// heap of a starting process collects once at most during the load, and
// its peak is that of what it keeps, plus the load's little garbage.
const loadGCPercent = 1000

// newService is eventing.NewService under loadGCPercent: the process's
// own GOGC (the environment's, or 100) is set back as soon as it returns.
// The runtime's GC setting is the program's to choose, which is why this
// lives in the command and not in eventing.
func newService(ctx context.Context, o eventing.Options) (*eventing.Service, error) {
	prev := debug.SetGCPercent(loadGCPercent)
	defer debug.SetGCPercent(prev)
	return eventing.NewService(ctx, o)
}

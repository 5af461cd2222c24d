package eventing

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// A PartitionFeed hands a lease manager's decisions to a Dispatcher.
// Released parks a partition at once, so that the node has stopped
// delivering it when the lease manager gives the lease up (or lets it
// lapse). Acquired only queues the partition: the feed's goroutine
// (Run) acquires what queued in one batch, with one read of the stored
// states, so that a lease manager taking 64 partitions at start does not
// wait for 64 reads. A partition released before its turn came, or while
// its batch read the store, is not acquired.
//
// Neither callback waits for the store. The lease manager calls them on
// the goroutine that renews its leases, so a Released that waited for a
// batch's read (seconds, when the store is electing a leader) would let
// every other lease of the node lapse meanwhile.
type PartitionFeed struct {
	d      *Dispatcher
	logger *slog.Logger
	clock  Clock

	mu sync.Mutex
	// held: the partitions the lease manager gave and has not taken
	// back; pending: those of them not acquired yet; gen counts each
	// partition's releases, so that a batch takes only the partitions
	// that were not released (and perhaps given again) since it
	// gathered them.
	held, pending map[int]bool
	gen           map[int]uint64
	signal        chan struct{}
}

// NewPartitionFeed returns a feed for d (a partitioned dispatcher). Call
// Run.
func NewPartitionFeed(d *Dispatcher, clock Clock, logger *slog.Logger) *PartitionFeed {
	if clock == nil {
		clock = SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &PartitionFeed{d: d, logger: logger, clock: clock,
		held: map[int]bool{}, pending: map[int]bool{}, gen: map[int]uint64{}, signal: make(chan struct{}, 1)}
}

// Acquired queues partition p to be delivered by this node.
func (f *PartitionFeed) Acquired(p int) {
	f.mu.Lock()
	f.held[p], f.pending[p] = true, true
	f.mu.Unlock()
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

// Held returns the partitions the lease manager gave this node and did
// not take back, in order (acquired, or waiting to be).
func (f *PartitionFeed) Held() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, 0, len(f.held))
	for p := range f.held {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// Released stops delivering partition p before it returns. It waits for
// no store read: a batch that is reading p's states does not take p.
func (f *PartitionFeed) Released(p int) {
	f.takeBack(p)
	f.d.Release([]int{p})
}

// takeBack notes that the lease manager took ps back: they are neither
// held nor pending, and a batch that gathered them does not take them.
func (f *PartitionFeed) takeBack(ps ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range ps {
		delete(f.held, p)
		delete(f.pending, p)
		f.gen[p]++
	}
}

// Handover hands partitions ps over cleanly before the lease manager
// gives them away (Dispatcher.Handover), bounded by ctx; the Released
// that follows for each finds them parked already.
func (f *PartitionFeed) Handover(ctx context.Context, ps []int) {
	f.takeBack(ps...)
	if err := f.d.Handover(ctx, ps); err != nil {
		f.logger.Warn("partitions handed over without their last states; the next holder repeats what was not saved", slog.Any("partitions", ps), slog.Any("err", err))
	}
}

// Run acquires the queued partitions until ctx ends. A batch whose
// states cannot be read is tried again a second later.
func (f *PartitionFeed) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.signal:
		}
		f.mu.Lock()
		parts := make([]int, 0, len(f.pending))
		gens := make(map[int]uint64, len(f.pending))
		for p := range f.pending {
			parts = append(parts, p)
			gens[p] = f.gen[p]
		}
		clear(f.pending)
		f.mu.Unlock()
		sort.Ints(parts)
		err := f.d.AcquireIf(ctx, parts, func(p int) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.held[p] && f.gen[p] == gens[p]
		})
		if err == nil || ctx.Err() != nil {
			continue
		}
		f.logger.Error("cannot take over partitions; trying again", slog.Any("partitions", parts), slog.Any("err", err))
		f.mu.Lock()
		for _, p := range parts {
			// Only those the lease manager did not take back meanwhile.
			if f.held[p] && f.gen[p] == gens[p] {
				f.pending[p] = true
			}
		}
		f.mu.Unlock()
		retry := make(chan struct{})
		t := f.clock.AfterFunc(time.Second, func() { close(retry) })
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-retry:
		}
		select {
		case f.signal <- struct{}{}:
		default:
		}
	}
}

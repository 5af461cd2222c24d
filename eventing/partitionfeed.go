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
// wait for 64 reads. A partition released before its turn came is not
// acquired.
type PartitionFeed struct {
	d      *Dispatcher
	logger *slog.Logger
	clock  Clock

	// opMu orders a batch's Acquire against Release: a Release that
	// comes while its partition is being acquired waits for it, then
	// parks it.
	opMu sync.Mutex
	mu   sync.Mutex
	// held: the partitions the lease manager gave and has not taken
	// back; pending: those of them not acquired yet.
	held, pending map[int]bool
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
	return &PartitionFeed{d: d, logger: logger, clock: clock, held: map[int]bool{}, pending: map[int]bool{}, signal: make(chan struct{}, 1)}
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

// Released stops delivering partition p before it returns.
func (f *PartitionFeed) Released(p int) {
	f.mu.Lock()
	delete(f.held, p)
	delete(f.pending, p)
	f.mu.Unlock()
	f.opMu.Lock()
	defer f.opMu.Unlock()
	f.d.Release([]int{p})
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
		f.opMu.Lock()
		f.mu.Lock()
		parts := make([]int, 0, len(f.pending))
		for p := range f.pending {
			parts = append(parts, p)
		}
		clear(f.pending)
		f.mu.Unlock()
		sort.Ints(parts)
		err := f.d.Acquire(ctx, parts)
		f.opMu.Unlock()
		if err == nil || ctx.Err() != nil {
			continue
		}
		f.logger.Error("cannot take over partitions; trying again", slog.Any("partitions", parts), slog.Any("err", err))
		f.mu.Lock()
		for _, p := range parts {
			// Only those the lease manager did not take back meanwhile.
			if f.held[p] {
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

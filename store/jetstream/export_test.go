package jetstream

import (
	"context"
	"time"
)

// Escape and Unescape expose the key codec to the tests.
var (
	Escape   = escape
	Unescape = unescape
)

// ConnectedServer names the server s's connection is on.
func (s *Store) ConnectedServer() string { return s.nc.ConnectedServerName() }

// StallWatcher stops the event watcher's consumer without a word, as a
// consumer whose recovery never ends does.
func (s *Store) StallWatcher() {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	s.watch.feed.cc.Stop()
}

// WatcherReplaced counts the consumers the watcher's guard replaced.
func (s *Store) WatcherReplaced() int64 { return s.watch.replaced.Load() }

// StallSubscriptionWatch makes the current subscription watcher deliver
// nothing more, as a stalled consumer does; its replacement delivers.
func (s *Store) StallSubscriptionWatch() { s.subsDeaf.Store(s.subsReplaced.Load() + 1) }

// SubscriptionWatchReplaced counts the subscription watchers replaced.
func (s *Store) SubscriptionWatchReplaced() int64 { return s.subsReplaced.Load() }

// PlaceWatch runs one placement check of the Store's event watcher.
func (s *Store) PlaceWatch() error { return s.place(s.watch) }

// WatchServer returns the name of the server that holds the event
// watcher's consumer.
func (s *Store) WatchServer(ctx context.Context) (string, error) {
	s.watch.mu.Lock()
	f := s.watch.feed
	s.watch.mu.Unlock()
	ci, err := f.cons.Info(ctx)
	if err != nil {
		return "", err
	}
	if ci.Cluster == nil {
		return "", nil
	}
	return ci.Cluster.Leader, nil
}

// DeafLeader makes the log's reads find no answer from the stream
// leader's API (deaf true) or an answer again.
func (s *Store) DeafLeader(deaf bool) { s.leaderDeaf.Store(deaf) }

// StallLists makes the next n listings' watchers deliver nothing, as an
// ordered consumer on a recovering server does, and a listing give up on
// a watcher after stall.
func (s *Store) StallLists(n int32, stall time.Duration) {
	s.listStall.Store(int64(stall))
	s.listDeaf.Store(n)
}

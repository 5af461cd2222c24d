package jetstream

import "context"

// Escape and Unescape expose the key codec to the tests.
var (
	Escape   = escape
	Unescape = unescape
)

// PlaceWatch runs one placement check of the Store's event watcher.
func (s *Store) PlaceWatch(ctx context.Context) error { return s.place(ctx, s.watch) }

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

package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/eventcodec"
)

// The event watcher: every Store reads the stream once, through one
// ordered consumer, and hands each event to its watchers (the
// dispatcher's matcher) in log order.
//
// An ordered consumer is an R1 consumer on one server that nats.go makes
// again, from where it was, when it misses heartbeats or the connection
// moves. That recovery can stop for good: after the server the
// connection was on died with the stream's leader, the client went on
// asking for a new consumer under the same name, placed on the dead
// server, and never got an answer (and Stop waits for that loop). A
// Herald node then matched nothing more, without an error, until it
// restarted. So a guard watches the watcher: when it has delivered
// nothing for WatchStall while the stream holds events after the last
// one it delivered, the guard replaces the consumer with a new one
// (a new name, so placed anew) that starts after that event. Events the
// old consumer still hands over are dropped by generation, and the
// loop drops any sequence number it already passed, so every event
// reaches the watchers once and in order.
//
// The same guard keeps the consumer on the stream's leader. An R1
// consumer lands on a random replica, and on a follower it delivers an
// event only once that follower has heard of the commit, a round trip
// later and under load much later (BenchmarkWatchDelay: 11 ms p50 and
// 206 ms p99 after Append returned on a follower, against -0.2 and 1.5 ms
// on the leader). Every placeEvery the guard asks where the leader is and,
// if the consumer is elsewhere, starts new ones from the event after the
// last delivered until one lands there (at most placeTries a look). A
// new consumer delivers beside the old one until it replaces it; the
// loop's rule of sequence numbers keeps that overlap exact.

// defaultWatchStall is Options.WatchStall's default: longer than the
// ordered consumer's own recovery (heartbeats every second, a reset
// after two are missed) takes when it works.
const defaultWatchStall = 5 * time.Second

// watchCheckEvery is how often the guard looks for a stall; placeEvery
// how often it checks where the consumer is (the first time one look
// after Open, so that a Store that lives less long makes no consumers for
// nothing); placeTries how many new consumers one check makes at most to
// land one on the leader (each lands there with a probability of one in
// the number of replicas).
const (
	watchCheckEvery = time.Second
	placeEvery      = 5 * time.Second
	placeTries      = 8
)

// Watch implements eventing.EventLog. Every Store reads the stream once
// through one ordered consumer, and calls the watchers from that
// consumer's goroutine with the events of every node, in log order, each
// once. A watcher may be called after the Append of one of its events
// returned.
func (s *Store) Watch(fn func([]*eventing.Event)) {
	s.watchMu.Lock()
	s.watchers = append(s.watchers, fn)
	s.watchMu.Unlock()
}

type watcher struct {
	msgs chan natsjs.Msg
	ctx  context.Context // ends at stop
	quit context.CancelFunc
	done sync.WaitGroup // the loop and the guard

	mu   sync.Mutex
	feed *feed
	// last is the sequence number of the last event handed to the
	// watchers; moved is when it last moved, on the Store's clock.
	last  atomic.Uint64
	moved atomic.Int64
	// replaced counts the consumers the guard replaced for a stall (for
	// tests).
	replaced atomic.Int64
}

// A feed is one ordered consumer of the log delivering into a watcher's
// msgs until it is dropped.
type feed struct {
	cons natsjs.Consumer
	cc   natsjs.ConsumeContext
	off  atomic.Bool
}

// watchBatch caps how many events one watcher call carries.
const watchBatch = 1024

// startWatch starts reading the stream at sequence number from.
func (s *Store) startWatch(ctx context.Context, from uint64) (*watcher, error) {
	w := &watcher{msgs: make(chan natsjs.Msg, 4*watchBatch)}
	w.ctx, w.quit = context.WithCancel(context.Background())
	w.last.Store(from - 1)
	w.moved.Store(s.clock.Now().UnixNano())
	f, err := s.startFeed(ctx, w, from)
	if err != nil {
		w.quit()
		return nil, err
	}
	w.feed = f
	w.done.Add(2)
	go s.watchLoop(w)
	go s.guardWatch(w)
	return w, nil
}

// startFeed makes a new ordered consumer from sequence number from that
// delivers into w's loop until it is dropped, and gives up when ctx ends.
// nats.go's Consume creates the consumer in a retry loop of its own (10 s
// an attempt, without end while creation fails: a meta leader election,
// a placement on a dead server) that does not see ctx: the guard that
// waited for it once stopped guarding, and its node matched nothing more
// (TestCluster_Failover lost a third of the subscriptions so, 2 runs in
// 10). A feed made after ctx ended is dropped.
func (s *Store) startFeed(ctx context.Context, w *watcher, from uint64) (*feed, error) {
	type made struct {
		f   *feed
		err error
	}
	ch := make(chan made, 1)
	go func() {
		f, err := s.newFeed(ctx, w, from)
		ch <- made{f, err}
	}()
	select {
	case m := <-ch:
		return m.f, m.err
	case <-ctx.Done():
		go func() {
			if m := <-ch; m.f != nil {
				s.drop(m.f)
			}
		}()
		return nil, fmt.Errorf("jetstream: watch %s: %w", s.streamName, ctx.Err())
	}
}

// newFeed is startFeed without its bound.
func (s *Store) newFeed(ctx context.Context, w *watcher, from uint64) (*feed, error) {
	cons, err := s.js.OrderedConsumer(ctx, s.streamName, natsjs.OrderedConsumerConfig{
		DeliverPolicy: natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: watch %s: %w", s.streamName, err)
	}
	f := &feed{cons: cons}
	f.cc, err = cons.Consume(func(m natsjs.Msg) {
		if f.off.Load() {
			return // dropped: another feed delivers from where the loop is
		}
		select {
		case w.msgs <- m:
		case <-w.ctx.Done():
		}
	}, natsjs.ConsumeErrHandler(func(_ natsjs.ConsumeContext, err error) {
		if !f.off.Load() {
			s.logger.Warn("event watcher", slog.Any("err", err))
		}
	}),
		// nats.go's defaults (30 s requests, heartbeats every 15 s) left
		// surviving nodes without events for 10 s and more after the
		// stream leader was killed; these bound its own recovery to
		// about 2 s.
		natsjs.PullExpiry(5*time.Second), natsjs.PullHeartbeat(time.Second))
	if err != nil {
		return nil, fmt.Errorf("jetstream: watch %s: %w", s.streamName, err)
	}
	return f, nil
}

// drop stops counting f's messages, and stops f and deletes its consumer
// in the background: Stop waits for a recovery loop that may never end
// (see the top of the file), and the connection's Close ends what is
// left.
func (s *Store) drop(f *feed) {
	if f.off.Swap(true) {
		return
	}
	go func() {
		f.cc.Stop()
		if info := f.cons.CachedInfo(); info != nil && !s.closed.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			_ = s.js.DeleteConsumer(ctx, s.streamName, info.Name)
		}
	}()
}

// swap makes f w's feed and drops the one before.
func (s *Store) swap(w *watcher, f *feed) {
	w.mu.Lock()
	old := w.feed
	w.feed = f
	w.mu.Unlock()
	s.drop(old)
}

// watchLoop hands the consumer's messages to the watchers, as many at a
// time as have arrived, each sequence number once.
func (s *Store) watchLoop(w *watcher) {
	defer w.done.Done()
	batch := make([]*eventing.Event, 0, watchBatch)
	for {
		var m natsjs.Msg
		select {
		case m = <-w.msgs:
		case <-w.ctx.Done():
			return
		}
		batch = batch[:0]
		last := w.last.Load()
		for {
			if ev := s.decodeMsg(m); ev != nil && ev.Seq > last {
				batch = append(batch, ev)
				last = ev.Seq
			}
			if len(batch) == watchBatch {
				break
			}
			select {
			case m = <-w.msgs:
				continue
			default:
			}
			break
		}
		if len(batch) == 0 {
			continue
		}
		w.last.Store(last)
		w.moved.Store(s.clock.Now().UnixNano())
		s.advanceHead(last)
		evs := make([]*eventing.Event, len(batch))
		copy(evs, batch)
		s.watchMu.RLock()
		for _, fn := range s.watchers {
			fn(evs)
		}
		s.watchMu.RUnlock()
	}
}

// guardWatch replaces w's consumer whenever it has delivered nothing for
// s.watchStall while the stream holds events after w.last, and keeps it
// on the stream leader.
func (s *Store) guardWatch(w *watcher) {
	defer w.done.Done()
	nextPlace := s.clock.Now()
	for eventing.Sleep(w.ctx, s.clock, watchCheckEvery) {
		if s.stalled(w) {
			continue
		}
		if now := s.clock.Now(); !now.Before(nextPlace) {
			nextPlace = now.Add(placeEvery)
			if err := s.place(w); err != nil && w.ctx.Err() == nil {
				s.logger.Debug("event watcher placement", slog.Any("err", err))
			}
		}
	}
}

// stalled replaces w's consumer, and reports true, when it has delivered
// nothing for s.watchStall while the stream holds events after w.last.
func (s *Store) stalled(w *watcher) bool {
	last := w.last.Load()
	since := s.clock.Now().Sub(time.Unix(0, w.moved.Load()))
	if since < s.watchStall {
		return false
	}
	head, err := s.streamLast(w.ctx)
	if err != nil || head <= last || w.last.Load() != last {
		return false // no answer (the next look asks again), caught up, or moving
	}
	s.logger.Warn("event watcher stalled; replacing its consumer",
		slog.Uint64("last", last), slog.Uint64("stream_last", head), slog.Duration("stalled", since))
	w.mu.Lock()
	old := w.feed
	w.mu.Unlock()
	// Its messages stop counting at once: the next look tries again if
	// the new one cannot be made now.
	s.drop(old)
	ctx, cancel := context.WithTimeout(w.ctx, requestTimeout)
	defer cancel()
	f, err := s.startFeed(ctx, w, last+1)
	if err != nil {
		s.logger.Warn("event watcher not replaced; trying again", slog.Any("err", err))
		return true
	}
	s.swap(w, f)
	w.moved.Store(s.clock.Now().UnixNano()) // the new one gets a full WatchStall
	w.replaced.Add(1)
	return true
}

// streamLast asks the stream's leader for its last sequence number (at
// least this Store's own last append).
func (s *Store) streamLast(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, streamRequestTimeout)
	defer cancel()
	info, err := s.events.Info(ctx)
	if err != nil {
		return 0, err
	}
	return max(info.State.LastSeq, s.head.Load()), nil
}

// place moves w's feed to a consumer on the stream leader if it is not on
// one, trying at most placeTries new consumers.
func (s *Store) place(w *watcher) error {
	ctx, cancel := context.WithTimeout(w.ctx, requestTimeout)
	defer cancel()
	info, err := s.events.Info(ctx)
	if err != nil {
		return err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) == 0 {
		return nil // one replica: every consumer is on the leader
	}
	leader := info.Cluster.Leader
	w.mu.Lock()
	cur := w.feed
	w.mu.Unlock()
	if on, err := onServer(ctx, cur, leader); err != nil || on {
		return err
	}
	for range placeTries {
		f, err := s.startFeed(ctx, w, w.last.Load()+1)
		if err != nil {
			return err
		}
		if on, err := onServer(ctx, f, leader); err != nil || !on {
			s.drop(f)
			if err != nil {
				return err
			}
			continue
		}
		s.swap(w, f)
		return nil
	}
	return nil
}

// onServer reports whether f's consumer is on the named server.
func onServer(ctx context.Context, f *feed, server string) (bool, error) {
	ci, err := f.cons.Info(ctx)
	if err != nil {
		return false, err
	}
	return ci.Cluster != nil && ci.Cluster.Leader == server, nil
}

func (s *Store) decodeMsg(m natsjs.Msg) *eventing.Event {
	meta, err := m.Metadata()
	if err != nil {
		s.logger.Error("event without metadata", slog.Any("err", err))
		return nil
	}
	ev, err := eventcodec.Decode(meta.Sequence.Stream, m.Data())
	if err != nil {
		s.logger.Error("undecodable event", slog.Uint64("seq", meta.Sequence.Stream), slog.Any("err", err))
		return nil
	}
	return ev
}

// stopWatch ends w's loop and guard, and drops its feed.
func (s *Store) stopWatch(w *watcher) {
	w.quit()
	w.done.Wait()
	w.mu.Lock()
	f := w.feed
	w.mu.Unlock()
	s.drop(f)
}

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

// defaultWatchStall is Options.WatchStall's default: longer than the
// ordered consumer's own recovery (heartbeats every second, a reset
// after two are missed) takes when it works.
const defaultWatchStall = 5 * time.Second

// watchCheckEvery is how often the guard looks.
const watchCheckEvery = time.Second

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

	mu sync.Mutex
	cc natsjs.ConsumeContext
	// gen is the generation of the consumer whose messages count; a
	// replaced one's are dropped.
	gen atomic.Uint64
	// last is the sequence number of the last event handed to the
	// watchers; moved is when it last moved, on the Store's clock.
	last  atomic.Uint64
	moved atomic.Int64
	// replaced counts the consumers the guard replaced (for tests).
	replaced atomic.Int64
}

// watchBatch caps how many events one watcher call carries.
const watchBatch = 1024

// startWatch starts reading the stream at sequence number from.
func (s *Store) startWatch(ctx context.Context, from uint64) (*watcher, error) {
	w := &watcher{msgs: make(chan natsjs.Msg, 4*watchBatch)}
	w.ctx, w.quit = context.WithCancel(context.Background())
	w.last.Store(from - 1)
	w.moved.Store(s.clock.Now().UnixNano())
	cc, err := s.consume(ctx, w, w.gen.Load(), from)
	if err != nil {
		w.quit()
		return nil, err
	}
	w.cc = cc
	w.done.Add(2)
	go s.watchLoop(w)
	go s.guardWatch(w)
	return w, nil
}

// consume makes a new ordered consumer from sequence number from whose
// messages go to w's loop while w's generation is gen.
func (s *Store) consume(ctx context.Context, w *watcher, gen, from uint64) (natsjs.ConsumeContext, error) {
	cons, err := s.js.OrderedConsumer(ctx, s.streamName, natsjs.OrderedConsumerConfig{
		DeliverPolicy: natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: watch %s: %w", s.streamName, err)
	}
	cc, err := cons.Consume(func(m natsjs.Msg) {
		if w.gen.Load() != gen {
			return // replaced: its successor delivers from where the loop is
		}
		select {
		case w.msgs <- m:
		case <-w.ctx.Done():
		}
	}, natsjs.ConsumeErrHandler(func(_ natsjs.ConsumeContext, err error) {
		if w.gen.Load() == gen {
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
	return cc, nil
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
// s.watchStall while the stream holds events after w.last.
func (s *Store) guardWatch(w *watcher) {
	defer w.done.Done()
	for eventing.Sleep(w.ctx, s.clock, watchCheckEvery) {
		last := w.last.Load()
		if s.clock.Now().Sub(time.Unix(0, w.moved.Load())) < s.watchStall {
			continue
		}
		head, err := s.streamLast(w.ctx)
		if err != nil || head <= last || w.last.Load() != last {
			continue // no answer (the next look asks again), caught up, or moving
		}
		s.logger.Warn("event watcher stalled; replacing its consumer",
			slog.Uint64("last", last), slog.Uint64("stream_last", head),
			slog.Duration("stalled", s.clock.Now().Sub(time.Unix(0, w.moved.Load()))))
		s.replaceConsumer(w, last+1)
	}
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

// replaceConsumer moves w to a new consumer from sequence number from.
// The old one is stopped in the background: its Stop waits for a
// recovery loop that may never end (see the top of the file).
func (s *Store) replaceConsumer(w *watcher, from uint64) {
	gen := w.gen.Add(1)
	ctx, cancel := context.WithTimeout(w.ctx, requestTimeout)
	defer cancel()
	cc, err := s.consume(ctx, w, gen, from)
	if err != nil {
		// The old one's messages are dropped already; the next look
		// tries again.
		s.logger.Warn("event watcher not replaced; trying again", slog.Any("err", err))
		return
	}
	w.mu.Lock()
	old := w.cc
	w.cc = cc
	w.mu.Unlock()
	w.moved.Store(s.clock.Now().UnixNano()) // the new one gets a full WatchStall
	w.replaced.Add(1)
	go old.Stop()
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

// stop ends the loop and the guard, and stops the consumer in the
// background (the connection's Close ends whatever it still waits for).
func (w *watcher) stop() {
	w.quit()
	w.done.Wait()
	w.mu.Lock()
	cc := w.cc
	w.mu.Unlock()
	go cc.Stop()
}

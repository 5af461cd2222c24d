package eventing

import (
	"context"

	"fmt"
	"github.com/beevik/etree"
	"log/slog"
	"strconv"
	"time"
)

// A Description is what an operator sees of a subscription.
type Description struct {
	Subscription *Subscription
	State        *DeliveryState
	// Head is the log's last sequence number.
	Head        uint64
	DeadLetters int
}

// Describe returns a live subscription with its delivery state.
func (s *Service) Describe(ctx context.Context, id string) (*Description, error) {
	sub, err := s.live(ctx, id)
	if err != nil {
		return nil, err
	}
	st, ok, err := s.storedState(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		if st, ok = s.dispatcher.State(id); !ok {
			st = &DeliveryState{Cursor: sub.Start}
		}
	}
	dls, err := s.store.DeadLetters(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Description{Subscription: sub, State: st, Head: s.store.Head(), DeadLetters: len(dls)}, nil
}

// DeadLetters returns a live subscription's dead letters, oldest first.
func (s *Service) DeadLetters(ctx context.Context, id string) ([]*DeadLetter, error) {
	if _, err := s.live(ctx, id); err != nil {
		return nil, err
	}
	return s.store.DeadLetters(ctx, id)
}

// Replay sends a subscription's dead letters that died at or after since
// (all for a zero since) back for delivery, ahead of new events, and
// returns how many.
func (s *Service) Replay(ctx context.Context, id string, since time.Time) (int, error) {
	if _, err := s.live(ctx, id); err != nil {
		return 0, err
	}
	dls, err := s.store.MarkReplay(ctx, id, since)
	if err != nil {
		return 0, err
	}
	s.dispatcher.Replay(id, dls)
	if d := s.dispatcher; d.opts.Partitions > 0 && !d.Holds(PartitionOf(id, d.opts.Partitions)) && len(dls) > 0 {
		// Another node delivers it: rewriting the record reaches that
		// node through the watch, which picks the marked letters up
		// (SubscriptionChanged).
		if _, err := s.store.UpdateSubscription(ctx, id, func(*Subscription) error { return nil }); err != nil {
			return 0, err
		}
	}
	s.logger.Info("dead letters replayed", principalAttr(ctx), slog.String("subscription_id", id), slog.Int("count", len(dls)))
	return len(dls), nil
}

// Pull limits.
const (
	DefaultPullMax = 100
	MaxPullMax     = 1000
	MaxPullWait    = 60 * time.Second
)

// A Pulled batch: events and the cursor to come back with.
type Pulled struct {
	Events []*Event
	Cursor uint64
}

// Element returns the batch as Herald's h:PullResponse element.
func (p *Pulled) Element() *etree.Element {
	resp := etree.NewElement("h:PullResponse")
	resp.CreateAttr("xmlns:h", HeraldNS)
	for _, ev := range p.Events {
		e := resp.CreateElement("h:event")
		e.CreateElement("h:seq").SetText(strconv.FormatUint(ev.Seq, 10))
		e.CreateElement("h:received").SetText(FormatDateTime(ev.Received))
		e.AddChild(ev.Element())
	}
	resp.CreateElement("h:cursor").SetText(strconv.FormatUint(p.Cursor, 10))
	return resp
}

// ParseCursor reads a pull cursor ("" is none).
func ParseCursor(s string) (*uint64, error) {
	if s == "" {
		return nil, nil
	}
	c, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, InvalidMessage(fmt.Sprintf("cursor %q is not a cursor Herald handed out", s))
	}
	return &c, nil
}

// Pull reads the events held for a pull subscription after cursor (nil:
// the stored position), at most max, waiting up to wait for the first one.
// Coming back with a cursor acknowledges every event up to it: the stored
// position moves to it (never back). The same cursor always returns the
// same events (as long as retention has not trimmed them: only events
// behind the stored position can be). The returned cursor is the position
// after the batch: the last event's, or how far the read went.
func (s *Service) Pull(ctx context.Context, id string, cursor *uint64, max int, wait time.Duration) (*Pulled, error) {
	sub, err := s.live(ctx, id)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		max = DefaultPullMax
	}
	max = min(max, MaxPullMax)
	wait = min(max64d(wait, 0), MaxPullWait)
	st, ok := s.dispatcher.State(id)
	if !ok || !s.dispatcher.isPull(id) {
		return nil, InvalidMessage(fmt.Sprintf("subscription %s does not hold its events for pulling (its processor is %s)", id, sub.Processor))
	}
	if stored, ok, err := s.storedState(ctx, id); err != nil {
		return nil, err
	} else if ok {
		// Another node holds it: its position is the stored one. An
		// acknowledgement here reaches that node only as far as the
		// client comes back with the cursor (see README, several nodes).
		st = stored
	}
	after := st.Cursor
	if cursor != nil {
		if head := s.store.Head(); *cursor > head {
			return nil, InvalidMessage(fmt.Sprintf("cursor %d is beyond the log's end (%d)", *cursor, head))
		}
		after = *cursor
		s.dispatcher.AckPull(id, after)
	}
	filter, err := CompileFilter(sub.Filter)
	if err != nil {
		return nil, err
	}
	deadline := s.clock.Now().Add(wait)
	for {
		_, changed := s.dispatcher.Matched()
		out, next, err := s.ReadMatching(ctx, after, max, sub.Topic(), filter)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 || !s.clock.Now().Before(deadline) {
			return &Pulled{Events: out, Cursor: next}, nil
		}
		after = next
		if next < s.store.Head() {
			continue // the read stopped short of the head: read on
		}
		expired := make(chan struct{})
		t := s.clock.AfterFunc(deadline.Sub(s.clock.Now()), func() { close(expired) })
		select {
		case <-changed:
			t.Stop()
		case <-expired:
		case <-ctx.Done():
			t.Stop()
			return &Pulled{Cursor: after}, nil
		case <-s.draining:
			t.Stop()
			return &Pulled{Cursor: after}, nil
		}
	}
}

func max64d(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// ReadMatching reads up to max events after after that match f (and topic,
// when not empty), reading the log (through the topic index for a topic)
// as far as one request should; the returned position is how far it read.
func (s *Service) ReadMatching(ctx context.Context, after uint64, max int, topic string, f Filter) ([]*Event, uint64, error) {
	var out []*Event
	// Bound the work of one request: a filter that matches little makes
	// the client come back with the cursor of how far the read went.
	for budget := 16; ; budget-- {
		evs, through, err := s.store.ReadEvents(ctx, after, max, topic)
		if err != nil {
			return nil, after, err
		}
		for _, ev := range evs {
			if ok, err := f.Match(ev); ok && err == nil { // TODO(budget): a filter stopped by its budget is no match; report it
				out = append(out, ev)
				if len(out) == max {
					return out, ev.Seq, nil
				}
			}
		}
		if len(evs) < max || through <= after || budget == 0 {
			return out, through, nil
		}
		after = through
	}
}

// Head returns the position of the last event in the log.
func (s *Service) Head() uint64 { return s.store.Head() }

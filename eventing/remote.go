package eventing

import (
	"context"
	"log/slog"
	"reflect"
)

// Changes made by other nodes. On a store shared by several Herald nodes,
// a subscription created, renewed, replaced or deleted through one node
// reaches the others through the store's watch of its subscriptions
// (store/jetstream's WatchSubscriptions), which calls SubscriptionChanged.
// A node's own changes come back the same way and change nothing but the
// parsed endpoint, which is parsed again at the next delivery.

// SubscriptionChanged applies a stored subscription's new record (sub), or
// its deletion (sub nil), to this node's dispatcher. Calls come one at a
// time (the watch's goroutine), after NewService. A deleted one is
// removed without a SubscriptionEnd: the node that deleted it sent any.
func (s *Service) SubscriptionChanged(ctx context.Context, id string, sub *Subscription) {
	if sub == nil {
		s.dispatcher.Remove(id)
		return
	}
	unlock := s.lock(id)
	defer unlock()
	defer s.pickUpReplays(ctx, id)
	cur := s.dispatcher.record(id)
	if cur != nil && cur.Processor == sub.Processor && reflect.DeepEqual(cur.Filter, sub.Filter) {
		// A renewal, or a new endpoint for the same filter (a repeated
		// Subscribe): the record is replaced and the endpoint parsed
		// again from the store at the next delivery.
		s.dispatcher.Update(sub)
		s.dispatcher.forgetEndpoint(id)
		return
	}
	f, err := CompileFilter(sub.Filter)
	if err == nil {
		err = ProbeFilter(f)
	}
	if err != nil {
		s.logger.Error("a subscription made on another node has a filter this node refuses; it is not delivered here",
			slog.String("subscription_id", id), slog.Any("err", err))
		s.dispatcher.Remove(id)
		return
	}
	ep := s.storedEndpoint(ctx, sub, s.pullProcs, s.dispatcher.endpoints)
	if cur == nil {
		s.dispatcher.Add(sub, f, ep)
		return
	}
	s.dispatcher.Replace(sub, f, ep)
}

// record returns the dispatcher's copy of subscription id (nil if absent).
func (d *Dispatcher) record(id string) *Subscription {
	s := d.state(id)
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sub
}

// forgetEndpoint drops the parsed endpoint of subscription id, if it is
// lazy, so that the next delivery parses the stored record again.
func (d *Dispatcher) forgetEndpoint(id string) {
	s := d.state(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	l, ok := s.endpoint.(*lazyEndpoint)
	s.mu.Unlock()
	if ok {
		l.mu.Lock()
		l.ep = nil
		l.mu.Unlock()
	}
}

// pickUpReplays queues the dead letters of subscription id that an
// operator marked for replay through another node, if this node delivers
// it (Replay rewrites the record so that the change reaches it).
func (s *Service) pickUpReplays(ctx context.Context, id string) {
	d := s.dispatcher
	if d.opts.Partitions == 0 || !d.Holds(PartitionOf(id, d.opts.Partitions)) {
		return
	}
	dls, err := s.store.DeadLetters(ctx, id)
	if err != nil {
		s.logger.Warn("cannot read the dead letters of a changed subscription", slog.String("subscription_id", id), slog.Any("err", err))
		return
	}
	var replay []*DeadLetter
	for _, dl := range dls {
		if dl.Replay {
			replay = append(replay, dl)
		}
	}
	if len(replay) > 0 {
		d.Replay(id, replay)
	}
}

package eventing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing/access"
)

// The states of a subscription in an operator's list.
const (
	// SubscriptionOK: caught up, nothing waits (a pull subscription is
	// always ok: its events wait for its client by design).
	SubscriptionOK = "ok"
	// SubscriptionBehind: events wait for delivery, or are still to be
	// read from the log.
	SubscriptionBehind = "behind"
	// SubscriptionFailing: the last delivery attempt failed.
	SubscriptionFailing = "failing"
	// SubscriptionExpired: the lease ended; the sweeper reclaims it.
	SubscriptionExpired = "expired"
)

// SubscriptionStates lists the states of SubscriptionQuery.State.
var SubscriptionStates = []string{SubscriptionOK, SubscriptionBehind, SubscriptionFailing, SubscriptionExpired}

// A SubscriptionQuery selects one page of the subscriptions, newest first.
type SubscriptionQuery struct {
	// Topic keeps the subscriptions whose topic filter's topic matches
	// this topic pattern (access.Pattern: a topic, or acc.*, acc.>); ""
	// keeps all.
	Topic string
	// Processor keeps those of one processor (a name or alias); "" all.
	Processor string
	// State keeps those in one of SubscriptionStates; "" all.
	State string
	// After is the Next of the previous page ("" for the first).
	After string
	// Limit is the page's size (50; at most 500).
	Limit int
}

// A SubscriptionRow is one subscription in a page.
type SubscriptionRow struct {
	Subscription *Subscription
	// State is one of SubscriptionStates.
	State string
	// Cursor is the delivery position; Queued the events waiting in
	// memory (not those still to be read from the log), Replaying the
	// dead letters sent back.
	Cursor            uint64
	Queued, Replaying int
	// Failures counts consecutive failed attempts; NextAttempt is when
	// the next one is due (zero: now or none).
	Failures    int
	NextAttempt time.Time
}

// A SubscriptionPage is one page of subscriptions.
type SubscriptionPage struct {
	Rows []SubscriptionRow
	// Next is the After of the next page, "" on the last one.
	Next string
	// Matching counts the subscriptions the query selects, Total all.
	Matching, Total int
}

// Page returns one page of the subscriptions the dispatcher holds, newest
// first (by creation, then id), at now. A page costs one pass over the
// subscriptions, without sorting or copying them: the page keeps the
// Limit best rows it has seen. Malformed queries are errors that say why.
func (d *Dispatcher) Page(q SubscriptionQuery, now time.Time) (*SubscriptionPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	var topic access.Pattern
	if t := strings.TrimSpace(q.Topic); t != "" {
		p, err := access.ParsePattern(t)
		if err != nil {
			return nil, err
		}
		topic = p
	}
	processor := ""
	if p := strings.TrimSpace(q.Processor); p != "" {
		name, ok := CanonicalProcessor(p)
		if !ok {
			return nil, fmt.Errorf("no processor %q", p)
		}
		processor = name
	}
	if q.State != "" && !slices.Contains(SubscriptionStates, q.State) {
		return nil, fmt.Errorf("state %q is not one of %s", q.State, strings.Join(SubscriptionStates, ", "))
	}
	var after *pageKey
	if q.After != "" {
		k, err := parsePageKey(q.After)
		if err != nil {
			return nil, err
		}
		after = &k
	}
	// The states are snapshotted under the read lock, then examined
	// without it, so that a page never holds up subscribing or matching.
	// A topic query reads the topic index (each topic matched once) and
	// the pull subscriptions, which the index leaves out.
	d.mu.RLock()
	total := len(d.subs)
	var all []*subState
	if topic != "" {
		d.byTopic.each(func(t string, set []*subState) {
			if topic.Match(t) {
				all = append(all, set...)
			}
		})
		for _, s := range d.subs {
			if s.pull { // immutable
				all = append(all, s)
			}
		}
	} else {
		all = make([]*subState, 0, len(d.subs))
		for _, s := range d.subs {
			all = append(all, s)
		}
	}
	d.mu.RUnlock()
	matched := d.matched.Load()
	page := &SubscriptionPage{Total: total}
	var best []pageEntry // sorted, at most Limit+1
	for _, s := range all {
		s.mu.Lock()
		sub := s.sub
		if s.removed ||
			(processor != "" && sub.Processor != processor) ||
			(topic != "" && (sub.Topic() == "" || !topic.Match(sub.Topic()))) {
			s.mu.Unlock()
			continue
		}
		row := SubscriptionRow{
			Subscription: sub, Cursor: s.cursor(matched), Queued: s.queue.len(), Replaying: len(s.replay),
			Failures: int(s.failures), NextAttempt: s.retry.next,
		}
		if len(s.replay) > 0 {
			row.NextAttempt = s.replayRetry.next
		}
		switch {
		case sub.Expired(now):
			row.State = SubscriptionExpired
		case s.failures > 0:
			row.State = SubscriptionFailing
		case !s.pull && (s.queue.len() > 0 || len(s.replay) > 0 || !s.live):
			row.State = SubscriptionBehind
		default:
			row.State = SubscriptionOK
		}
		s.mu.Unlock()
		if q.State != "" && row.State != q.State {
			continue
		}
		k := pageKey{sub.Created.UnixNano(), sub.ID}
		if after != nil && !after.before(k) {
			continue
		}
		page.Matching++
		if len(best) > q.Limit && !k.before(best[len(best)-1].key) {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, k, func(e pageEntry, k pageKey) int { return e.key.compare(k) })
		best = slices.Insert(best, i, pageEntry{k, row})
		if len(best) > q.Limit+1 {
			best = best[:q.Limit+1]
		}
	}
	if len(best) > q.Limit {
		best = best[:q.Limit]
		page.Next = best[len(best)-1].key.String()
	}
	page.Rows = make([]SubscriptionRow, len(best))
	for i, e := range best {
		page.Rows[i] = e.row
	}
	return page, nil
}

type pageEntry struct {
	key pageKey
	row SubscriptionRow
}

// pageKey orders subscriptions newest first, then by id.
type pageKey struct {
	created int64
	id      string
}

func (k pageKey) compare(o pageKey) int {
	switch {
	case k.created > o.created:
		return -1
	case k.created < o.created:
		return 1
	}
	return strings.Compare(k.id, o.id)
}

// before reports whether k comes before o in a page.
func (k pageKey) before(o pageKey) bool { return k.compare(o) < 0 }

func (k pageKey) String() string { return strconv.FormatInt(k.created, 10) + "~" + k.id }

func parsePageKey(s string) (pageKey, error) {
	c, id, ok := strings.Cut(s, "~")
	n, err := strconv.ParseInt(c, 10, 64)
	if !ok || err != nil || id == "" {
		return pageKey{}, fmt.Errorf("%q is not a page position Herald handed out", s)
	}
	return pageKey{n, id}, nil
}

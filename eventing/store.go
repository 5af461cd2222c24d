package eventing

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) by a Store for a subscription that does
// not exist.
var ErrNotFound = errors.New("not found")

// A Store persists what Herald must not forget. store.DB implements it on
// bbolt; its parts are small interfaces so a second backend can come later.
type Store interface {
	SubscriptionStore
	EventLog
	StateStore
	DeadLetterStore
	SettingStore
}

// SubscriptionStore persists subscriptions. Each method is one atomic
// transaction.
type SubscriptionStore interface {
	// CreateSubscription stores s. If s.Key is not empty and a
	// subscription with the same key exists, it stores nothing and
	// returns that subscription; otherwise it returns nil.
	//
	// A backend that other nodes also write (JetStream) stores s with a
	// pending DeliveryState at s.Start, in the same transaction (see
	// StateStore): a flush of the node that delivers s may raise the
	// matched-through position past Start before it learns of s. A
	// backend that only this process writes (bbolt) need not: the
	// Service that creates s holds that position at or below s.Start
	// until its dispatcher has s (Dispatcher.HoldThrough), so s's
	// position is Start until its first flush, from its record alone.
	CreateSubscription(ctx context.Context, s *Subscription) (existing *Subscription, err error)
	// Subscription returns the subscription id, or an error wrapping
	// ErrNotFound.
	Subscription(ctx context.Context, id string) (*Subscription, error)
	// UpdateSubscription applies fn to the stored subscription and stores
	// the result, atomically; fn's error aborts. ErrNotFound if absent.
	UpdateSubscription(ctx context.Context, id string, fn func(*Subscription) error) (*Subscription, error)
	// DeleteSubscription removes the subscription with its delivery
	// state, dead letters and indexes and returns it; ErrNotFound if
	// absent. A backend that removed the record but failed on what it
	// owns returns the record and the error: the subscription is gone.
	DeleteSubscription(ctx context.Context, id string) (*Subscription, error)
	// Subscriptions calls fn for every stored subscription.
	Subscriptions(ctx context.Context, fn func(*Subscription) error) error
}

// SubscriptionLoader is implemented by a SubscriptionStore that can load
// its subscriptions at start faster than Subscriptions does, by decoding
// only what the dispatcher keeps of them. A Service starting on a store
// that implements it loads through it.
type SubscriptionLoader interface {
	// SubscriptionCount returns about how many subscriptions are stored
	// (a hint to size the dispatcher's indexes by; it may be off).
	SubscriptionCount(ctx context.Context) (int, error)
	// LoadSubscriptions calls fn for every stored subscription, in one
	// read, with its record trimmed as Subscription.Trim trims it
	// (without Message, Secret, EndTo and Key: a lazy endpoint reads the
	// whole record back on first delivery). full
	// decodes the whole record; it may be called only during fn.
	LoadSubscriptions(ctx context.Context, fn func(trimmed *Subscription, full func() (*Subscription, error)) error) error
}

// EventLog is the durable, ordered log of accepted events.
type EventLog interface {
	// Append makes m durable as the next event and returns it. Concurrent
	// calls share one disk flush (group commit).
	Append(ctx context.Context, m *Message, received time.Time) (*Event, error)
	// Head returns the sequence number of the last appended event (0 when
	// the log is empty).
	Head() uint64
	// ReadEvents returns up to max events with a sequence number greater
	// than after, in order: all of them, or, when topic is not empty,
	// those of that topic (through a topic index, without reading the
	// others). through is the position the read covered: the last event
	// returned, or the log's head when the read reached it.
	ReadEvents(ctx context.Context, after uint64, max int, topic string) (events []*Event, through uint64, err error)
	// Watch registers fn to be called after every commit with the events
	// it made durable, in log order, from the log's single writer. fn must
	// not block.
	Watch(fn func([]*Event))
	// Trim deletes the events up to and including through that were
	// received before before, and returns how many it deleted.
	Trim(ctx context.Context, through uint64, before time.Time) (int, error)
}

// DeliveryState is what the Dispatcher keeps per subscription across
// restarts. Only a subscription that received, or is retrying, an event
// writes one: an idle subscription's position is the store's matched-through
// position (see StateStore).
type DeliveryState struct {
	// Cursor: every event up to and including it that matches the
	// subscription has been delivered (or dead-lettered).
	Cursor uint64 `json:"cursor"`
	// Pending marks a subscription with work pending at Cursor (events
	// queued or retrying, a log still to read, a pull client's position):
	// its Cursor is its position. Without Pending, the position is the
	// larger of Cursor and the matched-through position.
	Pending bool `json:"pending,omitempty"`
	// Attempts made for the event after the cursor, and when the next
	// one is due (zero: now).
	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// ReplaySeq is the replayed dead letter being retried, with its own
	// attempts and next attempt (zero when none is).
	ReplaySeq      uint64    `json:"replay_seq,omitempty"`
	ReplayAttempts int       `json:"replay_attempts,omitempty"`
	ReplayNext     time.Time `json:"replay_next,omitzero"`
	// Failures counts consecutive failed attempts since FailingSince.
	Failures     int       `json:"failures,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Log holds the last attempts, oldest first. Saving a state whose Log
	// is nil keeps the stored log.
	Log []Attempt `json:"log"`
}

// Position returns the subscription's delivery position given the store's
// matched-through position: Cursor when work is pending, else the larger
// of the two.
func (st *DeliveryState) Position(through uint64) uint64 {
	if st.pending() {
		return st.Cursor
	}
	return max(st.Cursor, through)
}

// pending reports whether the state's cursor is its own position. A state
// written before Pending existed, with a retry under way, counts as
// pending too.
func (st *DeliveryState) pending() bool {
	return st.Pending || st.Attempts > 0 || !st.NextAttempt.IsZero()
}

// An Attempt is one delivery attempt in a subscription's delivery log.
type Attempt struct {
	Time    time.Time     `json:"time"`
	Seq     uint64        `json:"seq"`
	OK      bool          `json:"ok"`
	Status  int           `json:"status,omitempty"`
	Latency time.Duration `json:"latency"`
	Error   string        `json:"error,omitempty"`
}

// StateStore persists delivery state. Its writes are proportional to what
// changed: one matched-through position covers every subscription with
// nothing pending, so a flush writes that position plus the states of the
// subscriptions that received or are retrying an event, never one record
// per subscription.
type StateStore interface {
	// DeliveryStates returns the stored matched-through position (0 when
	// none was saved) and the stored state of every subscription that has
	// one.
	DeliveryStates(ctx context.Context) (through uint64, states map[string]*DeliveryState, err error)
	// SaveDeliveryStates stores the given states, skipping subscriptions
	// that no longer exist (a state with a nil Log keeps the log stored
	// before; a nil state deletes the stored one), and then raises the matched-through position to through
	// (it never moves back). Every event up to through that matched a
	// subscription without a Pending state has been delivered to it, so a
	// backend that cannot write them in one transaction (bbolt does) must
	// make the states durable before the position. It may be called again
	// with the same arguments after an error.
	SaveDeliveryStates(ctx context.Context, through uint64, states map[string]*DeliveryState) error
}

// A DeadLetter is an event whose delivery schedule was exhausted.
type DeadLetter struct {
	Seq      uint64    `json:"seq"`
	Received time.Time `json:"received"`
	Message  Message   `json:"message"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
	// Time is when the event died.
	Time time.Time `json:"time"`
	// Replay marks a dead letter an operator sent back for delivery; it
	// is deleted once delivered, or dies again.
	Replay bool `json:"replay,omitempty"`
}

// Event returns the dead letter's event.
func (dl *DeadLetter) Event() *Event { return NewEvent(dl.Seq, dl.Received, dl.Message) }

// DeadLetterStore keeps dead letters per subscription, keyed by sequence
// number.
type DeadLetterStore interface {
	// AddDeadLetter stores dl (replacing one with the same sequence
	// number); ErrNotFound when the subscription is gone.
	AddDeadLetter(ctx context.Context, id string, dl *DeadLetter) error
	// DeadLetters returns the dead letters of id, oldest first.
	DeadLetters(ctx context.Context, id string) ([]*DeadLetter, error)
	// MarkReplay marks for replay the dead letters of id that died at or
	// after since (all for a zero since) and are not marked yet, and
	// returns them, oldest first.
	MarkReplay(ctx context.Context, id string, since time.Time) ([]*DeadLetter, error)
	// Replaying returns every dead letter marked for replay, by
	// subscription id.
	Replaying(ctx context.Context) (map[string][]*DeadLetter, error)
	// DeleteDeadLetter removes one dead letter (absent is no error).
	DeleteDeadLetter(ctx context.Context, id string, seq uint64) error
}

// SettingStore keeps small named settings (the message endpoint's path).
type SettingStore interface {
	// Setting returns the value of key, "" when unset.
	Setting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
}

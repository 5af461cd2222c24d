package eventing

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// A Subscription is stored as the name of its processor plus the XML it was
// made from, so that any processor's endpoints survive a restart without a
// codec of their own: on load the processor parses Message again.
type Subscription struct {
	// ID is "uuid:" followed by a UUIDv7: 74 random bits after the
	// creation time, so that ids stay unguessable while new ones sort
	// last (bbolt appends them instead of splitting random pages: the
	// subscribe rate of issue 12).
	ID string `json:"id"`
	// Processor is the canonical name of the subscription's processor.
	Processor string `json:"processor"`
	// Message is the XML the processor parses (see EndpointRequest.Message).
	Message string `json:"message"`
	// Secret is the signing secret (never shown by any operation or log).
	Secret string `json:"secret,omitempty"`
	// Filter selects the events; nil means every event.
	Filter *FilterSpec `json:"filter,omitempty"`
	// EndTo is the XML of the wse:EndTo endpoint reference, empty when the
	// subscriber gave none (then no SubscriptionEnd is ever sent).
	EndTo string `json:"end_to,omitempty"`
	// Manager is the subscription manager address the subscriber was given.
	Manager string `json:"manager,omitempty"`
	// AddressingNS is the WS-Addressing namespace the subscriber used for
	// its endpoint references; Herald writes its EPRs in it.
	AddressingNS string `json:"addressing_ns,omitempty"`
	// EventingNS is the namespace of the WS-Eventing version the
	// subscription was made in ("" for 2004/08 and for management
	// subscriptions, which answer and end in 2004/08): its
	// notifications, SubscriptionEnd and manager EPR follow it.
	EventingNS string `json:"eventing_ns,omitempty"`
	// Expires is when the lease ends; zero means never.
	Expires time.Time `json:"expires,omitzero"`
	// Created is when the subscription was made.
	Created time.Time `json:"created"`
	// Start is the log position at creation: the subscription receives
	// the events after it.
	Start uint64 `json:"start"`
	// Key identifies "the same endpoint and filter" for subscriptions made
	// through the management operation, which returns the existing
	// subscription for a repeated request; empty for WS-Eventing
	// subscriptions, each of which is new.
	Key string `json:"key,omitempty"`
	// Owner is the ID of the principal that made the subscription (its
	// API key's random id, not its name); empty when authorization was
	// off. Only the owner
	// and admins may see or manage it.
	Owner string `json:"owner,omitempty"`
}

// Trim drops from s what matching and delivery never read in memory: the
// Message (read back from the store to parse the endpoint), the Secret
// (the endpoint holds it), the EndTo and the identity Key (SubscriptionEnd
// and deduplication read the stored record). Together they are most of a
// record's bytes. The dispatcher keeps its subscriptions trimmed, and a
// SubscriptionLoader loads them so.
func (s *Subscription) Trim() {
	s.Message, s.Secret, s.EndTo, s.Key = "", "", "", ""
}

// Version returns the WS-Eventing version of the subscription (V200408
// unless it was made in 2011).
func (s *Subscription) Version() Version {
	if v := VersionOf(s.EventingNS); v != VersionNone {
		return v
	}
	return V200408
}

// Expired reports whether the lease has ended at now.
func (s *Subscription) Expired(now time.Time) bool {
	return !s.Expires.IsZero() && !now.Before(s.Expires)
}

// Topic returns the topic of a topic filter, "" for any other filter.
func (s *Subscription) Topic() string {
	if s.Filter != nil && s.Filter.Dialect == DialectTopic {
		return s.Filter.Expression
	}
	return ""
}

// LogValue keeps secrets and raw XML out of logs.
func (s *Subscription) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID), slog.String("processor", s.Processor))
}

// Clone returns a copy whose fields can be changed independently.
func (s *Subscription) Clone() *Subscription {
	c := *s
	if s.Filter != nil {
		f := *s.Filter
		c.Filter = &f
	}
	return &c
}

func newSubscriptionID() string { return "uuid:" + uuid.Must(uuid.NewV7()).String() }

// dedupKey derives the identity of a management subscription: the same
// processor, endpoint and filter give the same key.
func dedupKey(processor, endpointKey string, f *FilterSpec) string {
	// One pass over a stack buffer (sha256.Sum256, hex into an array):
	// every subscribe derives a key, and the stored keys must not change,
	// so this is the digest of processor, 0, endpointKey, 0 and the
	// filter's canonical form (TestDedupKey_Stable).
	buf := make([]byte, 0, 512)
	buf = append(buf, processor...)
	buf = append(buf, 0)
	buf = append(buf, endpointKey...)
	buf = append(buf, 0)
	if f != nil {
		buf = f.appendCanonical(buf)
	}
	sum := sha256.Sum256(buf)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// notificationNS is the name space for MessageIDs of notifications
// (UUIDv5 of subscription id and sequence number).
var notificationNS = uuid.MustParse("6f1f2c5e-3f0a-5d4e-9b7a-2d1c0e8f4a11")

// MessageID returns the stable MessageID of the notification of event seq
// to subscription id.
func MessageID(id string, seq uint64) string {
	var b [8]byte
	for i := range 8 {
		b[i] = byte(seq >> (56 - 8*i))
	}
	return "urn:uuid:" + uuid.NewSHA1(notificationNS, append([]byte(id+"\x00"), b[:]...)).String()
}

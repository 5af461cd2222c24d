// Package access says who may do what in Herald: principals (an API key's
// holder), their roles (admin, subscriber, publisher), the topic patterns a
// key may be restricted to, and the keyring that turns a presented key into
// a principal.
//
// # Keys
//
// A key is 32 random bytes (256 bits), written as "hk_" and 43 base64url
// characters. It is shown once, when it is created; Herald stores only its
// SHA-256 hash. A slow password hash (bcrypt, argon2) protects guessable
// secrets; a 256-bit random key cannot be guessed, so a fast hash is as safe
// and keeps authentication at a fraction of a microsecond per request.
//
// # Topic patterns
//
// A pattern is a dot-separated topic in which "*" matches exactly one
// segment and a final ">" matches one or more further segments, as in NATS
// subjects: "acc.*" matches "acc.x" but neither "acc" nor "acc.x.y";
// "acc.>" matches both "acc.x" and "acc.x.y". A key without patterns is
// unrestricted.
package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A Role is what a principal may do.
type Role string

// The roles.
const (
	// Admin may do everything: manage keys, move the message endpoint,
	// cancel and inspect any subscription, publish on any topic but
	// Herald's own.
	Admin Role = "admin"
	// Subscriber may subscribe (to its key's topics) and manage its own
	// subscriptions.
	Subscriber Role = "subscriber"
	// Publisher may publish events (on its key's topics).
	Publisher Role = "publisher"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Admin, Subscriber, Publisher:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: admin, subscriber or publisher", s)
}

// ReservedPrefix starts the topics only Herald publishes on (its operator
// events, such as herald.subscription.ended).
const ReservedPrefix = "herald."

// Reserved reports whether topic is one of Herald's own.
func Reserved(topic string) bool {
	return topic == "herald" || strings.HasPrefix(topic, ReservedPrefix)
}

// A Principal is the authenticated holder of a key.
type Principal struct {
	// Name names the principal (the key's name), in logs and answers.
	Name string
	// ID identifies the principal for good: subscriptions record it as
	// their owner, so that a key made later under a revoked key's name
	// owns nothing of the old one's.
	ID   string
	Role Role
	// Topics restricts the principal to topics matching one of these
	// patterns; none means every topic.
	Topics []Pattern
}

// Restricted reports whether the principal is limited to some topics.
func (p *Principal) Restricted() bool { return len(p.Topics) > 0 }

// IsAdmin reports whether p is an admin.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == Admin }

// AllowsTopic reports whether topic is within the principal's patterns.
func (p *Principal) AllowsTopic(topic string) bool {
	if len(p.Topics) == 0 {
		return true
	}
	for _, pat := range p.Topics {
		if pat.Match(topic) {
			return true
		}
	}
	return false
}

// CanPublish returns nil if p may publish on topic, else a *Denied. Nobody
// publishes on Herald's own topics.
func (p *Principal) CanPublish(topic string) error {
	if Reserved(topic) {
		return Deny("publish", fmt.Sprintf("the topic %q is Herald's own: nobody publishes on %s*", topic, ReservedPrefix))
	}
	if p == nil {
		return nil
	}
	if p.Role != Publisher && p.Role != Admin {
		return Deny("publish", fmt.Sprintf("the %s key %q may not publish", p.Role, p.Name))
	}
	if !p.AllowsTopic(topic) {
		return Deny("publish", fmt.Sprintf("the key %q may not publish on %q (it is limited to %s)", p.Name, topic, p.patterns()))
	}
	return nil
}

// CanSubscribe returns nil if p may subscribe to topic; an empty topic
// means an XPath filter or no filter, allowed only to unrestricted keys.
func (p *Principal) CanSubscribe(topic string) error {
	if p == nil {
		return nil
	}
	if p.Role != Subscriber && p.Role != Admin {
		return Deny("subscribe", fmt.Sprintf("the %s key %q may not subscribe", p.Role, p.Name))
	}
	if topic == "" {
		if p.Restricted() {
			return Deny("subscribe", fmt.Sprintf("the key %q is limited to %s: subscribe with a topic, not an XPath filter or none", p.Name, p.patterns()))
		}
		return nil
	}
	if !p.AllowsTopic(topic) {
		return Deny("subscribe", fmt.Sprintf("the key %q may not subscribe to %q (it is limited to %s)", p.Name, topic, p.patterns()))
	}
	return nil
}

// Owns reports whether p may manage a subscription owned by owner: its own,
// or any for an admin. A nil p (authorization off) may manage everything.
func (p *Principal) Owns(owner string) bool {
	return p == nil || p.Role == Admin || (owner != "" && owner == p.ID)
}

func (p *Principal) patterns() string {
	s := make([]string, len(p.Topics))
	for i, t := range p.Topics {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// A Pattern is a topic pattern ("*" one segment, a final ">" the rest).
type Pattern string

// ParsePattern checks a pattern: non-empty segments, ">" only last.
func ParsePattern(s string) (Pattern, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty topic pattern")
	}
	segs := strings.Split(s, ".")
	for i, seg := range segs {
		switch {
		case seg == "":
			return "", fmt.Errorf("topic pattern %q has an empty segment", s)
		case seg == ">" && i != len(segs)-1:
			return "", fmt.Errorf("topic pattern %q: > may only stand last", s)
		case seg != "*" && seg != ">" && strings.ContainsAny(seg, "*>"):
			return "", fmt.Errorf("topic pattern %q: * and > stand for whole segments", s)
		}
	}
	return Pattern(s), nil
}

// ParsePatterns reads a comma-separated list of patterns ("" is none).
func ParsePatterns(csv string) ([]Pattern, error) {
	var out []Pattern
	for _, f := range strings.Split(csv, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		p, err := ParsePattern(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Match reports whether topic matches the pattern.
func (p Pattern) Match(topic string) bool {
	pat := string(p)
	for {
		seg, rest, more := strings.Cut(pat, ".")
		if seg == ">" {
			return topic != ""
		}
		tseg, trest, tmore := strings.Cut(topic, ".")
		if tseg == "" || (seg != "*" && seg != tseg) {
			return false
		}
		if !more || !tmore {
			return more == tmore
		}
		pat, topic = rest, trest
	}
}

// A Denied error refuses an authenticated principal an operation (HTTP
// 403, a Sender fault in SOAP).
type Denied struct {
	Op     string
	Reason string
}

func (d *Denied) Error() string { return "not allowed: " + d.Reason }

// Deny returns a *Denied.
func Deny(op, reason string) *Denied { return &Denied{Op: op, Reason: reason} }

// ErrUnauthenticated is returned when a request carries no credential, or
// one that is not valid (HTTP 401).
var ErrUnauthenticated = errors.New("authentication required: send an API key (Authorization: Bearer KEY, HTTP Basic with the key as password, or a WS-Security UsernameToken)")

type ctxKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, nil when there is none.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

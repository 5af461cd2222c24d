package webhook

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-eventing/herald/eventing"
)

// SpecVersion is the CloudEvents version of the events Herald sends.
const SpecVersion = "1.0"

// DefaultSource is the source of events whose message has no instanceId.
const DefaultSource = "herald"

// InstanceURNPrefix starts the source of an event whose instanceId is an
// IPv6 address.
const InstanceURNPrefix = "urn:herald:instance:"

// A CloudEvent is the CloudEvents 1.0 event Herald sends for one
// notification in the cloudevents format, as it is written in the JSON
// event format. Receivers may decode deliveries into it.
//
// Herald maps the Cloud42 message onto the context attributes:
//
//   - id is the event's sequence number in Herald's log, in decimal. The
//     same event delivered to several subscriptions has the same id (it is
//     the same occurrence); so does every retry of one delivery.
//   - source is the message's instanceId, or DefaultSource when it has
//     none; characters a URI-reference cannot hold are percent-encoded,
//     and an IPv6 address becomes urn:herald:instance:ADDRESS (percent-
//     encoded it would be a relative reference that reads as a path).
//   - type is the message's topic (control characters, which CloudEvents
//     strings may not hold, replaced by U+FFFD).
//   - time is the message's timestamp when that is an RFC 3339 date-time
//     or in the Cloud42 form (2008-09-30 11:19:10 GMT), else the time
//     Herald accepted the event, in UTC.
//   - data is the whole message as a JSON object (Data).
//
// Two extension attributes identify the delivery: heraldsubscription (the
// subscription id) and heraldmessageid (the notification's MessageID,
// also sent as the webhook-id header).
type CloudEvent struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Time            string `json:"time,omitempty"`
	DataContentType string `json:"datacontenttype"`
	// HeraldSubscription is the subscription the event is delivered for
	// (left out when unknown).
	HeraldSubscription string `json:"heraldsubscription,omitempty"`
	// HeraldMessageID is the notification's stable id (left out when
	// unknown).
	HeraldMessageID string `json:"heraldmessageid,omitempty"`
	Data            Data   `json:"data"`
}

// Data is the data of a CloudEvent: the Cloud42 message's fields, under
// the message's element names. Like the canonical XML of the message,
// it leaves out empty optional fields; topic is always there.
type Data struct {
	Topic      string `json:"topic"`
	InstanceID string `json:"instanceId,omitempty"`
	Timestamp  string `json:"timestamp,omitempty"`
	Text       string `json:"text,omitempty"`
	Info       string `json:"info,omitempty"`
}

// NewCloudEvent returns the CloudEvent for n.
func NewCloudEvent(n *eventing.Notification) *CloudEvent {
	ev := n.Event
	ce := &CloudEvent{
		SpecVersion:     SpecVersion,
		ID:              strconv.FormatUint(ev.Seq, 10),
		Source:          Source(ev.InstanceID),
		Type:            attributeString(ev.Topic),
		Time:            eventTime(ev),
		DataContentType: "application/json",
		HeraldMessageID: attributeString(n.MessageID),
		Data: Data{
			Topic: ev.Topic, InstanceID: ev.InstanceID, Timestamp: ev.Timestamp, Text: ev.Text, Info: ev.Info,
		},
	}
	if n.Subscription != nil {
		ce.HeraldSubscription = attributeString(n.Subscription.ID)
	}
	return ce
}

// JSON returns the event in the CloudEvents JSON format (compact, without
// HTML escaping).
func (ce *CloudEvent) JSON() []byte {
	var b bytes.Buffer
	b.Grow(256 + len(ce.Data.Text) + len(ce.Data.Info))
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Only strings: encoding cannot fail.
	_ = enc.Encode(ce)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// eventTime is the CloudEvent time: the message's own timestamp when it is
// RFC 3339 (normalised, its offset kept), else when Herald accepted the
// event (UTC); "" when neither is known.
func eventTime(ev *eventing.Event) string {
	if ts := strings.TrimSpace(ev.Timestamp); ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return t.Format(time.RFC3339Nano)
		}
		// The Cloud42 form, as the seed's scripts write it:
		// 2008-09-30 11:19:10 GMT (or UTC).
		for _, zone := range []string{" GMT", " UTC"} {
			if v, ok := strings.CutSuffix(ts, zone); ok {
				if t, err := time.ParseInLocation(time.DateTime, v, time.UTC); err == nil {
					return t.Format(time.RFC3339Nano)
				}
			}
		}
	}
	if ev.Received.IsZero() {
		return ""
	}
	return ev.Received.UTC().Format(time.RFC3339Nano)
}

// Source returns the CloudEvents source for an instance id. An IPv6 address
// (bare or in brackets, without a zone) becomes urn:herald:instance:<addr>
// in its canonical form, even where it also happens to parse as a
// URI-reference (fe80::1 would read as scheme "fe80"). Otherwise it is the
// id itself when that is a URI-reference (as plain ids like i-38e24051 are), else the
// id with every character outside the unreserved and sub-delims sets and
// "/" percent-encoded (its valid %XX escapes kept); DefaultSource for an
// empty id.
func Source(instance string) string {
	instance = strings.TrimSpace(instance)
	if instance == "" {
		return DefaultSource
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(instance, "["), "]")); err == nil && a.Is6() && a.Zone() == "" {
		return InstanceURNPrefix + a.String()
	}
	if isURIReference(instance) {
		return instance
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(instance); i++ {
		c := instance[i]
		switch {
		case isUnreserved(c) || isSubDelim(c) || c == '/':
			b.WriteByte(c)
		case c == '%' && i+2 < len(instance) && isHex(instance[i+1]) && isHex(instance[i+2]):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// isURIReference reports whether s is an RFC 3986 URI-reference. It is
// sound, not complete: it refuses IP-literal hosts ([…]), which Source then
// percent-encodes into a valid reference anyway.
func isURIReference(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c) || isSubDelim(c) || strings.IndexByte(":/?#@", c) >= 0:
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	rest, fragment, hasFragment := strings.Cut(s, "#")
	if hasFragment && strings.Contains(fragment, "#") {
		return false
	}
	rest, _, _ = strings.Cut(rest, "?") // query: pchar / "/" / "?", all allowed
	// A colon before the first slash ends a scheme, which must be valid
	// (a relative reference's first segment cannot hold a colon).
	if i := strings.IndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[:i], "/") {
		if !isScheme(rest[:i]) {
			return false
		}
		rest = rest[i+1:]
	}
	authority, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return true // path-absolute, -rootless, -noscheme or -empty
	}
	if i := strings.IndexByte(authority, '/'); i >= 0 {
		authority = authority[:i] // the rest is path-abempty
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		if strings.Contains(authority[:i], "@") {
			return false
		}
		authority = authority[i+1:]
	}
	// reg-name cannot hold a colon: the first one starts the port.
	if _, port, ok := strings.Cut(authority, ":"); ok {
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	return true
}

func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool      { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isHex(c byte) bool        { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }
func isSubDelim(c byte) bool   { return strings.IndexByte("!$&'()*+,;=", c) >= 0 }
func isUnreserved(c byte) bool { return isAlpha(c) || isDigit(c) || strings.IndexByte("-._~", c) >= 0 }

// attributeString returns s with the code points a CloudEvents String may
// not hold (controls U+0000–U+001F and U+007F–U+009F, noncharacters,
// invalid UTF-8) replaced by U+FFFD.
func attributeString(s string) string {
	ok := true
	for _, r := range s {
		if !allowedRune(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !allowedRune(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allowedRune(r rune) bool {
	switch {
	case r == utf8.RuneError: // also what ranging yields for invalid UTF-8
		return false
	case r <= 0x1F, r >= 0x7F && r <= 0x9F:
		return false
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
		return false
	}
	return true
}

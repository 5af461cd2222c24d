package jetstream

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// encodeEvent writes the received time (unix nanoseconds) and the five
// message fields, each length-prefixed: the layout of the bbolt store's
// event records.
func encodeEvent(received time.Time, m *eventing.Message) []byte {
	n := 8 + 5*binary.MaxVarintLen32 + len(m.Topic) + len(m.InstanceID) + len(m.Timestamp) + len(m.Text) + len(m.Info)
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint64(b, uint64(received.UnixNano()))
	for _, f := range []string{m.Topic, m.InstanceID, m.Timestamp, m.Text, m.Info} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

var errCorrupt = errors.New("jetstream: corrupt event record")

func decodeEvent(seq uint64, b []byte) (*eventing.Event, error) {
	if len(b) < 8 {
		return nil, errCorrupt
	}
	received := time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	b = b[8:]
	var f [5]string
	for i := range f {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, errCorrupt
		}
		f[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	return eventing.NewEvent(seq, received, eventing.Message{Topic: f[0], InstanceID: f[1], Timestamp: f[2], Text: f[3], Info: f[4]}), nil
}

// escape maps a free string to one token of a NATS subject or KV key:
// ASCII letters, digits, '-' and '_' stand for themselves, every other
// byte is '=' and two hex digits, and the empty string is "=". The
// mapping is one to one, and its output contains no '.', so a token never
// splits into two.
func escape(s string) string {
	if s == "" {
		return "="
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		const hexDigits = "0123456789ABCDEF"
		b.WriteByte('=')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// maxToken bounds an escaped token; a longer one is replaced by a hash so
// that subjects stay well under the server's control-line limit.
const maxToken = 256

// token returns the subject token or KV key of s: escape(s), or for a
// long s "/" and the hex SHA-256 of s ('/' never comes out of escape, and
// is valid in both subjects and keys). Tokens are never decoded: every
// value Herald stores carries the string it is keyed by.
func token(s string) string {
	if t := escape(s); len(t) <= maxToken {
		return t
	}
	h := sha256.Sum256([]byte(s))
	return "/" + hex.EncodeToString(h[:])
}

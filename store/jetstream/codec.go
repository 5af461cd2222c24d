package jetstream

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

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

package xsd

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// canonical reads a message that is valid by its shape alone, without the
// schema validator: the form publishers' scripts send. It accepts only
//
//   - an optional XML declaration (version 1.0, encoding UTF-8) at the
//     very start, and whitespace before the root;
//   - the root exactly <message xmlns="http://cloud42.jw.de/message"> (the
//     qualified form) or <p:message xmlns:p="http://cloud42.jw.de/message">
//     with a short lower-case prefix (the unqualified form, children without
//     a prefix);
//   - the children topic, instanceId, timestamp, text and info in the
//     schema's order, each at most once, topic first, without attributes,
//     separated by whitespace only;
//   - character data of XML characters, with the predefined entities and
//     character references to XML characters, and no "]]>";
//   - the matching end tag, then whitespace only.
//
// Everything it accepts is well-formed and valid against the schema of its
// form (FuzzCanonical checks this against the validator); anything else,
// valid or not, reports false and takes the validating path.
func canonical(data []byte) (Message, bool) {
	var m Message
	p := data
	for _, decl := range xmlDecls {
		// The declaration, if any, comes first: not even whitespace
		// before it.
		if rest, ok := bytes.CutPrefix(p, decl); ok {
			p = rest
			break
		}
	}
	p = skipSpace(p)
	var end string
	switch {
	case bytes.HasPrefix(p, qualifiedRoot):
		p, end = p[len(qualifiedRoot):], "</message>"
	default:
		prefix, rest, ok := prefixedRoot(p)
		if !ok {
			return m, false
		}
		p, end = rest, "</"+prefix+":message>"
	}
	next := 0 // the index in fields of the next child allowed
	for {
		p = skipSpace(p)
		if rest, ok := bytes.CutPrefix(p, []byte(end)); ok {
			return m, next > 0 && len(skipSpace(rest)) == 0
		}
		if len(p) < 2 || p[0] != '<' {
			return m, false
		}
		i := next
		for i < len(fields) && !bytes.HasPrefix(p[1:], []byte(fields[i])) {
			i++
		}
		if i == len(fields) || (next == 0 && i != 0) {
			return m, false
		}
		name := fields[i]
		p = p[1+len(name):]
		next = i + 1
		var value string
		switch {
		case bytes.HasPrefix(p, []byte("/>")):
			p = p[2:]
		case len(p) > 0 && p[0] == '>':
			v, rest, ok := charData(p[1:])
			if !ok {
				return m, false
			}
			rest, ok = bytes.CutPrefix(rest, []byte("</"+name+">"))
			if !ok {
				return m, false
			}
			value, p = v, rest
		default:
			return m, false
		}
		m.set(name, value)
	}
}

// fields are the message's children in the schema's order.
var fields = [...]string{"topic", "instanceId", "timestamp", "text", "info"}

var (
	qualifiedRoot = []byte(`<message xmlns="` + MessageNamespace + `">`)
	xmlDecls      = [][]byte{
		[]byte(`<?xml version="1.0" encoding="UTF-8"?>`),
		[]byte(`<?xml version="1.0" encoding="utf-8"?>`),
		[]byte(`<?xml version="1.0"?>`),
		[]byte(`<?xml version='1.0' encoding='UTF-8'?>`),
		[]byte(`<?xml version='1.0' encoding='utf-8'?>`),
		[]byte(`<?xml version='1.0'?>`),
	}
)

// prefixedRoot reads <p:message xmlns:p="…message namespace…"> with p of
// one to eight lower-case letters not starting with "xml".
func prefixedRoot(p []byte) (prefix string, rest []byte, ok bool) {
	if len(p) < 2 || p[0] != '<' {
		return "", nil, false
	}
	i := 1
	for i < len(p) && i <= 8 && p[i] >= 'a' && p[i] <= 'z' {
		i++
	}
	prefix = string(p[1:i])
	if prefix == "" || strings.HasPrefix(prefix, "xml") {
		return "", nil, false
	}
	open := ":message xmlns:" + prefix + `="` + MessageNamespace + `">`
	rest, ok = bytes.CutPrefix(p[i:], []byte(open))
	return prefix, rest, ok
}

func skipSpace(p []byte) []byte {
	for len(p) > 0 && isSpace(p[0]) {
		p = p[1:]
	}
	return p
}

// charData reads character data up to the next '<' and returns its value
// with references decoded and line ends normalized as XML does; false for
// anything that is not plain XML character data.
func charData(p []byte) (string, []byte, bool) {
	end := bytes.IndexByte(p, '<')
	if end < 0 {
		return "", nil, false
	}
	raw := p[:end]
	if bytes.Contains(raw, []byte("]]>")) {
		return "", nil, false
	}
	simple := true
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&' || c == '\r':
				simple = false
			case c < 0x20 && c != '\t' && c != '\n':
				return "", nil, false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(raw[i:])
		if !isXMLChar(r) || (r == utf8.RuneError && n == 1) {
			return "", nil, false
		}
		i += n
	}
	if simple {
		return string(raw), p[end:], true
	}
	var b strings.Builder
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, "&\r")
		if i < 0 {
			b.Write(raw)
			break
		}
		b.Write(raw[:i])
		if raw[i] == '\r' {
			b.WriteByte('\n')
			raw = raw[i+1:]
			if len(raw) > 0 && raw[0] == '\n' {
				raw = raw[1:]
			}
			continue
		}
		j := bytes.IndexByte(raw[i:], ';')
		if j < 0 {
			return "", nil, false
		}
		s, ok := entity(string(raw[i+1 : i+j]))
		if !ok {
			return "", nil, false
		}
		if r, _ := utf8.DecodeRuneInString(s); !isXMLChar(r) {
			return "", nil, false
		}
		b.WriteString(s)
		raw = raw[i+j+1:]
	}
	return b.String(), p[end:], true
}

// isXMLChar reports whether r is a Char of XML 1.0.
func isXMLChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	case r < 0x10000:
		return false
	default:
		return r <= 0x10FFFF
	}
}

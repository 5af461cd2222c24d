package xsd

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// extracted is what extract reads: the fields, whether the first child
// element carried a prefix or default namespace (the qualified form), and
// the most attributes, namespace declarations included, that one start tag
// carries.
type extracted struct {
	Message
	qualified bool
	attrs     int
}

// extract reads the fields of a message without building tokens: the
// common path of ParseMessage, where the validator decides validity and
// this only reads the values of a document that has the message's simple
// shape (a root whose children hold text). It reports false for anything
// it does not expect; the caller then takes the full path. It decodes
// character and predefined entity references and CDATA sections, skips
// comments and processing instructions, and normalizes line ends as XML
// does. The form is decided by the first child, like the full path: a
// prefix, or a default namespace declaration on the root or the child,
// means qualified (the validator then checks the namespace itself).
func extract(data []byte) (extracted, bool) {
	var m extracted
	p := data
	skipMisc := func() bool {
		for {
			p = bytes.TrimLeft(p, " \t\r\n")
			switch {
			case bytes.HasPrefix(p, []byte("<?")):
				i := bytes.Index(p, []byte("?>"))
				if i < 0 {
					return false
				}
				p = p[i+2:]
			case bytes.HasPrefix(p, []byte("<!--")):
				i := bytes.Index(p[4:], []byte("-->"))
				if i < 0 {
					return false
				}
				p = p[4+i+3:]
			default:
				return true
			}
		}
	}
	// startTag reads "<name attrs>" at p; it returns the name, whether it
	// declares a default namespace, and whether it is self-closing. It
	// counts the tag's attributes, namespace declarations included, in
	// m.attrs: one '=' outside quotes each, in a well-formed tag.
	startTag := func() (name string, defaultNS, empty, ok bool) {
		if len(p) < 2 || p[0] != '<' || p[1] == '/' || p[1] == '!' || p[1] == '?' {
			return "", false, false, false
		}
		i := 1
		for i < len(p) && !isSpace(p[i]) && p[i] != '>' && p[i] != '/' {
			i++
		}
		name = string(p[1:i])
		var quote byte
		count := 0
		for ; i < len(p); i++ {
			c := p[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '=':
				count++
			case c == '>':
				m.attrs = max(m.attrs, count)
				attrs := p[1+len(name) : i]
				empty = len(attrs) > 0 && attrs[len(attrs)-1] == '/'
				defaultNS = bytes.Contains(attrs, []byte("xmlns=")) || bytes.Contains(attrs, []byte("xmlns ="))
				p = p[i+1:]
				return name, defaultNS, empty, name != ""
			}
		}
		return "", false, false, false
	}
	if !skipMisc() {
		return m, false
	}
	_, rootDefault, empty, ok := startTag()
	if !ok || empty {
		return m, false
	}
	first := true
	for {
		if !skipMisc() {
			return m, false
		}
		if bytes.HasPrefix(p, []byte("</")) {
			i := bytes.IndexByte(p, '>')
			if i < 0 {
				return m, false
			}
			p = p[i+1:]
			if !skipMisc() || len(p) != 0 {
				return m, false
			}
			return m, true
		}
		name, childDefault, empty, ok := startTag()
		if !ok {
			return m, false
		}
		prefix, local, hasPrefix := strings.Cut(name, ":")
		if !hasPrefix {
			local, prefix = prefix, ""
		}
		if first {
			m.qualified = prefix != "" || rootDefault || childDefault
			first = false
		}
		var value string
		if !empty {
			v, ok := text(&p)
			if !ok {
				return m, false
			}
			value = v
		}
		if !m.set(local, value) {
			return m, false
		}
	}
}

// set stores the value of the message's child element local; false for a
// name the message does not have.
func (m *Message) set(local, value string) bool {
	switch local {
	case "topic":
		m.Topic = strings.TrimSpace(value)
	case "instanceId":
		m.InstanceID = value
	case "timestamp":
		m.Timestamp = value
	case "text":
		m.Text = value
	case "info":
		m.Info = value
	default:
		return false
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// text reads character content up to and including the element's end tag.
func text(pp *[]byte) (string, bool) {
	p := *pp
	var b strings.Builder
	for {
		i := bytes.IndexAny(p, "<&\r")
		if i < 0 {
			return "", false
		}
		b.Write(p[:i])
		p = p[i:]
		switch {
		case p[0] == '\r':
			b.WriteByte('\n')
			p = p[1:]
			if len(p) > 0 && p[0] == '\n' {
				p = p[1:]
			}
		case p[0] == '&':
			j := bytes.IndexByte(p, ';')
			if j < 0 {
				return "", false
			}
			r, ok := entity(string(p[1:j]))
			if !ok {
				return "", false
			}
			b.WriteString(r)
			p = p[j+1:]
		case bytes.HasPrefix(p, []byte("<![CDATA[")):
			j := bytes.Index(p, []byte("]]>"))
			if j < 0 {
				return "", false
			}
			cd := p[9:j]
			cd = bytes.ReplaceAll(cd, []byte("\r\n"), []byte("\n"))
			cd = bytes.ReplaceAll(cd, []byte("\r"), []byte("\n"))
			b.Write(cd)
			p = p[j+3:]
		case bytes.HasPrefix(p, []byte("<!--")):
			j := bytes.Index(p[4:], []byte("-->"))
			if j < 0 {
				return "", false
			}
			p = p[4+j+3:]
		case bytes.HasPrefix(p, []byte("<?")):
			j := bytes.Index(p, []byte("?>"))
			if j < 0 {
				return "", false
			}
			p = p[j+2:]
		case bytes.HasPrefix(p, []byte("</")):
			j := bytes.IndexByte(p, '>')
			if j < 0 {
				return "", false
			}
			*pp = p[j+1:]
			s := b.String()
			return s, utf8.ValidString(s)
		default:
			return "", false // an element inside the value: not the message's shape
		}
	}
}

// entity decodes a predefined entity or a character reference.
func entity(name string) (string, bool) {
	switch name {
	case "lt":
		return "<", true
	case "gt":
		return ">", true
	case "amp":
		return "&", true
	case "quot":
		return `"`, true
	case "apos":
		return "'", true
	}
	if rest, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if r, ok := strings.CutPrefix(rest, "x"); ok {
			rest, base = r, 16
		}
		n, err := strconv.ParseUint(rest, base, 32)
		if err != nil || !utf8.ValidRune(rune(n)) {
			return "", false
		}
		return string(rune(n)), true
	}
	return "", false
}

package soap

import (
	"bytes"

	"github.com/beevik/etree"
)

// fastTree reads the documents most requests are (ASCII; no entity or
// character references, CDATA, processing instructions, declarations or
// carriage returns; comments allowed) into the tree readTree builds, with
// the same calls, but without encoding/xml's tokenizer, which copies every
// name and text a second time and allocates a decoder per document (at
// GOGC=25 about a fifth of a subscribe's garbage). It reports false for
// any document outside that subset, well-formed or not: readTree then
// reads it through encoding/xml, so every error, and every tree of the
// rest, is still exactly etree's. On the subset it accepts only what
// encoding/xml's strict RawToken accepts, and reads it as that does.
func fastTree(data []byte) (*etree.Document, bool) {
	for _, c := range data {
		if c >= 0x80 || c == '&' || c == '\r' || c < 0x20 && c != '\t' && c != '\n' {
			return nil, false
		}
	}
	doc := etree.NewDocument()
	stack := make([]*etree.Element, 1, 16)
	stack[0] = &doc.Element
	p := fastParser{data: data}
	for p.i < len(data) {
		top := stack[len(stack)-1]
		if data[p.i] != '<' {
			// Text, up to the next markup.
			j := bytes.IndexByte(data[p.i:], '<')
			if j < 0 {
				j = len(data) - p.i
			}
			text := data[p.i : p.i+j]
			if bytes.Contains(text, []byte("]]>")) {
				return nil, false
			}
			p.i += j
			c := etree.NewText("")
			c.SetData(string(text))
			top.AddChild(c)
			continue
		}
		p.i++
		switch p.peek() {
		case '/':
			p.i++
			space, local, ok := p.name()
			if !ok {
				return nil, false
			}
			p.space()
			if p.peek() != '>' {
				return nil, false
			}
			p.i++
			if top.Tag != local || top.Space != space || len(stack) == 1 {
				return nil, false
			}
			stack = stack[:len(stack)-1]
		case '!':
			if !bytes.HasPrefix(data[p.i:], []byte("!--")) {
				return nil, false // CDATA or a declaration
			}
			rest := data[p.i+3:]
			end := bytes.Index(rest, []byte("--"))
			if end < 0 || end+2 >= len(rest) || rest[end+2] != '>' {
				return nil, false
			}
			top.AddChild(etree.NewComment(string(rest[:end])))
			p.i += 3 + end + 3
		case '?':
			return nil, false
		default:
			space, local, ok := p.name()
			if !ok {
				return nil, false
			}
			el := etree.NewElement("")
			el.Space, el.Tag = space, local
			empty := false
			for {
				p.space()
				c := p.peek()
				if c == '/' {
					if p.i+1 >= len(data) || data[p.i+1] != '>' {
						return nil, false
					}
					p.i += 2
					empty = true
					break
				}
				if c == '>' {
					p.i++
					break
				}
				aspace, alocal, ok := p.name()
				if !ok {
					return nil, false
				}
				p.space()
				if p.peek() != '=' {
					return nil, false
				}
				p.i++
				p.space()
				q := p.peek()
				if q != '"' && q != '\'' {
					return nil, false
				}
				p.i++
				j := bytes.IndexByte(data[p.i:], q)
				if j < 0 {
					return nil, false
				}
				value := data[p.i : p.i+j]
				if bytes.IndexByte(value, '<') >= 0 {
					return nil, false
				}
				p.i += j + 1
				key := alocal
				if aspace != "" {
					key = aspace + ":" + alocal
				}
				// As readTree: the name as the token gives it.
				at := el.CreateAttr(key, string(value))
				at.Space, at.Key = aspace, alocal
			}
			top.AddChild(el)
			if !empty {
				stack = append(stack, el)
			}
		}
	}
	if len(stack) != 1 {
		return nil, false
	}
	return doc, true
}

// fastParser is fastTree's position in its document.
type fastParser struct {
	data []byte
	i    int
}

// peek returns the next byte, 0 at the end.
func (p *fastParser) peek() byte {
	if p.i < len(p.data) {
		return p.data[p.i]
	}
	return 0
}

// space skips white space (no carriage return: fastTree refused those).
func (p *fastParser) space() {
	for p.i < len(p.data) && (p.data[p.i] == ' ' || p.data[p.i] == '\n' || p.data[p.i] == '\t') {
		p.i++
	}
}

// name reads a name and splits it as encoding/xml's nsname does: at its
// one colon, unless that leaves either side empty; a name with more than
// one colon, or not starting with a letter or '_', is refused.
func (p *fastParser) name() (space, local string, ok bool) {
	start := p.i
	colons, at := 0, -1
	for p.i < len(p.data) && isNameByte(p.data[p.i]) {
		if p.data[p.i] == ':' {
			colons++
			at = p.i - start
		}
		p.i++
	}
	b := p.data[start:p.i]
	if len(b) == 0 || colons > 1 {
		return "", "", false
	}
	if c := b[0]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_') {
		return "", "", false
	}
	if colons == 0 || at == len(b)-1 {
		return "", internName(b), true
	}
	return internName(b[:at]), internName(b[at+1:]), true
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// commonNames are the prefixes and local names of the elements and
// attributes of the messages Herald takes most (SOAP, WS-Addressing,
// WS-Eventing, Cloud42), which fastTree shares instead of allocating for
// each (looking a []byte up by string(b) allocates nothing). Read-only.
var commonNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"soap", "soapenv", "env", "S", "s", "s11", "s12", "wsa", "wse", "wsman", "web", "ns", "h", "xmlns",
		"Envelope", "Header", "Body", "Fault",
		"Action", "To", "MessageID", "RelatesTo", "ReplyTo", "FaultTo", "From", "Address",
		"ReferenceParameters", "ReferenceProperties", "mustUnderstand",
		"Subscribe", "Delivery", "NotifyTo", "EndTo", "Expires", "Filter", "Dialect", "Mode", "Identifier",
		"Renew", "GetStatus", "Unsubscribe",
		"subscribe", "subscriptionProcessor", "topic", "subscriptionMessage", "unsubscribe", "subscriptionId",
	} {
		m[n] = n
	}
	return m
}()

func internName(b []byte) string {
	if s, ok := commonNames[string(b)]; ok {
		return s
	}
	return string(b)
}

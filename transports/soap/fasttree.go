package soap

import (
	"bytes"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
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
//
// With pooled, the tree's slabs come from a pool, and slabs (nil when it
// reports false) must go back with releaseSlabs once nothing points into
// the tree any more; without, they are the tree's, garbage with it.
func fastTree(data []byte, pooled bool) (doc *etree.Document, slabs *fastSlabs, ok bool) {
	for _, c := range data {
		if c >= 0x80 || c == '&' || c == '\r' || c < 0x20 && c != '\t' && c != '\n' {
			return nil, nil, false
		}
	}
	b := newFastBuilder(data, pooled)
	defer func() {
		if !ok {
			releaseSlabs(b.pooled)
		}
	}()
	defer b.release()
	doc = etree.NewDocument()
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
				return nil, nil, false
			}
			p.i += j
			b.kids = append(b.kids, b.text(internText(text)))
			continue
		}
		p.i++
		switch p.peek() {
		case '/':
			p.i++
			space, local, ok := p.name()
			if !ok {
				return nil, nil, false
			}
			p.space()
			if p.peek() != '>' {
				return nil, nil, false
			}
			p.i++
			if top.Tag != local || top.Space != space || len(stack) == 1 {
				return nil, nil, false
			}
			b.close(top)
			stack = stack[:len(stack)-1]
		case '!':
			if !bytes.HasPrefix(data[p.i:], []byte("!--")) {
				return nil, nil, false // CDATA or a declaration
			}
			rest := data[p.i+3:]
			end := bytes.Index(rest, []byte("--"))
			if end < 0 || end+2 >= len(rest) || rest[end+2] != '>' {
				return nil, nil, false
			}
			b.kids = append(b.kids, etree.NewComment(string(rest[:end])))
			p.i += 3 + end + 3
		case '?':
			return nil, nil, false
		default:
			space, local, ok := p.name()
			if !ok {
				return nil, nil, false
			}
			el := b.element(space, local)
			empty := false
			b.attrs = b.attrs[:0]
			for {
				p.space()
				c := p.peek()
				if c == '/' {
					if p.i+1 >= len(data) || data[p.i+1] != '>' {
						return nil, nil, false
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
					return nil, nil, false
				}
				p.space()
				if p.peek() != '=' {
					return nil, nil, false
				}
				p.i++
				p.space()
				q := p.peek()
				if q != '"' && q != '\'' {
					return nil, nil, false
				}
				p.i++
				j := bytes.IndexByte(data[p.i:], q)
				if j < 0 {
					return nil, nil, false
				}
				value := data[p.i : p.i+j]
				if bytes.IndexByte(value, '<') >= 0 {
					return nil, nil, false
				}
				p.i += j + 1
				b.attrs = append(b.attrs, fastAttr{aspace, alocal, intern(commonValues, value)})
			}
			b.setAttrs(el)
			b.kids = append(b.kids, el)
			if empty {
				continue
			}
			b.marks = append(b.marks, len(b.kids))
			stack = append(stack, el)
		}
	}
	if len(stack) != 1 {
		return nil, nil, false
	}
	b.close(&doc.Element)
	return doc, b.pooled, true
}

// A fastBuilder makes the tokens of fastTree's tree from a few slabs
// instead of one allocation each, and gives every element its children
// and attributes in a slice of their exact length, taken from a slab too
// (etree's AddChild and CreateAttr grow theirs from nothing, 1, 2, 4 …):
// a token is held in kids until its parent closes. The slabs are sized by
// counting the document's '<' (an upper bound on its elements and, plus
// one, on its texts) and '=' (on its attributes, up to 32), and grow in
// chunks should a count fall short. The tree is the request's, dropped with it,
// so a slab's shared lifetime holds nothing longer. The scratch (kids,
// marks, attrs) is pooled, and so are the first slabs of a pooled tree
// (the server's requests: about 2.8 KB of a subscribe's garbage).
type fastBuilder struct {
	fastSlabs
	*fastScratch
	// pooled is the set the first slabs came from (nil: not pooled).
	pooled *fastSlabs
}

// fastSlabs are the slabs a tree's tokens are made from.
type fastSlabs struct {
	els   []etree.Element
	texts []etree.CharData
	toks  []etree.Token
	attrv []etree.Attr
}

var fastSlabPool = sync.Pool{New: func() any { return new(fastSlabs) }}

// maxPooledSlab bounds the slabs kept in the pool, in tokens: the slabs
// of a rare large request are not kept for every later one.
const maxPooledSlab = 1024

// releaseSlabs returns the slabs of a pooled tree to the pool; nothing may
// point into that tree any more. The slabs are cleared, so that the pool
// keeps none of the tree's strings alive.
func releaseSlabs(s *fastSlabs) {
	if s == nil {
		return
	}
	if cap(s.toks) > maxPooledSlab || cap(s.els) > maxPooledSlab || cap(s.texts) > maxPooledSlab {
		return
	}
	clear(s.els[:cap(s.els)])
	clear(s.texts[:cap(s.texts)])
	clear(s.toks[:cap(s.toks)])
	clear(s.attrv[:cap(s.attrv)])
	fastSlabPool.Put(s)
}

// slab returns buf emptied when it holds n, else a new slice for n.
func slab[T any](buf []T, n int) []T {
	if cap(buf) >= n {
		return buf[:0]
	}
	return make([]T, 0, n)
}

// fastScratch is what a fastBuilder needs only while it reads.
type fastScratch struct {
	kids  []etree.Token // the children so far of the open elements
	marks []int         // where each open element's children begin in kids (the document's: 0)
	attrs []fastAttr    // the attributes of the start tag being read
}

var fastScratches = sync.Pool{New: func() any { return new(fastScratch) }}

// fastAttr is an attribute as fastTree reads it, before its element has
// its attribute slice.
type fastAttr struct{ space, local, value string }

func newFastBuilder(data []byte, pooled bool) fastBuilder {
	n := bytes.Count(data, []byte("<"))
	ends := bytes.Count(data, []byte("</"))
	starts := max(n-ends, 0)                         // elements and comments
	attrs := min(bytes.Count(data, []byte("=")), 32) // '=' in text must not size it
	sc := fastScratches.Get().(*fastScratch)
	sc.marks = append(sc.marks[:0], 0)
	if !pooled {
		return fastBuilder{
			fastSlabs: fastSlabs{
				els:   make([]etree.Element, 0, starts),
				texts: make([]etree.CharData, 0, n+1),
				toks:  make([]etree.Token, 0, starts+n+1),
				attrv: make([]etree.Attr, 0, attrs),
			},
			fastScratch: sc,
		}
	}
	p := fastSlabPool.Get().(*fastSlabs)
	p.els, p.texts = slab(p.els, starts), slab(p.texts, n+1)
	p.toks, p.attrv = slab(p.toks, starts+n+1), slab(p.attrv, attrs)
	return fastBuilder{fastSlabs: *p, fastScratch: sc, pooled: p}
}

// release returns the scratch to its pool.
func (b *fastBuilder) release() {
	clear(b.kids[:cap(b.kids)])
	clear(b.attrs[:cap(b.attrs)])
	b.kids, b.attrs = b.kids[:0], b.attrs[:0]
	fastScratches.Put(b.fastScratch)
	b.fastScratch = nil
}

func (b *fastBuilder) element(space, local string) *etree.Element {
	if len(b.els) == cap(b.els) {
		b.els = make([]etree.Element, 0, 16)
	}
	b.els = append(b.els, etree.Element{Space: space, Tag: local})
	return &b.els[len(b.els)-1]
}

func (b *fastBuilder) text(s string) *etree.CharData {
	if len(b.texts) == cap(b.texts) {
		b.texts = make([]etree.CharData, 0, 16)
	}
	b.texts = append(b.texts, etree.CharData{}) // as NewText("") makes it
	c := &b.texts[len(b.texts)-1]
	c.SetData(s)
	return c
}

// setAttrs gives el the attributes of its start tag, as readTree does:
// through CreateAttr (a repeated name keeps its first place and its last
// value), then with the name as the token gives it.
func (b *fastBuilder) setAttrs(el *etree.Element) {
	n := len(b.attrs)
	if n == 0 {
		return
	}
	if cap(b.attrv)-len(b.attrv) < n {
		b.attrv = make([]etree.Attr, 0, max(n, 16))
	}
	el.Attr = b.attrv[len(b.attrv) : len(b.attrv) : len(b.attrv)+n]
	for _, a := range b.attrs {
		key := a.local
		if a.space != "" {
			key = a.space + ":" + a.local
		}
		at := el.CreateAttr(key, a.value)
		at.Space, at.Key = a.space, a.local
	}
	b.attrv = b.attrv[:len(b.attrv)+len(el.Attr)]
}

// close gives el, the innermost open element (or the document), the
// children held for it.
func (b *fastBuilder) close(el *etree.Element) {
	mark := b.marks[len(b.marks)-1]
	b.marks = b.marks[:len(b.marks)-1]
	kids := b.kids[mark:]
	if n := len(kids); n > 0 {
		if cap(b.toks)-len(b.toks) < n {
			b.toks = make([]etree.Token, 0, max(n, 32))
		}
		el.Child = b.toks[len(b.toks) : len(b.toks) : len(b.toks)+n]
		b.toks = b.toks[:len(b.toks)+n]
		for _, k := range kids {
			el.AddChild(k)
		}
	}
	clear(kids)
	b.kids = b.kids[:mark]
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
		return "", intern(commonNames, b), true
	}
	return intern(commonNames, b[:at]), intern(commonNames, b[at+1:]), true
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// commonNames are the prefixes and local names of the elements and
// attributes of the messages Herald takes most (SOAP, WS-Addressing,
// WS-Eventing, Cloud42), which fastTree shares instead of allocating for
// each (looking a []byte up by string(b) allocates nothing). Read-only.
var commonNames = stringSet(
	"soap", "soapenv", "env", "S", "s", "s11", "s12", "wsa", "wse", "wsman", "web", "ns", "h", "xmlns",
	"Envelope", "Header", "Body", "Fault",
	"Action", "To", "MessageID", "RelatesTo", "ReplyTo", "FaultTo", "From", "Address",
	"ReferenceParameters", "ReferenceProperties", "mustUnderstand",
	"Subscribe", "Delivery", "NotifyTo", "EndTo", "Expires", "Filter", "Dialect", "Mode", "Identifier",
	"Renew", "GetStatus", "Unsubscribe",
	"subscribe", "subscriptionProcessor", "topic", "subscriptionMessage", "unsubscribe", "subscriptionId",
)

// commonValues are attribute values the requests Herald takes repeat: the
// namespaces of SOAP, WS-Addressing, WS-Eventing and the Cloud42
// interface, and the boolean values. Read-only.
var commonValues = stringSet(
	NS11, NS12, addressing.NS200408, addressing.NS10, eventing.NS, eventing.NS2011,
	eventing.ManagementNS, eventing.MessageNS, eventing.HeraldNS,
	"true", "false", "1", "0",
)

// stringSet maps each of vs to itself.
func stringSet(vs ...string) map[string]string {
	m := make(map[string]string, len(vs))
	for _, v := range vs {
		m[v] = v
	}
	return m
}

// intern returns b as a string: set's when set has it, else a new one.
func intern(set map[string]string, b []byte) string {
	if s, ok := set[string(b)]; ok {
		return s
	}
	return string(b)
}

// indentTexts are the indentation texts of documents written by tools: a
// newline and up to 64 spaces, or up to 16 tabs.
type indentTexts struct {
	spaces [65]string
	tabs   [17]string
}

// indents holds them. Read-only.
var indents = func() *indentTexts {
	t := new(indentTexts)
	for i := range t.spaces {
		t.spaces[i] = "\n" + strings.Repeat(" ", i)
	}
	for i := range t.tabs {
		t.tabs[i] = "\n" + strings.Repeat("\t", i)
	}
	return t
}()

// internText returns b as a string, shared when it is an indentation (in an
// indented request, a third of the texts, each its own allocation before).
func internText(b []byte) string {
	if len(b) == 0 || b[0] != '\n' {
		return string(b)
	}
	rest := b[1:]
	switch {
	case len(rest) == 0:
		return indents.spaces[0]
	case rest[0] == ' ' && len(rest) < len(indents.spaces):
		for _, c := range rest {
			if c != ' ' {
				return string(b)
			}
		}
		return indents.spaces[len(rest)]
	case rest[0] == '\t' && len(rest) < len(indents.tabs):
		for _, c := range rest {
			if c != '\t' {
				return string(b)
			}
		}
		return indents.tabs[len(rest)]
	}
	return string(b)
}

// Package xmllimit bounds the shape of the untrusted XML documents Herald
// parses: how deep elements nest, how many attributes and namespace
// declarations one element carries, how many elements a document holds and
// how much text it carries. The request bodies are capped in bytes already;
// these limits cap what a parser builds from those bytes, and what the code
// reading the result pays (resolving a prefix walks the attributes of every
// ancestor).
//
// Parsers use it in one of two ways. One that reads tokens itself feeds
// them to a Counter. One that builds a tree (etree) calls Precheck on the
// bytes first, which reads tokens only when counting bytes cannot rule out
// a document costly to build (too many elements, or too many attributes
// on one), then CheckTree on the tree; the two count alike, so a document
// gets the same verdict either way.
package xmllimit

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"

	"github.com/beevik/etree"
)

// The default limits, chosen for the SOAP envelopes and event messages
// Herald receives; see the fields of Limits for why each is what it is.
const (
	DefaultMaxDepth          = 64
	DefaultMaxAttrs          = 32
	DefaultMaxNamespaceDecls = 32
	DefaultMaxElements       = 10_000
	DefaultMaxTextBytes      = 256 << 10
)

// Limits bound one XML document. A zero field means its default; a
// negative one, no limit.
type Limits struct {
	// MaxDepth caps how deep elements nest; the root is at depth 1.
	// Default 64: Herald's deepest requests (a wse:Subscribe inside the
	// management subscribe, with reference parameters) nest about 10
	// levels, and toolkits add two or three wrappers at most; a tree much
	// deeper than that is only an attempt to exhaust the stack of code
	// that walks it.
	MaxDepth int
	// MaxAttrs caps the attributes of one element, namespace declarations
	// not counted; a name repeated on the element counts once, as a parser
	// keeps only one. Default 32: SOAP elements carry a handful at most
	// (mustUnderstand, role, Mode, Dialect, IsReferenceParameter,
	// xsi:type), and an event message none.
	MaxAttrs int
	// MaxNamespaceDecls caps the namespace declarations (xmlns and
	// xmlns:p) of one element, counted like MaxAttrs. Default 32:
	// toolkits that declare every namespace they know on the Envelope
	// (WCF, JAX-WS) write about ten; resolving a prefix walks the
	// declarations of every ancestor, so 64 levels of 32 bound each lookup.
	MaxNamespaceDecls int
	// MaxElements caps the elements of the document. Default 10,000:
	// Herald's requests hold fewer than a hundred; a parsed element costs
	// about 200 bytes, so the cap bounds a tree to a few megabytes where a
	// 1 MiB body of empty elements would build some fifty.
	MaxElements int
	// MaxTextBytes caps the character data of the whole document, and so
	// of each text node: text, CDATA sections and the white space between
	// elements, in bytes once references are resolved. Default 256 KiB:
	// requests carry addresses, identifiers, expirations and XPath filters
	// of at most 4 KiB, and a notification carries one event message,
	// whose body the message endpoint caps at 64 KiB; 256 KiB is four
	// times that.
	MaxTextBytes int
}

// Default returns the default limits.
func Default() Limits {
	return Limits{
		MaxDepth:          DefaultMaxDepth,
		MaxAttrs:          DefaultMaxAttrs,
		MaxNamespaceDecls: DefaultMaxNamespaceDecls,
		MaxElements:       DefaultMaxElements,
		MaxTextBytes:      DefaultMaxTextBytes,
	}
}

// WithDefaults returns l with its zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	d := Default()
	for _, f := range []struct{ v, def *int }{
		{&l.MaxDepth, &d.MaxDepth},
		{&l.MaxAttrs, &d.MaxAttrs},
		{&l.MaxNamespaceDecls, &d.MaxNamespaceDecls},
		{&l.MaxElements, &d.MaxElements},
		{&l.MaxTextBytes, &d.MaxTextBytes},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return l
}

// bound returns a limit as a bound: no limit is the largest int.
func bound(limit int) int {
	if limit < 0 {
		return math.MaxInt
	}
	return limit
}

// A Limit names one of the fields of Limits.
type Limit int

// The limits, as Error reports them.
const (
	Depth Limit = iota + 1
	Attrs
	NamespaceDecls
	Elements
	TextBytes
)

// String returns the name of the limit's field in Limits.
func (l Limit) String() string {
	switch l {
	case Depth:
		return "MaxDepth"
	case Attrs:
		return "MaxAttrs"
	case NamespaceDecls:
		return "MaxNamespaceDecls"
	case Elements:
		return "MaxElements"
	case TextBytes:
		return "MaxTextBytes"
	}
	return fmt.Sprintf("Limit(%d)", int(l))
}

// An Error reports a document beyond one of its limits.
type Error struct {
	Limit Limit
	// Max is the limit's value.
	Max int
	// Element is the offending element's name as written (prefix:local),
	// for Attrs and NamespaceDecls.
	Element string
}

// Error says which limit the document exceeds and its value, e.g.
// "element s:Envelope has more than 32 namespace declarations".
func (e *Error) Error() string {
	switch e.Limit {
	case Depth:
		return fmt.Sprintf("the document nests elements deeper than %d levels", e.Max)
	case Attrs:
		return fmt.Sprintf("element %s has more than %d attributes", shorten(e.Element), e.Max)
	case NamespaceDecls:
		return fmt.Sprintf("element %s has more than %d namespace declarations", shorten(e.Element), e.Max)
	case Elements:
		return fmt.Sprintf("the document has more than %d elements", e.Max)
	case TextBytes:
		return fmt.Sprintf("the document has more than %d bytes of text", e.Max)
	}
	return fmt.Sprintf("the document exceeds %s (%d)", e.Limit, e.Max)
}

// shorten keeps an element name quoted in an error short.
func shorten(name string) string {
	const n = 64
	if len(name) <= n {
		return name
	}
	i := n
	for i > 0 && name[i]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		i--
	}
	return name[:i] + "..."
}

// A Counter checks a document read token by token against its limits:
// call Start for each start tag (an empty element's too), End for each
// end tag and Text for each piece of character data, in document order.
// The first call that returns an error names the first limit exceeded;
// the document is then to be refused.
type Counter struct {
	depth, maxDepth       int
	elements, maxElements int
	text, maxText         int
	maxAttrs, maxNS       int
	either                int // min(maxAttrs, maxNS): more attributes need counting
}

// NewCounter returns a Counter for l (zero fields take their defaults).
func NewCounter(l Limits) *Counter {
	c := &Counter{}
	c.reset(l)
	return c
}

func (c *Counter) reset(l Limits) {
	l = l.WithDefaults()
	*c = Counter{maxDepth: bound(l.MaxDepth), maxElements: bound(l.MaxElements), maxText: bound(l.MaxTextBytes),
		maxAttrs: bound(l.MaxAttrs), maxNS: bound(l.MaxNamespaceDecls)}
	c.either = min(c.maxAttrs, c.maxNS)
}

// Start counts an element: name is how the document writes it (for the
// error), attrs its attributes, namespace declarations included, as
// encoding/xml returns them.
func (c *Counter) Start(name string, attrs []xml.Attr) error {
	if err := c.element(); err != nil {
		return err
	}
	if len(attrs) <= c.either {
		return nil
	}
	return c.attrs(name, attrs)
}

// element counts an element and its depth.
func (c *Counter) element() error {
	c.elements++
	if c.elements > c.maxElements {
		return &Error{Limit: Elements, Max: c.maxElements}
	}
	c.depth++
	if c.depth > c.maxDepth {
		return &Error{Limit: Depth, Max: c.maxDepth}
	}
	return nil
}

// attrs counts the distinct attribute names of an element that has more
// attributes than one of the limits allows, until one is exceeded.
func (c *Counter) attrs(name string, attrs []xml.Attr) error {
	seen := make(map[xml.Name]bool, min(len(attrs), 2*DefaultMaxAttrs))
	ns, plain := 0, 0
	for _, a := range attrs {
		if seen[a.Name] {
			continue
		}
		seen[a.Name] = true
		if isNamespaceDecl(a.Name.Space, a.Name.Local) {
			ns++
		} else {
			plain++
		}
		if ns > c.maxNS {
			return &Error{Limit: NamespaceDecls, Max: c.maxNS, Element: name}
		}
		if plain > c.maxAttrs {
			return &Error{Limit: Attrs, Max: c.maxAttrs, Element: name}
		}
	}
	return nil
}

// End counts an end tag.
func (c *Counter) End() { c.depth-- }

// Text counts n bytes of character data.
func (c *Counter) Text(n int) error {
	c.text += n
	if c.text > c.maxText {
		return &Error{Limit: TextBytes, Max: c.maxText}
	}
	return nil
}

// isNamespaceDecl reports whether an attribute named space:local (as
// encoding/xml or etree splits it) declares a namespace.
func isNamespaceDecl(space, local string) bool {
	return space == "xmlns" || (space == "" && local == "xmlns")
}

// Precheck guards a parser that builds a tree from data: it reports the
// first limit data exceeds when the tree could be costly to build, too
// many elements or an element with too many attributes, and nil
// otherwise, leaving the rest to CheckTree on the tree. It reads no token
// when counting bytes rules those out (see mayExceed), which is the case
// of every request Herald serves; else it reads data's tokens with a
// Counter. It returns nil for a document that is not well-formed before a
// limit is reached: the parser reports that.
func Precheck(data []byte, l Limits) error {
	l = l.WithDefaults()
	if !mayExceed(data, l) {
		return nil
	}
	return scan(data, l)
}

// mayExceed reports whether data could hold more than MaxElements
// elements, or an element with more attributes than MaxAttrs or
// MaxNamespaceDecls allows, by counting bytes. Every element has one start
// tag, a '<' not followed by '/'; every attribute (and namespace
// declaration) of a start tag has its '=' between the tag's '<' and the
// next '<', as attribute values hold no '<'.
func mayExceed(data []byte, l Limits) bool {
	maxElements := bound(l.MaxElements)
	if n := bytes.Count(data, []byte("<")); n > maxElements && n-bytes.Count(data, []byte("</")) > maxElements {
		return true
	}
	either := min(bound(l.MaxAttrs), bound(l.MaxNamespaceDecls))
	if bytes.Count(data, []byte("=")) <= either {
		return false
	}
	n := 0 // '=' since the last '<'
	for _, c := range data {
		switch c {
		case '<':
			n = 0
		case '=':
			if n++; n > either {
				return true
			}
		}
	}
	return false
}

// scan reads data's tokens with a Counter for l, as etree reads them, and
// returns the first limit exceeded; nil when data is not well-formed
// before that.
func scan(data []byte, l Limits) error {
	var c Counter
	c.reset(l)
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil } // as etree reads
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return nil // the end (io.EOF), or not well-formed: the parser says so
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if t.Name.Space != "" {
				name = t.Name.Space + ":" + name
			}
			err = c.Start(name, t.Attr)
		case xml.EndElement:
			c.End()
		case xml.CharData:
			err = c.Text(len(t))
		}
		if err != nil {
			return err
		}
	}
}

// CheckTree reports the first limit doc exceeds, in document order, as a
// Counter fed the document's tokens would. It counts the attributes as
// etree keeps them: once per name, unless the document was read with
// ReadSettings.PreserveDuplicateAttrs.
func CheckTree(doc *etree.Document, l Limits) error {
	var c Counter
	c.reset(l)
	return c.tree(&doc.Element)
}

// tree counts the children of el, depth first.
func (c *Counter) tree(el *etree.Element) error {
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if err := c.element(); err != nil {
				return err
			}
			if len(t.Attr) > c.either {
				if err := c.treeAttrs(t); err != nil {
					return err
				}
			}
			if err := c.tree(t); err != nil {
				return err
			}
			c.End()
		case *etree.CharData:
			if err := c.Text(len(t.Data)); err != nil {
				return err
			}
		}
	}
	return nil
}

// treeAttrs counts an element's attributes, which etree keeps distinct.
func (c *Counter) treeAttrs(el *etree.Element) error {
	ns, plain := 0, 0
	for _, a := range el.Attr {
		if isNamespaceDecl(a.Space, a.Key) {
			ns++
		} else {
			plain++
		}
		if ns > c.maxNS {
			return &Error{Limit: NamespaceDecls, Max: c.maxNS, Element: el.FullTag()}
		}
		if plain > c.maxAttrs {
			return &Error{Limit: Attrs, Max: c.maxAttrs, Element: el.FullTag()}
		}
	}
	return nil
}

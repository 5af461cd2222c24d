package soap

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// Envelope namespaces.
const (
	NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NS12 = "http://www.w3.org/2003/05/soap-envelope"
)

// Version is a SOAP version.
type Version int

// The SOAP versions Herald speaks.
const (
	V12 Version = iota + 1
	V11
)

// Namespace returns the version's envelope namespace.
func (v Version) Namespace() string {
	if v == V11 {
		return NS11
	}
	return NS12
}

// ContentType returns the media type of a message in this version; action
// goes into the SOAP 1.2 action parameter (SOAP 1.1 carries it in the
// SOAPAction header instead).
func (v Version) ContentType(action string) string {
	if v == V11 {
		return "text/xml; charset=utf-8"
	}
	if action == "" {
		return "application/soap+xml; charset=utf-8"
	}
	return `application/soap+xml; charset=utf-8; action="` + action + `"`
}

func (v Version) String() string {
	if v == V11 {
		return "SOAP 1.1"
	}
	return "SOAP 1.2"
}

// DefaultMaxDepth is the element nesting Parse accepts by default.
const DefaultMaxDepth = 64

// An Envelope is a parsed or built SOAP message.
type Envelope struct {
	Version Version
	Doc     *etree.Document
	// Header is the Header element; nil when the message has none.
	Header *etree.Element
	Body   *etree.Element
}

// Payload returns the first element inside the Body, or nil.
func (e *Envelope) Payload() *etree.Element {
	for _, c := range e.Body.ChildElements() {
		return c
	}
	return nil
}

// A ParseError is a message that is not a SOAP envelope Herald accepts.
type ParseError struct {
	Reason string
	// VersionMismatch marks an Envelope in an unknown namespace.
	VersionMismatch bool
}

func (e *ParseError) Error() string { return "soap: " + e.Reason }

// Parse reads a SOAP 1.2 or 1.1 envelope. It rejects documents with a
// DOCTYPE, deeper than maxDepth elements, or that are not well formed.
func Parse(data []byte, maxDepth int) (*Envelope, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ParseError{Reason: "the request body is empty"}
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, &ParseError{Reason: "the request is not well-formed XML: " + trimXMLError(err)}
	}
	for _, t := range doc.Child {
		if d, ok := t.(*etree.Directive); ok && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(d.Data)), "DOCTYPE") {
			return nil, &ParseError{Reason: "a DOCTYPE is not allowed in a SOAP message"}
		}
	}
	root := doc.Root()
	if root == nil {
		return nil, &ParseError{Reason: "the request is not well-formed XML: it has no root element"}
	}
	if d := depth(root, maxDepth); d > maxDepth {
		return nil, &ParseError{Reason: fmt.Sprintf("the message nests elements deeper than %d levels", maxDepth)}
	}
	env := &Envelope{Doc: doc}
	switch ns := root.NamespaceURI(); {
	case root.Tag != "Envelope":
		return nil, &ParseError{Reason: fmt.Sprintf("the root element is {%s}%s, not a SOAP Envelope", ns, root.Tag)}
	case ns == NS12:
		env.Version = V12
	case ns == NS11:
		env.Version = V11
	default:
		return nil, &ParseError{VersionMismatch: true, Reason: fmt.Sprintf("the Envelope's namespace %q is neither SOAP 1.2 (%s) nor SOAP 1.1 (%s)", ns, NS12, NS11)}
	}
	ns := env.Version.Namespace()
	for _, c := range root.ChildElements() {
		switch {
		case addressing.Is(c, ns, "Header") && env.Header == nil && env.Body == nil:
			env.Header = c
		case addressing.Is(c, ns, "Body") && env.Body == nil:
			env.Body = c
		default:
			return nil, &ParseError{Reason: fmt.Sprintf("unexpected element {%s}%s in the Envelope (expected Header and Body)", c.NamespaceURI(), c.Tag)}
		}
	}
	if env.Body == nil {
		return nil, &ParseError{Reason: "the Envelope has no Body"}
	}
	return env, nil
}

// depth returns the nesting depth of el's subtree, stopping early past limit.
func depth(el *etree.Element, limit int) int {
	type item struct {
		el *etree.Element
		d  int
	}
	stack := []item{{el, 1}}
	maxd := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		maxd = max(maxd, it.d)
		if maxd > limit {
			return maxd
		}
		for _, c := range it.el.ChildElements() {
			stack = append(stack, item{c, it.d + 1})
		}
	}
	return maxd
}

func trimXMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "XML syntax error on ")
	return s
}

// New returns an empty envelope of version v with a Header and a Body. The
// root declares the prefix "s" for the envelope namespace and, when wsa is
// not VersionNone, "wsa" for that addressing namespace.
func New(v Version, wsa addressing.Version) *Envelope {
	doc := etree.NewDocument()
	root := doc.CreateElement("s:Envelope")
	root.CreateAttr("xmlns:s", v.Namespace())
	if wsa != addressing.VersionNone {
		root.CreateAttr("xmlns:wsa", wsa.Namespace())
	}
	env := &Envelope{Version: v, Doc: doc}
	env.Header = root.CreateElement("s:Header")
	env.Body = root.CreateElement("s:Body")
	return env
}

// Bytes serializes the envelope with an XML declaration. An empty Header is
// left out.
func (e *Envelope) Bytes() []byte {
	if e.Header != nil && len(e.Header.Child) == 0 {
		e.Header.Parent().RemoveChild(e.Header)
		e.Header = nil
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	e.Doc.WriteTo(&b)
	return b.Bytes()
}

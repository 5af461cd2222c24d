package soap

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/xsd/xmllimit"
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
const DefaultMaxDepth = xmllimit.DefaultMaxDepth

// An Envelope is a parsed or built SOAP message.
type Envelope struct {
	Version Version
	Doc     *etree.Document
	// Header is the Header element; nil when the message has none.
	Header *etree.Element
	Body   *etree.Element
	// slabs are the pooled slabs of a request's tree, skeleton the pooled
	// skeleton of an answer (see release).
	slabs    *fastSlabs
	skeleton *envelopeSkeleton
}

// release gives the slabs of a request's tree back to their pool (the
// server's, once it answered): nothing may use the envelope, nor any
// element of its tree, after it. A processor copies what it keeps of a
// request (eventing.EndpointRequest); so does everything else that keeps
// a part of one (addressing.Detach, strings).
//
// An answer's skeleton (newAnswer) goes back too, once written: the
// envelope itself is part of it, so e must not be used at all after.
func (e *Envelope) release() {
	releaseSlabs(e.slabs)
	e.slabs = nil
	if sk := e.skeleton; sk != nil {
		*sk = envelopeSkeleton{} // what the handlers added is not kept alive
		skeletons.Put(sk)
	}
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

// Parse reads a SOAP 1.2 or 1.1 envelope within the default limits
// (xmllimit.Default), maxDepth replacing their MaxDepth when positive. It
// rejects documents with a DOCTYPE, beyond a limit, or that are not well
// formed.
func Parse(data []byte, maxDepth int) (*Envelope, error) {
	l := xmllimit.Default()
	if maxDepth > 0 {
		l.MaxDepth = maxDepth
	}
	return ParseLimits(data, l)
}

// ParseLimits is Parse within l (a zero field means its default, a
// negative one no limit). A document beyond a limit is a *ParseError whose
// Reason names the limit and its value.
func ParseLimits(data []byte, l xmllimit.Limits) (*Envelope, error) {
	return parseLimits(data, l, false)
}

// parseLimits is ParseLimits; with pooled, the envelope's tree is built
// from pooled slabs, which its release gives back.
func parseLimits(data []byte, l xmllimit.Limits, pooled bool) (env *Envelope, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ParseError{Reason: "the request body is empty"}
	}
	// Precheck reads tokens only for a document that may hold too many
	// elements, or attributes on one, to build; CheckTree counts the rest
	// on the tree, which costs less than reading the tokens twice.
	if err := xmllimit.Precheck(data, l); err != nil {
		return nil, &ParseError{Reason: err.Error()}
	}
	doc, slabs, err := readTreePooled(data, pooled)
	if err != nil {
		return nil, &ParseError{Reason: "the request is not well-formed XML: " + trimXMLError(err)}
	}
	defer func() {
		if err != nil {
			releaseSlabs(slabs) // the tree is dropped here
		}
	}()
	for _, t := range doc.Child {
		if d, ok := t.(*etree.Directive); ok && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(d.Data)), "DOCTYPE") {
			return nil, &ParseError{Reason: "a DOCTYPE is not allowed in a SOAP message"}
		}
	}
	root := doc.Root()
	if root == nil {
		return nil, &ParseError{Reason: "the request is not well-formed XML: it has no root element"}
	}
	if err := xmllimit.CheckTree(doc, l); err != nil {
		return nil, &ParseError{Reason: err.Error()}
	}
	env = &Envelope{Doc: doc, slabs: slabs}
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

func trimXMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "XML syntax error on ")
	return s
}

// New returns an empty envelope of version v with a Header and a Body. The
// root declares the prefix "s" for the envelope namespace and, when wsa is
// not VersionNone, "wsa" for that addressing namespace.
func New(v Version, wsa addressing.Version) *Envelope {
	return new(envelopeSkeleton).build(v, wsa)
}

// An envelopeSkeleton is what New builds, in one allocation instead of
// about ten (a document, three elements, their attribute and child
// slices grown one by one).
type envelopeSkeleton struct {
	env      Envelope
	doc      etree.Document
	els      [3]etree.Element // Envelope, Header, Body
	attrs    [2]etree.Attr    // xmlns:s, xmlns:wsa
	docKids  [1]etree.Token
	rootKids [2]etree.Token
}

// skeletons pools the skeletons of the server's answers (newAnswer).
var skeletons = sync.Pool{New: func() any { return new(envelopeSkeleton) }}

// newAnswer is New for an answer the server writes and then releases:
// its skeleton comes from a pool, and Envelope.release gives it back.
func newAnswer(v Version, wsa addressing.Version) *Envelope {
	sk := skeletons.Get().(*envelopeSkeleton)
	env := sk.build(v, wsa)
	env.skeleton = sk
	return env
}

// build makes sk the empty envelope New returns, as etree's calls would
// (the same tree, written the same).
func (sk *envelopeSkeleton) build(v Version, wsa addressing.Version) *Envelope {
	*sk = envelopeSkeleton{}
	sk.doc.Child = sk.docKids[:0]
	root := &sk.els[0]
	root.Space, root.Tag = "s", "Envelope"
	root.Attr, root.Child = sk.attrs[:0], sk.rootKids[:0]
	sk.doc.AddChild(root)
	root.CreateAttr("xmlns:s", v.Namespace())
	if wsa != addressing.VersionNone {
		root.CreateAttr("xmlns:wsa", wsa.Namespace())
	}
	header, body := &sk.els[1], &sk.els[2]
	header.Space, header.Tag = "s", "Header"
	body.Space, body.Tag = "s", "Body"
	root.AddChild(header)
	root.AddChild(body)
	sk.env = Envelope{Version: v, Doc: &sk.doc, Header: header, Body: body}
	return &sk.env
}

// Bytes serializes the envelope with an XML declaration. An empty Header is
// left out.
func (e *Envelope) Bytes() []byte {
	var b bytes.Buffer
	b.Grow(1024)
	e.write(&b)
	return b.Bytes()
}

func (e *Envelope) write(b *bytes.Buffer) {
	if e.Header != nil && len(e.Header.Child) == 0 {
		e.Header.Parent().RemoveChild(e.Header)
		e.Header = nil
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	writeTree(b, e.Doc)
}

// writeTo writes the envelope, as Bytes returns it, to w through a pooled
// buffer.
func (e *Envelope) writeTo(w io.Writer) error {
	b := bytes.NewBuffer(getBuffer(1024))
	e.write(b)
	_, err := w.Write(b.Bytes())
	putBuffer(b.Bytes())
	return err
}

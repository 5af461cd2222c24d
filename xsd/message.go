package xsd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	validator "github.com/jacoelho/xsd"
	"github.com/jacoelho/xsd/xsderrors"

	"github.com/herald-eventing/herald/xsd/xmllimit"
)

// MessageNamespace is the namespace of the Cloud42 event message.
const MessageNamespace = "http://cloud42.jw.de/message"

// The schema files of the two accepted forms.
const (
	messageSchema          = "message.xsd"           // children qualified
	publishedMessageSchema = "message-published.xsd" // children unqualified
)

// messageFields are the children of <message>, in schema order; topic is
// required, the others optional, each at most once.
var messageFields = []string{"topic", "instanceId", "timestamp", "text", "info"}

// utf8BOM is the byte order mark an XML document may start with.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Message is a Cloud42 event message. Topic is trimmed of surrounding white
// space; the other fields are the element contents as sent (character
// references and CDATA sections resolved), empty when the element is absent.
type Message struct {
	Topic      string
	InstanceID string
	Timestamp  string
	Text       string
	Info       string
}

// MessageError is the error ParseMessage returns for a body that is not a
// valid event message. Msg is one line that names the element and what is
// wrong, meant for the client (e.g. in a 400 response).
type MessageError struct {
	Msg string
}

// Error returns Msg.
func (e *MessageError) Error() string { return e.Msg }

func messageErrorf(format string, args ...any) *MessageError {
	return &MessageError{Msg: oneLine(fmt.Sprintf(format, args...))}
}

// engines holds the compiled message schemas.
type engines struct {
	qualified   *pooledEngine // message.xsd
	unqualified *pooledEngine // message-published.xsd
}

// pooledEngine validates with reused sessions: a validator session carries
// scratch buffers that cost more to build than a small message costs to
// validate. A session serves one document at a time, so each goroutine
// takes its own from the pool.
type pooledEngine struct {
	engine   *validator.Engine
	sessions sync.Pool
}

func newPooledEngine(e *validator.Engine) *pooledEngine {
	p := &pooledEngine{engine: e}
	p.sessions.New = func() any {
		s, err := e.NewSession(validator.ValidateOptions{MaxErrors: 8})
		if err != nil {
			return err
		}
		return s
	}
	return p
}

// Validate validates data with a pooled session.
func (p *pooledEngine) Validate(data []byte) error {
	switch s := p.sessions.Get().(type) {
	case *validator.Session:
		defer p.sessions.Put(s)
		return s.Validate(bytes.NewReader(data))
	case error:
		return s
	}
	return p.engine.Validate(bytes.NewReader(data))
}

var compiled = sync.OnceValues(func() (*engines, error) {
	compile := func(name string) (*validator.Engine, error) {
		data, err := fs.ReadFile(Files, name)
		if err != nil {
			return nil, fmt.Errorf("read embedded schema %s: %w", name, err)
		}
		e, err := validator.Compile(validator.Bytes(name, data))
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", name, err)
		}
		return e, nil
	}
	q, err := compile(messageSchema)
	if err != nil {
		return nil, err
	}
	u, err := compile(publishedMessageSchema)
	if err != nil {
		return nil, err
	}
	return &engines{qualified: newPooledEngine(q), unqualified: newPooledEngine(u)}, nil
})

// messageLimits bound the documents ParseMessage reads (xmllimit's
// defaults). A valid message has six elements, two levels and no
// attributes but xsi:*; the limits bound what the full path reads of an
// invalid one, and the namespace declarations and text of a valid one,
// which the schema leaves open.
var messageLimits = xmllimit.Default()

// fastAttrs is the most attributes, namespace declarations included, a
// start tag may carry for the extract path to take the validator's word:
// within it, neither MaxAttrs nor MaxNamespaceDecls can be exceeded.
var fastAttrs = min(messageLimits.MaxAttrs, messageLimits.MaxNamespaceDecls)

// ParseMessage validates data as a Cloud42 event message and returns its
// fields. Both forms are accepted: children of <message> in the message
// namespace (validated against message.xsd) or without a namespace (against
// message-published.xsd), decided by the first child; the schema decides
// validity. Beyond the schema, the topic must not be blank, and the
// document must be within xmllimit's default limits.
//
// Every rejection is a *MessageError with one precise line, e.g.
// "missing required element topic in message".
func ParseMessage(data []byte) (Message, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return Message{}, messageErrorf("empty body")
	}
	eng, err := compiled()
	if err != nil {
		return Message{}, fmt.Errorf("message schemas: %w", err)
	}
	// Fastest path: the shape publishers' scripts send is valid by its
	// shape alone (see canonical), and within the limits by construction
	// (one namespace declaration, no attribute, six elements, two levels)
	// but for its text, which a document no longer than the text limit
	// cannot exceed.
	if len(data) <= messageLimits.MaxTextBytes {
		if m, ok := canonical(data); ok && m.Topic != "" {
			return m, nil
		}
	}
	// Fast path for the common case: a message valid in either form and
	// within the limits (see withinLimits) reads its fields with a small
	// scanner. Anything else takes the full scan, which explains what is
	// wrong.
	if m, ok := extract(data); ok && m.Topic != "" && m.withinLimits(len(data)) {
		engine := eng.qualified
		if !m.qualified {
			engine = eng.unqualified
		}
		if engine.Validate(data) == nil {
			return m.Message, nil
		}
	}
	return parseFull(data, eng)
}

// withinLimits reports whether a message extract read from size bytes,
// once the validator accepts it, is within messageLimits: the schema
// allows six elements on two levels, and this bounds the attributes and
// namespace declarations of each and the text.
func (m extracted) withinLimits(size int) bool {
	return m.attrs <= fastAttrs && size <= messageLimits.MaxTextBytes
}

// parseFull is ParseMessage's full path: a token scan that can say what is
// wrong, the schema chosen by the first child's namespace, and the
// validator's verdict turned into one line.
func parseFull(data []byte, eng *engines) (Message, error) {
	doc, merr := scan(data)
	if merr != nil {
		return Message{}, merr
	}
	engine, form := eng.qualified, MessageNamespace
	if len(doc.children) > 0 && doc.children[0].name.Space == "" {
		engine, form = eng.unqualified, ""
	}
	if err := engine.Validate(data); err != nil {
		return Message{}, describe(err, doc, form)
	}

	var m Message
	for _, c := range doc.children {
		m.set(c.name.Local, c.text.String())
	}
	if m.Topic == "" {
		return Message{}, messageErrorf("element topic in message is empty")
	}
	return m, nil
}

// scanned is what ParseMessage reads from a well-formed document.
type scanned struct {
	root      xml.Name
	rootAttrs []xml.Attr // namespace declarations excluded
	rootText  string     // first non-blank text directly inside the root
	children  []*element // children of the root
}

type element struct {
	name       xml.Name
	attrs      []xml.Attr // namespace declarations excluded
	text       strings.Builder
	grandchild xml.Name // first child element, if any
	hasChild   bool
}

// scan checks that data is well-formed XML without a DOCTYPE and within
// messageLimits, and records the root element and its children.
func scan(data []byte) (*scanned, *MessageError) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var badEncoding string
	dec.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		badEncoding = label
		return nil, errors.New("unsupported encoding")
	}
	limits := xmllimit.NewCounter(messageLimits)
	doc := &scanned{}
	depth := 0
	seenRoot := false
	var cur *element
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if badEncoding != "" {
				return nil, messageErrorf("unsupported encoding %q: messages must be UTF-8", badEncoding)
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, messageErrorf("not well-formed XML: line %d: %s", se.Line, se.Msg)
			}
			return nil, messageErrorf("not well-formed XML: %v", err)
		}
		line, _ := dec.InputPos()
		switch t := tok.(type) {
		case xml.Directive:
			if d := strings.TrimSpace(string(t)); strings.HasPrefix(d, "DOCTYPE") {
				return nil, messageErrorf("DOCTYPE is not allowed")
			}
			return nil, messageErrorf("not well-formed XML: line %d: markup declaration <!%s> outside a DOCTYPE", line, firstWord(string(t)))
		case xml.StartElement:
			if err := limits.Start(t.Name.Local, t.Attr); err != nil {
				return nil, messageErrorf("%v", err)
			}
			switch depth {
			case 0:
				if seenRoot {
					return nil, messageErrorf("not well-formed XML: line %d: second root element %s", line, t.Name.Local)
				}
				seenRoot = true
				doc.root = t.Name
				doc.rootAttrs = plainAttrs(t.Attr)
			case 1:
				cur = &element{name: t.Name, attrs: plainAttrs(t.Attr)}
				doc.children = append(doc.children, cur)
			case 2:
				if !cur.hasChild {
					cur.hasChild, cur.grandchild = true, t.Name
				}
			}
			depth++
		case xml.EndElement:
			limits.End()
			depth--
		case xml.CharData:
			if err := limits.Text(len(t)); err != nil {
				return nil, messageErrorf("%v", err)
			}
			switch depth {
			case 0:
				if len(bytes.TrimSpace(t)) > 0 {
					where := "before"
					if seenRoot {
						where = "after"
					}
					return nil, messageErrorf("not well-formed XML: line %d: text %s the root element", line, where)
				}
			case 1:
				if doc.rootText == "" && len(bytes.TrimSpace(t)) > 0 {
					doc.rootText = string(bytes.TrimSpace(t))
				}
			case 2:
				cur.text.Write(t)
			}
		}
	}
	if !seenRoot {
		return nil, messageErrorf("not well-formed XML: no root element")
	}
	return doc, nil
}

// describe turns a validation failure into one precise line. The
// validator's first diagnostic tells where the document is invalid; the
// scanned document tells which element and why.
func describe(err error, doc *scanned, form string) error {
	var first *xsderrors.Error
	for _, e := range xsderrors.Flatten(err) {
		if xe, ok := errors.AsType[*xsderrors.Error](e); ok {
			first = xe
			break
		}
	}
	if first == nil {
		return messageErrorf("invalid message: %v", err)
	}
	want := xml.Name{Space: MessageNamespace, Local: "message"}
	switch first.Code() {
	case xsderrors.CodeUnsupportedDTD:
		return messageErrorf("DOCTYPE is not allowed")
	case xsderrors.CodeUnsupportedNonUTF8:
		return messageErrorf("unsupported encoding: messages must be UTF-8")
	case xsderrors.CodeValidationXML, xsderrors.CodeFormatXML:
		return messageErrorf("not well-formed XML: %s", located(first))
	case xsderrors.CodeValidationRoot:
		if doc.root != want {
			return messageErrorf("root element is %s, want %s", clark(doc.root), clark(want))
		}
	}
	if doc.root != want {
		return messageErrorf("root element is %s, want %s", clark(doc.root), clark(want))
	}

	p := strings.TrimPrefix(first.Path(), "/")
	_, childPath, inChild := strings.Cut(p, "/")
	if !inChild {
		// The message element itself.
		switch first.Code() {
		case xsderrors.CodeValidationAttribute:
			if a, ok := firstForeignAttr(doc.rootAttrs); ok {
				return messageErrorf("attribute %s is not allowed on message", attrName(a))
			}
		case xsderrors.CodeValidationText:
			if doc.rootText != "" {
				return messageErrorf("text is not allowed directly inside message (found %q)", truncate(doc.rootText))
			}
		}
		if msg := sequenceProblem(doc, form); msg != "" {
			return messageErrorf("%s", msg)
		}
		if doc.rootText != "" {
			return messageErrorf("text is not allowed directly inside message (found %q)", truncate(doc.rootText))
		}
	} else {
		local, _, _ := strings.Cut(childPath, "/")
		for _, c := range doc.children {
			if c.name.Local != local {
				continue
			}
			switch {
			case first.Code() == xsderrors.CodeValidationAttribute && len(c.attrs) > 0:
				if a, ok := firstForeignAttr(c.attrs); ok {
					return messageErrorf("attribute %s is not allowed on element %s in message", attrName(a), local)
				}
			case c.hasChild:
				return messageErrorf("element %s in message must contain only text, found child element %s",
					local, nameIn(c.grandchild, form))
			}
		}
	}
	return messageErrorf("invalid message: %s", located(first))
}

// sequenceProblem checks the children of <message> against the sequence
// topic, instanceId?, timestamp?, text?, info? in the given form (the
// namespace of the children, "" for unqualified) and describes the first
// violation, or returns "".
func sequenceProblem(doc *scanned, form string) string {
	pos := -1 // index in messageFields of the last child accepted
	for i, c := range doc.children {
		known := slices.Index(messageFields, c.name.Local)
		if known >= 0 && c.name.Space != form && (c.name.Space == "" || c.name.Space == MessageNamespace) {
			first := doc.children[0].name.Local
			if form == "" {
				return fmt.Sprintf("mixed element forms in message: the first child %s has no namespace but %s is in namespace %s (use one form for all children)",
					first, c.name.Local, MessageNamespace)
			}
			return fmt.Sprintf("mixed element forms in message: the first child %s is in namespace %s but %s has no namespace (use one form for all children)",
				first, MessageNamespace, c.name.Local)
		}
		if known < 0 || c.name.Space != form {
			return fmt.Sprintf("unexpected element %s in message (%s)", nameIn(c.name, form), expected(pos))
		}
		switch {
		case known == pos:
			return fmt.Sprintf("duplicate element %s in message (it may appear once)", c.name.Local)
		case known < pos:
			return fmt.Sprintf("element %s is out of order in message: it must come before %s", c.name.Local, messageFields[pos])
		case pos < 0 && known > 0:
			for _, later := range doc.children[i+1:] {
				if later.name.Local == "topic" {
					return fmt.Sprintf("element topic must be the first child of message (found %s first)", c.name.Local)
				}
			}
			return "missing required element topic in message"
		}
		pos = known
	}
	if pos < 0 {
		return "missing required element topic in message"
	}
	return ""
}

// expected describes what the sequence allows after messageFields[pos].
func expected(pos int) string {
	if pos < 0 {
		return "expected topic"
	}
	rest := messageFields[pos+1:]
	switch len(rest) {
	case 0:
		return "expected no element after " + messageFields[pos]
	case 1:
		return "expected " + rest[0]
	default:
		return "expected one of " + strings.Join(rest, ", ")
	}
}

// nameIn writes a name as the client wrote it relative to the message's
// form: the local name when it is in the form's namespace, else {ns}local.
func nameIn(n xml.Name, form string) string {
	if n.Space == form {
		return n.Local
	}
	return clark(n)
}

// clark writes a name in Clark notation, {namespace}local, or just local
// when it has no namespace.
func clark(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

func plainAttrs(attrs []xml.Attr) []xml.Attr {
	var out []xml.Attr
	for _, a := range attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// firstForeignAttr returns the first attribute the message schemas do not
// declare; xsi: attributes are the validator's to judge.
func firstForeignAttr(attrs []xml.Attr) (xml.Attr, bool) {
	for _, a := range attrs {
		if a.Name.Space != "http://www.w3.org/2001/XMLSchema-instance" {
			return a, true
		}
	}
	return xml.Attr{}, false
}

func attrName(a xml.Attr) string {
	if a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
		return "xml:" + a.Name.Local
	}
	return clark(a.Name)
}

// located renders a validator diagnostic with its position.
func located(e *xsderrors.Error) string {
	msg := e.Message()
	if e.Path() != "" && e.Path() != "/" {
		msg += " at " + e.Path()
	}
	if e.Line() > 0 {
		msg = fmt.Sprintf("line %d: %s", e.Line(), msg)
	}
	return msg
}

func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// truncate shortens text quoted in an error.
func truncate(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "..."
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

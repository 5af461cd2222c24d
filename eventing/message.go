package eventing

import (
	"bytes"
	"encoding/xml"
	"sync"
	"time"

	"github.com/beevik/etree"
)

// A Message is an event as a publisher sends it: the Cloud42 <message>.
// Topic is required; the other fields are free strings.
type Message struct {
	Topic      string
	InstanceID string
	Timestamp  string
	Text       string
	Info       string
}

// An Event is a Message accepted into the log. Events are shared between
// the subscriptions that deliver them and must not be modified.
type Event struct {
	// Seq is the event's position in the log: it increases by one with
	// every accepted event.
	Seq uint64
	// Received is when Herald accepted the event.
	Received time.Time
	Message

	xmlOnce sync.Once
	xml     []byte
	docOnce sync.Once
	doc     *etree.Document
}

// NewEvent returns the event at position seq.
func NewEvent(seq uint64, received time.Time, m Message) *Event {
	return &Event{Seq: seq, Received: received, Message: m}
}

// XML returns the event's <message> element in its canonical form: the
// message namespace as default namespace, the fields in schema order, empty
// optional fields left out. Built once; the caller must not modify it.
func (e *Event) XML() []byte {
	e.xmlOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(128 + len(e.Topic) + len(e.InstanceID) + len(e.Timestamp) + len(e.Text) + len(e.Info))
		b.WriteString(`<message xmlns="` + MessageNS + `">`)
		field := func(name, v string, always bool) {
			if v == "" && !always {
				return
			}
			b.WriteString("<" + name + ">")
			_ = xml.EscapeText(&b, []byte(v))
			b.WriteString("</" + name + ">")
		}
		field("topic", e.Topic, true)
		field("instanceId", e.InstanceID, false)
		field("timestamp", e.Timestamp, false)
		field("text", e.Text, false)
		field("info", e.Info, false)
		b.WriteString("</message>")
		e.xml = b.Bytes()
	})
	return e.xml
}

// Document returns the event as an XML document whose root is the
// <message> element; filters evaluate against it. Built once; read only.
func (e *Event) Document() *etree.Document {
	e.docOnce.Do(func() {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(e.XML()); err != nil {
			// XML() escapes every value, so this cannot happen; keep an
			// empty document rather than a nil one.
			doc = etree.NewDocument()
		}
		e.doc = doc
	})
	return e.doc
}

// Element returns a fresh copy of the <message> element, for writing into
// an envelope.
func (e *Event) Element() *etree.Element {
	return e.Document().Root().Copy()
}

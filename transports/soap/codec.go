package soap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/wsdl"
)

// fixedShape reports whether an operation's messages are decoded and
// encoded through the Go types generated from the WSDL: the Cloud42 and
// Herald operations, whose messages have a fixed shape. The WS-Eventing
// messages are mostly xs:any (Delivery, Filter, reference parameters) and
// are read as XML.
func fixedShape(op wsdl.Operation) bool {
	return op.Eventing == "" && op.Request != nil
}

// decode reads the payload into a new value of the operation's generated
// request type (a pointer). Children without a namespace are read as the
// payload's (Axis2 clients send them so). The tree is handed to
// encoding/xml as tokens (elementTokens), not written out and parsed again;
// the payloads of fastDecoders are read straight from the tree.
func decode(payload *etree.Element, op wsdl.Operation) (any, error) {
	if payload == nil {
		return nil, eventing.InvalidMessage(fmt.Sprintf("the Body is empty; %s takes {%s}%s", op.Name, op.Input.Space, op.Input.Local))
	}
	if fast := fastDecoders[op.Request]; fast != nil {
		if v, ok := fast(payload); ok {
			return v, nil
		}
	}
	return decodeTokens(payload, op)
}

// decodeTokens is decode through encoding/xml.
func decodeTokens(payload *etree.Element, op wsdl.Operation) (any, error) {
	v := reflect.New(op.Request)
	d := xml.NewTokenDecoder(&elementTokens{stack: []*tokenFrame{{el: payload, start: true}}, root: payload})
	if err := d.Decode(v.Interface()); err != nil {
		return nil, eventing.InvalidMessage(fmt.Sprintf("%s: %s", op.Name, strings.TrimPrefix(err.Error(), "XML syntax error on ")))
	}
	return v.Interface(), nil
}

// elementTokens reads an etree element as encoding/xml tokens with their
// namespaces resolved (the names encoding/xml matches struct tags with).
type elementTokens struct {
	root  *etree.Element
	stack []*tokenFrame
}

type tokenFrame struct {
	el    *etree.Element
	start bool // the start element is still to come
	next  int  // the next child token to read
}

// name is el's namespace-resolved name; a child of the root without a
// namespace takes the root's.
func (t *elementTokens) name(el *etree.Element) xml.Name {
	ns := el.NamespaceURI()
	if ns == "" && el.Parent() == t.root {
		ns = t.root.NamespaceURI()
	}
	return xml.Name{Space: ns, Local: el.Tag}
}

// Token implements xml.TokenReader.
func (t *elementTokens) Token() (xml.Token, error) {
	for len(t.stack) > 0 {
		f := t.stack[len(t.stack)-1]
		if f.start {
			f.start = false
			start := xml.StartElement{Name: t.name(f.el)}
			for _, a := range f.el.Attr {
				if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
					continue
				}
				start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Space: a.NamespaceURI(), Local: a.Key}, Value: a.Value})
			}
			return start, nil
		}
		if f.next < len(f.el.Child) {
			c := f.el.Child[f.next]
			f.next++
			switch c := c.(type) {
			case *etree.Element:
				t.stack = append(t.stack, &tokenFrame{el: c, start: true})
			case *etree.CharData:
				return xml.CharData(c.Data), nil
			}
			continue
		}
		t.stack = t.stack[:len(t.stack)-1]
		return xml.EndElement{Name: t.name(f.el)}, nil
	}
	return nil, io.EOF
}

// encode writes v, a pointer to the operation's generated response type,
// as an element whose namespace is bound to prefix (as the Cloud42 seed's
// responses are: <ns:subscribeResponse xmlns:ns="…"><ns:return>).
func encode(v any, op wsdl.Operation, prefix string) (*etree.Element, error) {
	if t := reflect.TypeOf(v); t.Kind() != reflect.Pointer || t.Elem() != op.Response {
		return nil, fmt.Errorf("soap: %s answers %v, but the WSDL's response type is %v", op.Name, t, op.Response)
	}
	if r, ok := v.(*wsdl.SubscribeResponse); ok && prefix == "ns" && op.Output.Space == eventing.ManagementNS && printable(r.Return_) {
		return subscribeResponse(r), nil
	}
	return encodeMarshalled(v, prefix)
}

// encodeMarshalled is encode through xml.Marshal.
func encodeMarshalled(v any, prefix string) (*etree.Element, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	doc, err := readTree(b)
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	ns := root.NamespaceURI()
	var walk func(*etree.Element)
	walk = func(e *etree.Element) {
		if e.NamespaceURI() == ns {
			e.Space = prefix
			e.RemoveAttr("xmlns")
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	root.CreateAttr("xmlns:"+prefix, ns)
	return root, nil
}

// subscribeResponse is encode's element for a Cloud42 subscribe's answer
// (every subscribe has one), built as the tree that encode reads back from
// xml.Marshal's output and renames: <ns:subscribeResponse xmlns:ns="…">
// <ns:return>id</ns:return>, without marshalling and reading it.
func subscribeResponse(r *wsdl.SubscribeResponse) *etree.Element {
	root := etree.NewElement("subscribeResponse")
	root.Space = "ns"
	ret := etree.NewElement("return")
	ret.Space = "ns"
	root.AddChild(ret)
	if r.Return_ != "" {
		c := etree.NewText("")
		c.SetData(r.Return_)
		ret.AddChild(c)
	}
	root.CreateAttr("xmlns:ns", eventing.ManagementNS)
	return root
}

// printable reports whether v is printable ASCII, which xml.Marshal writes
// so that reading it back gives v (it replaces what XML cannot carry).
func printable(v string) bool {
	for i := range len(v) {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// An encoder is a reusable xml.Encoder and its output: xml.Marshal
// allocates a 4 KiB buffer for each value, and every answer of a fixed
// shape encodes one.
type encoder struct {
	buf bytes.Buffer
	enc *xml.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = xml.NewEncoder(&e.buf)
	return e
}}

// marshal is xml.Marshal(v) through a pooled encoder.
func marshal(v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	e.buf.Reset()
	err := e.enc.Encode(v)
	out := bytes.Clone(e.buf.Bytes())
	if err == nil {
		encoders.Put(e) // after an error the encoder's state is unknown
	}
	return out, err
}

// bodyOf turns a handler's typed answer into the Body's element.
func bodyOf(r *Response, op wsdl.Operation) error {
	if r.Value == nil {
		return nil
	}
	prefix := "ns"
	if op.Output.Space == eventing.HeraldNS {
		prefix = "h"
	}
	el, err := encode(r.Value, op, prefix)
	if err != nil {
		return err
	}
	r.Body = append([]*etree.Element{el}, r.Body...)
	r.Value = nil
	return nil
}

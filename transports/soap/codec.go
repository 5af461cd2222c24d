package soap

import (
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
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
// payload's (Axis2 clients send them so).
func decode(payload *etree.Element, op wsdl.Operation) (any, error) {
	if payload == nil {
		return nil, eventing.InvalidMessage(fmt.Sprintf("the Body is empty; %s takes {%s}%s", op.Name, op.Input.Space, op.Input.Local))
	}
	el := addressing.Detach(payload)
	ns := el.NamespaceURI()
	for _, c := range el.ChildElements() {
		if c.Space == "" && c.NamespaceURI() == "" {
			c.CreateAttr("xmlns", ns)
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	v := reflect.New(op.Request)
	if err := xml.Unmarshal(b, v.Interface()); err != nil {
		return nil, eventing.InvalidMessage(fmt.Sprintf("%s: %s", op.Name, strings.TrimPrefix(err.Error(), "XML syntax error on ")))
	}
	return v.Interface(), nil
}

// encode writes v, a pointer to the operation's generated response type,
// as an element whose namespace is bound to prefix (as the Cloud42 seed's
// responses are: <ns:subscribeResponse xmlns:ns="…"><ns:return>).
func encode(v any, op wsdl.Operation, prefix string) (*etree.Element, error) {
	if t := reflect.TypeOf(v); t.Kind() != reflect.Pointer || t.Elem() != op.Response {
		return nil, fmt.Errorf("soap: %s answers %v, but the WSDL's response type is %v", op.Name, t, op.Response)
	}
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
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

// Package wsdlops reads the operation table of a WSDL 1.1 document: per
// operation of every port type, its input and output actions and SOAP Body
// elements, the URL path of the port offering it and the WS-Eventing
// version of its port type.
//
// Package wsdl's tests and the generator in ../gen use it; the server reads
// the table generated from it (wsdl/operations.gen.go), not the WSDL.
package wsdlops

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/beevik/etree"
)

// Namespaces of the WSDL vocabulary.
const (
	NSWSDL   = "http://schemas.xmlsoap.org/wsdl/"
	NSSOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
	NSSOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
	NSWSAM   = "http://www.w3.org/2007/05/addressing/metadata"
	NSWSAW   = "http://www.w3.org/2006/05/addressing/wsdl"
	NSXS     = "http://www.w3.org/2001/XMLSchema"
)

// The WS-Eventing namespaces Operation.Eventing takes.
const (
	Eventing2004 = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	Eventing2011 = "http://www.w3.org/2011/03/ws-evt"
)

// Operation is one operation of a port type, as the WSDL declares it. The
// fields mean what the fields of the same name of wsdl.Operation mean.
type Operation struct {
	Name           string
	PortType       string
	Action         string
	ResponseAction string
	Input          xml.Name
	Output         xml.Name
	OneWay         bool
	Path           string
	Eventing       string
	WSDL           string
}

// Compare orders operations by Name, then Eventing, PortType and WSDL: the
// order of the generated table.
func Compare(a, b Operation) int {
	return cmp.Or(
		strings.Compare(a.Name, b.Name),
		strings.Compare(a.Eventing, b.Eventing),
		strings.Compare(a.PortType, b.PortType),
		strings.Compare(a.WSDL, b.WSDL),
	)
}

// Parse returns the operations of every port type of the WSDL whose root
// (wsdl:definitions) is root, sorted with Compare; file is the name of the
// document, for Operation.WSDL.
func Parse(root *etree.Element, file string) ([]Operation, error) {
	tns := root.SelectAttrValue("targetNamespace", "")
	local := func(e *etree.Element, attr string) (string, error) {
		v := e.SelectAttrValue(attr, "")
		ns, name := ResolveQName(e, v)
		if ns != tns || name == "" {
			return "", fmt.Errorf("<%s %s=%q>: not a name in the target namespace %s", e.FullTag(), attr, v, tns)
		}
		return name, nil
	}

	messages := map[string]*etree.Element{}
	for _, m := range ChildrenNS(root, NSWSDL, "message") {
		messages[m.SelectAttrValue("name", "")] = m
	}

	// Bindings per port type, and the URL path of the first port offering
	// each port type.
	bindings := map[string][]*etree.Element{}
	bindingType := map[string]string{}
	for _, b := range ChildrenNS(root, NSWSDL, "binding") {
		pt, err := local(b, "type")
		if err != nil {
			return nil, err
		}
		bindings[pt] = append(bindings[pt], b)
		bindingType[b.SelectAttrValue("name", "")] = pt
	}
	paths := map[string]string{}
	for _, svc := range ChildrenNS(root, NSWSDL, "service") {
		for _, port := range ChildrenNS(svc, NSWSDL, "port") {
			b, err := local(port, "binding")
			if err != nil {
				return nil, err
			}
			pt, ok := bindingType[b]
			if !ok {
				return nil, fmt.Errorf("port %s: undefined binding %s", port.SelectAttrValue("name", ""), b)
			}
			for _, addr := range port.ChildElements() {
				if addr.Tag != "address" || !IsSOAPNamespace(addr.NamespaceURI()) {
					continue
				}
				u, err := url.Parse(addr.SelectAttrValue("location", ""))
				if err != nil {
					return nil, fmt.Errorf("port %s: location: %w", port.SelectAttrValue("name", ""), err)
				}
				if _, seen := paths[pt]; !seen {
					paths[pt] = u.Path
				}
			}
		}
	}

	var ops []Operation
	for _, pt := range ChildrenNS(root, NSWSDL, "portType") {
		ptName := pt.SelectAttrValue("name", "")
		var ptOps []Operation
		for _, opEl := range ChildrenNS(pt, NSWSDL, "operation") {
			op := Operation{
				Name:     opEl.SelectAttrValue("name", ""),
				PortType: ptName,
				Path:     paths[ptName],
				WSDL:     file,
			}
			bound := boundOperations(bindings[ptName], op.Name)
			in := FirstChildNS(opEl, NSWSDL, "input")
			if in == nil {
				return nil, fmt.Errorf("operation %s: no input (notification operations are not supported)", op.Name)
			}
			msgName, err := local(in, "message")
			if err != nil {
				return nil, fmt.Errorf("operation %s input: %w", op.Name, err)
			}
			if op.Input, err = bodyElement(messages[msgName], msgName, bound, "input"); err != nil {
				return nil, fmt.Errorf("operation %s input: %w", op.Name, err)
			}
			op.Action = action(in)
			if op.Action == "" {
				op.Action = SOAPAction(bound)
			}
			out := FirstChildNS(opEl, NSWSDL, "output")
			op.OneWay = out == nil
			if out != nil {
				msgName, err := local(out, "message")
				if err != nil {
					return nil, fmt.Errorf("operation %s output: %w", op.Name, err)
				}
				if op.Output, err = bodyElement(messages[msgName], msgName, bound, "output"); err != nil {
					return nil, fmt.Errorf("operation %s output: %w", op.Name, err)
				}
				op.ResponseAction = action(out)
			}
			ptOps = append(ptOps, op)
		}
		eventing, err := eventingOf(ptOps)
		if err != nil {
			return nil, fmt.Errorf("port type %s: %w", ptName, err)
		}
		for i := range ptOps {
			ptOps[i].Eventing = eventing
		}
		ops = append(ops, ptOps...)
	}
	slices.SortFunc(ops, Compare)
	return ops, nil
}

// eventingOf returns the WS-Eventing namespace of the Body elements of a
// port type's operations: Eventing2004 or Eventing2011 when some are in it,
// "" when none is in either.
func eventingOf(ops []Operation) (string, error) {
	found := ""
	for _, op := range ops {
		for _, n := range []xml.Name{op.Input, op.Output} {
			if n.Space != Eventing2004 && n.Space != Eventing2011 {
				continue
			}
			if found != "" && found != n.Space {
				return "", fmt.Errorf("messages of both WS-Eventing versions (%s, %s)", found, n.Space)
			}
			found = n.Space
		}
	}
	return found, nil
}

// boundOperations returns the wsdl:operation elements of the bindings that
// bind the operation name.
func boundOperations(bindings []*etree.Element, name string) []*etree.Element {
	var out []*etree.Element
	for _, b := range bindings {
		for _, op := range ChildrenNS(b, NSWSDL, "operation") {
			if op.SelectAttrValue("name", "") == name {
				out = append(out, op)
			}
		}
	}
	return out
}

// bodyElement returns the element of the message part that goes in the
// SOAP Body: the part named by soap:body/@parts, else the first part not
// bound as a soap:header. A message without parts has an empty Body.
func bodyElement(msg *etree.Element, name string, bound []*etree.Element, dir string) (xml.Name, error) {
	if msg == nil {
		return xml.Name{}, fmt.Errorf("undefined message %s", name)
	}
	var bodyParts, headerParts []string
	for _, op := range bound {
		io := FirstChildNS(op, NSWSDL, dir)
		if io == nil {
			continue
		}
		for _, c := range io.ChildElements() {
			if !IsSOAPNamespace(c.NamespaceURI()) {
				continue
			}
			switch c.Tag {
			case "body":
				if p := c.SelectAttrValue("parts", ""); p != "" {
					bodyParts = append(bodyParts, strings.Fields(p)...)
				}
			case "header":
				headerParts = append(headerParts, c.SelectAttrValue("part", ""))
			}
		}
	}
	for _, part := range ChildrenNS(msg, NSWSDL, "part") {
		pn := part.SelectAttrValue("name", "")
		if len(bodyParts) > 0 && !slices.Contains(bodyParts, pn) {
			continue
		}
		if len(bodyParts) == 0 && slices.Contains(headerParts, pn) {
			continue
		}
		el := part.SelectAttrValue("element", "")
		if el == "" {
			return xml.Name{}, fmt.Errorf("message %s part %s: no element attribute (only document/literal is supported)", name, pn)
		}
		ns, local := ResolveQName(part, el)
		if ns == "" {
			return xml.Name{}, fmt.Errorf("message %s part %s: unbound prefix in %q", name, pn, el)
		}
		return xml.Name{Space: ns, Local: local}, nil
	}
	return xml.Name{}, nil
}

// action returns the wsam:Action, else the wsaw:Action, of an input or
// output element.
func action(e *etree.Element) string {
	if a := AttrNS(e, NSWSAM, "Action"); a != "" {
		return a
	}
	return AttrNS(e, NSWSAW, "Action")
}

// SOAPAction returns the first non-empty soapAction of the bound
// operations (wsdl:operation elements of bindings).
func SOAPAction(bound []*etree.Element) string {
	for _, op := range bound {
		for _, c := range op.ChildElements() {
			if c.Tag == "operation" && IsSOAPNamespace(c.NamespaceURI()) {
				if a := c.SelectAttrValue("soapAction", ""); a != "" {
					return a
				}
			}
		}
	}
	return ""
}

// IsSOAPNamespace reports whether ns is the WSDL SOAP 1.1 or SOAP 1.2
// binding namespace.
func IsSOAPNamespace(ns string) bool {
	return ns == NSSOAP11 || ns == NSSOAP12
}

// ChildrenNS returns the child elements of e with the namespace and local
// name.
func ChildrenNS(e *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// FirstChildNS returns the first child element of e with the namespace and
// local name, or nil.
func FirstChildNS(e *etree.Element, ns, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// AttrNS returns the value of the attribute {ns}local of e, or "".
func AttrNS(e *etree.Element, ns, local string) string {
	for i := range e.Attr {
		a := &e.Attr[i]
		if a.Key == local && a.Space != "" && a.NamespaceURI() == ns {
			return a.Value
		}
	}
	return ""
}

// ResolveQName resolves a prefixed name written in an attribute value of e
// against the namespace declarations in scope.
func ResolveQName(e *etree.Element, qname string) (ns, local string) {
	prefix, local, ok := strings.Cut(qname, ":")
	if !ok {
		prefix, local = "", qname
	}
	for el := e; el != nil; el = el.Parent() {
		for _, a := range el.Attr {
			if prefix == "" && a.Space == "" && a.Key == "xmlns" {
				return a.Value, local
			}
			if prefix != "" && a.Space == "xmlns" && a.Key == prefix {
				return a.Value, local
			}
		}
	}
	return "", local
}

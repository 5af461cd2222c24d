package wsdl

import (
	_ "embed"
	"encoding/xml"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// Namespaces of the WSDL vocabulary used by herald.wsdl.
const (
	nsWSDL   = "http://schemas.xmlsoap.org/wsdl/"
	nsSOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
	nsSOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
	nsWSAM   = "http://www.w3.org/2007/05/addressing/metadata"
	nsWSAW   = "http://www.w3.org/2006/05/addressing/wsdl"
	nsXS     = "http://www.w3.org/2001/XMLSchema"
)

// file is the name of the embedded WSDL document.
const file = "herald.wsdl"

// source is the embedded WSDL, as written (relative schema locations,
// localhost port addresses). Read-only.
//
//go:embed herald.wsdl
var source []byte

// Operation is one operation of a port type of the WSDL.
type Operation struct {
	// Name is the WSDL operation name, e.g. "subscribe" or "RenewOp".
	Name string
	// PortType is the name of the port type that declares it.
	PortType string
	// Action is the WS-Addressing action of the input message (wsam:Action,
	// else wsaw:Action, else the binding's soapAction).
	Action string
	// ResponseAction is the action of the output message (wsam:Action,
	// else wsaw:Action); empty for one-way operations.
	ResponseAction string
	// Input is the qualified name of the SOAP Body element of the input
	// message (its header parts excluded).
	Input xml.Name
	// Output is the qualified name of the SOAP Body element of the output
	// message; zero for one-way operations and for outputs with an empty
	// Body (the WS-Eventing 2004/08 UnsubscribeResponse).
	Output xml.Name
	// OneWay reports an operation without output.
	OneWay bool
	// Path is the URL path of the service port offering the port type
	// ("/eventing", "/subscriptions"); empty when no port offers it.
	Path string
}

// parsed is the embedded WSDL, parsed once. It is never modified: Document
// works on a copy.
var parsed = sync.OnceValues(func() (*etree.Document, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(source); err != nil {
		return nil, fmt.Errorf("parse embedded %s: %w", file, err)
	}
	if r := doc.Root(); r == nil || r.Tag != "definitions" || r.NamespaceURI() != nsWSDL {
		return nil, fmt.Errorf("embedded %s: root element is not wsdl:definitions", file)
	}
	return doc, nil
})

// operations is the operation table, computed once.
var operations = sync.OnceValues(func() ([]Operation, error) {
	doc, err := parsed()
	if err != nil {
		return nil, err
	}
	return parseOperations(doc.Root())
})

// Operations returns the operations of all port types of the embedded WSDL,
// sorted by name (then port type). The slice is the caller's. It panics if
// the embedded WSDL is inconsistent, which the package tests rule out.
func Operations() []Operation {
	ops, err := operations()
	if err != nil {
		panic(err)
	}
	return slices.Clone(ops)
}

func parseOperations(root *etree.Element) ([]Operation, error) {
	tns := root.SelectAttrValue("targetNamespace", "")
	local := func(e *etree.Element, attr string) (string, error) {
		v := e.SelectAttrValue(attr, "")
		ns, name := resolveQName(e, v)
		if ns != tns || name == "" {
			return "", fmt.Errorf("<%s %s=%q>: not a name in the target namespace %s", e.FullTag(), attr, v, tns)
		}
		return name, nil
	}

	messages := map[string]*etree.Element{}
	for _, m := range childrenNS(root, nsWSDL, "message") {
		messages[m.SelectAttrValue("name", "")] = m
	}

	// Bindings per port type, and the URL path of the first port offering
	// each port type.
	bindings := map[string][]*etree.Element{}
	bindingType := map[string]string{}
	for _, b := range childrenNS(root, nsWSDL, "binding") {
		pt, err := local(b, "type")
		if err != nil {
			return nil, err
		}
		bindings[pt] = append(bindings[pt], b)
		bindingType[b.SelectAttrValue("name", "")] = pt
	}
	paths := map[string]string{}
	for _, svc := range childrenNS(root, nsWSDL, "service") {
		for _, port := range childrenNS(svc, nsWSDL, "port") {
			b, err := local(port, "binding")
			if err != nil {
				return nil, err
			}
			pt, ok := bindingType[b]
			if !ok {
				return nil, fmt.Errorf("port %s: undefined binding %s", port.SelectAttrValue("name", ""), b)
			}
			for _, addr := range port.ChildElements() {
				if addr.Tag != "address" || !isSOAPNamespace(addr.NamespaceURI()) {
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
	for _, pt := range childrenNS(root, nsWSDL, "portType") {
		ptName := pt.SelectAttrValue("name", "")
		for _, opEl := range childrenNS(pt, nsWSDL, "operation") {
			op := Operation{
				Name:     opEl.SelectAttrValue("name", ""),
				PortType: ptName,
				Path:     paths[ptName],
			}
			bound := boundOperations(bindings[ptName], op.Name)
			in := firstChildNS(opEl, nsWSDL, "input")
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
				op.Action = soapAction(bound)
			}
			out := firstChildNS(opEl, nsWSDL, "output")
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
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(a, b Operation) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.PortType, b.PortType)
	})
	return ops, nil
}

// boundOperations returns the wsdl:operation elements of the bindings that
// bind the operation name.
func boundOperations(bindings []*etree.Element, name string) []*etree.Element {
	var out []*etree.Element
	for _, b := range bindings {
		for _, op := range childrenNS(b, nsWSDL, "operation") {
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
		io := firstChildNS(op, nsWSDL, dir)
		if io == nil {
			continue
		}
		for _, c := range io.ChildElements() {
			if !isSOAPNamespace(c.NamespaceURI()) {
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
	for _, part := range childrenNS(msg, nsWSDL, "part") {
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
		ns, local := resolveQName(part, el)
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
	if a := attrNS(e, nsWSAM, "Action"); a != "" {
		return a
	}
	return attrNS(e, nsWSAW, "Action")
}

// soapAction returns the first non-empty soapAction of the bound operations.
func soapAction(bound []*etree.Element) string {
	for _, op := range bound {
		for _, c := range op.ChildElements() {
			if c.Tag == "operation" && isSOAPNamespace(c.NamespaceURI()) {
				if a := c.SelectAttrValue("soapAction", ""); a != "" {
					return a
				}
			}
		}
	}
	return ""
}

// Document returns the WSDL as served under base (scheme and host, e.g.
// "http://127.0.0.1:8080", a trailing slash is ignored): every
// soap:address and soap12:address location becomes base plus the path of
// the original location, and every relative schemaLocation becomes
// base + "/xsd/" + its file name, where package xsd serves the schemas.
func Document(base string) []byte {
	doc, err := parsed()
	if err != nil {
		panic(err)
	}
	base = strings.TrimRight(base, "/")
	cp := doc.Copy()
	rewrite(&cp.Element, base)
	out, err := cp.WriteToBytes()
	if err != nil {
		// Writing to memory only fails on a broken tree; the copy of a
		// parsed document is not one.
		panic(fmt.Errorf("serialize %s: %w", file, err))
	}
	return out
}

func rewrite(e *etree.Element, base string) {
	for _, c := range e.ChildElements() {
		switch {
		case c.Tag == "address" && isSOAPNamespace(c.NamespaceURI()):
			if a := c.SelectAttr("location"); a != nil {
				if u, err := url.Parse(a.Value); err == nil {
					loc := base + u.EscapedPath()
					if u.RawQuery != "" {
						loc += "?" + u.RawQuery
					}
					a.Value = loc
				}
			}
		case (c.Tag == "import" || c.Tag == "include") && c.NamespaceURI() == nsXS:
			if a := c.SelectAttr("schemaLocation"); a != nil {
				if u, err := url.Parse(a.Value); err == nil && !u.IsAbs() && u.Host == "" {
					a.Value = base + "/xsd/" + path.Base(u.Path)
				}
			}
		}
		rewrite(c, base)
	}
}

func isSOAPNamespace(ns string) bool {
	return ns == nsSOAP11 || ns == nsSOAP12
}

func childrenNS(e *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

func firstChildNS(e *etree.Element, ns, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// attrNS returns the value of the attribute {ns}local of e, or "".
func attrNS(e *etree.Element, ns, local string) string {
	for i := range e.Attr {
		a := &e.Attr[i]
		if a.Key == local && a.Space != "" && a.NamespaceURI() == ns {
			return a.Value
		}
	}
	return ""
}

// resolveQName resolves a prefixed name written in an attribute value of e
// against the namespace declarations in scope.
func resolveQName(e *etree.Element, qname string) (ns, local string) {
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

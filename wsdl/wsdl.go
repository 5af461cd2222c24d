package wsdl

import (
	_ "embed"
	"encoding/xml"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// Namespaces of the WSDL vocabulary used by the WSDLs.
const (
	nsWSDL   = "http://schemas.xmlsoap.org/wsdl/"
	nsSOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
	nsSOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
	nsXS     = "http://www.w3.org/2001/XMLSchema"
)

// The WS-Eventing namespaces an Operation's Eventing field takes.
const (
	// Eventing2004 is WS-Eventing 2004/08 (the 2006 member submission).
	Eventing2004 = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	// Eventing2011 is WS-Eventing, W3C Recommendation 2011.
	Eventing2011 = "http://www.w3.org/2011/03/ws-evt"
)

// The embedded WSDL documents, by file name (an Operation's WSDL field).
const (
	// File is herald.wsdl: Cloud42 management, WS-Eventing 2004/08 and
	// Herald's own operations, served at GET /eventing?wsdl.
	File = "herald.wsdl"
	// File2011 is eventing-2011.wsdl: WS-Eventing 2011, served at
	// GET /eventing?wsdl=2011 (wsdl=Query2011).
	File2011 = "eventing-2011.wsdl"
)

// Query2011 is the value of the query parameter wsdl that selects the 2011
// WSDL: GET /eventing?wsdl=2011. See DocumentFor.
const Query2011 = "2011"

// placeholderOrigin is the origin of the port addresses and links as
// written in the WSDLs; Document replaces it with the origin served.
const placeholderOrigin = "http://localhost:8080"

// The embedded WSDLs, as written (relative schema locations, localhost port
// addresses). Read-only.
var (
	//go:embed herald.wsdl
	source []byte
	//go:embed eventing-2011.wsdl
	source2011 []byte
)

// Operation is one operation of a port type of one of the WSDLs.
type Operation struct {
	// Name is the WSDL operation name, e.g. "subscribe" or "RenewOp".
	// Names repeat across the WSDLs (SubscribeOp of both WS-Eventing
	// versions); the pair (Name, Eventing) is unique.
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
	// Eventing is the WS-Eventing namespace of the port type (Eventing2004
	// or Eventing2011: the namespace its messages' Body elements are in), or
	// "" for the Cloud42 and Herald operations.
	Eventing string
	// WSDL is the file name of the WSDL that declares the operation (File
	// or File2011).
	WSDL string
	// Request is the generated Go struct type (types.gen.go) of the Input
	// element, nil when none is generated (the WS-Eventing 2011 messages,
	// for which no types are generated). reflect.New(Request) is a pointer
	// to decode the Body element into with encoding/xml.
	Request reflect.Type
	// Response is the generated Go struct type of the Output element, nil
	// when there is none (one-way, an empty Body, or no generated type).
	Response reflect.Type
}

// Operations returns the operations of herald.wsdl (Cloud42 management,
// WS-Eventing 2004/08 and Herald's operations), sorted by name (then port
// type). The table is generated from the WSDL by "go generate"
// (operations.gen.go); the slice is the caller's.
func Operations() []Operation {
	return operationsOf(File)
}

// Operations2011 returns the operations of eventing-2011.wsdl (WS-Eventing
// 2011), sorted by name (then port type). The slice is the caller's.
func Operations2011() []Operation {
	return operationsOf(File2011)
}

// AllOperations returns the operations of both WSDLs, sorted by name, then
// Eventing, then port type. The slice is the caller's.
func AllOperations() []Operation {
	return generatedOperations()
}

func operationsOf(file string) []Operation {
	return slices.DeleteFunc(generatedOperations(), func(op Operation) bool { return op.WSDL != file })
}

// parsedDoc parses one embedded WSDL once. The result is never modified:
// Document works on a copy.
func parsedDoc(file string, src []byte) func() (*etree.Document, error) {
	return sync.OnceValues(func() (*etree.Document, error) {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(src); err != nil {
			return nil, fmt.Errorf("parse embedded %s: %w", file, err)
		}
		if r := doc.Root(); r == nil || r.Tag != "definitions" || r.NamespaceURI() != nsWSDL {
			return nil, fmt.Errorf("embedded %s: root element is not wsdl:definitions", file)
		}
		return doc, nil
	})
}

// The embedded WSDLs, parsed on first use.
var (
	parsed     = parsedDoc(File, source)
	parsed2011 = parsedDoc(File2011, source2011)
)

// Document returns herald.wsdl as served under base (scheme and host, e.g.
// "http://127.0.0.1:8080", a trailing slash is ignored): every
// soap:address and soap12:address location becomes base plus the path of
// the original location, every relative schemaLocation becomes
// base + "/xsd/" + its file name, where package xsd serves the schemas, and
// the link to the 2011 WSDL in its wsdl:documentation becomes
// base + "/eventing?wsdl=2011".
func Document(base string) []byte {
	return document(parsed, File, base)
}

// Document2011 returns eventing-2011.wsdl as served under base, rewritten
// like Document.
func Document2011(base string) []byte {
	return document(parsed2011, File2011, base)
}

// DocumentFor returns the WSDL that GET /eventing?wsdl=value selects, as
// served under base: herald.wsdl for an empty value (GET /eventing?wsdl),
// eventing-2011.wsdl for Query2011. It reports false for any other value.
func DocumentFor(value, base string) ([]byte, bool) {
	switch value {
	case "":
		return Document(base), true
	case Query2011:
		return Document2011(base), true
	}
	return nil, false
}

func document(parse func() (*etree.Document, error), file, base string) []byte {
	doc, err := parse()
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
		case c.Tag == "documentation" && c.NamespaceURI() == nsWSDL:
			// Links to Herald's own URLs are written with the placeholder
			// origin of the port addresses.
			for _, tok := range c.Child {
				if cd, ok := tok.(*etree.CharData); ok && strings.Contains(cd.Data, placeholderOrigin+"/") {
					cd.Data = strings.ReplaceAll(cd.Data, placeholderOrigin+"/", base+"/")
				}
			}
		}
		rewrite(c, base)
	}
}

func isSOAPNamespace(ns string) bool {
	return ns == nsSOAP11 || ns == nsSOAP12
}

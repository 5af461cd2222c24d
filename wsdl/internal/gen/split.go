package main

import (
	"fmt"
	"github.com/herald-eventing/herald/wsdl/internal/wsdlops"
	"path/filepath"
	"slices"

	"github.com/beevik/etree"
)

const (
	nsWSDL   = "http://schemas.xmlsoap.org/wsdl/"
	nsSOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
	nsXS     = "http://www.w3.org/2001/XMLSchema"
)

// definitions is the parsed source WSDL.
type definitions struct {
	docPath string
	doc     *etree.Document
	root    *etree.Element
	tns     string
	imports []schemaImport    // xs:imports of wsdl:types, in document order
	prefix  map[string]string // namespace -> prefix declared on wsdl:definitions
}

// schemaImport is one xs:import of the WSDL's types section.
type schemaImport struct {
	namespace string
	file      string // absolute path
}

// genRun is one gowsdl invocation.
type genRun struct {
	portType    string // empty for the run of schemas no port type uses
	doc         *etree.Document
	schemaFiles []string // absolute paths of the imported schemas
}

func (r *genRun) describe() string {
	if r.portType == "" {
		return "the schemas no port type uses"
	}
	return "port type " + r.portType
}

func loadDefinitions(path string) (*definitions, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(path); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "definitions" || root.NamespaceURI() != nsWSDL {
		return nil, fmt.Errorf("%s: root element is not wsdl:definitions", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("absolute path of %s: %w", path, err)
	}
	d := &definitions{
		docPath: path,
		doc:     doc,
		root:    root,
		tns:     root.SelectAttrValue("targetNamespace", ""),
		prefix:  map[string]string{},
	}
	for _, a := range root.Attr {
		if a.Space == "xmlns" {
			if _, dup := d.prefix[a.Value]; !dup {
				d.prefix[a.Value] = a.Key
			}
		}
	}
	for _, types := range children(root, nsWSDL, "types") {
		for _, schema := range children(types, nsXS, "schema") {
			for _, imp := range children(schema, nsXS, "import") {
				loc := imp.SelectAttrValue("schemaLocation", "")
				ns := imp.SelectAttrValue("namespace", "")
				if loc == "" || ns == "" {
					return nil, fmt.Errorf("%s: xs:import needs namespace and schemaLocation", path)
				}
				d.imports = append(d.imports, schemaImport{
					namespace: ns,
					file:      filepath.Join(filepath.Dir(abs), filepath.FromSlash(loc)),
				})
			}
		}
	}
	return d, nil
}

// split returns one run per port type, in document order, and a last run for
// the imported schemas that no port type's messages use.
func (d *definitions) split() ([]*genRun, error) {
	messages := map[string]*etree.Element{}
	for _, m := range children(d.root, nsWSDL, "message") {
		messages[m.SelectAttrValue("name", "")] = m
	}
	used := map[string]bool{}
	var runs []*genRun
	for _, pt := range children(d.root, nsWSDL, "portType") {
		name := pt.SelectAttrValue("name", "")
		r, namespaces, err := d.portTypeRun(pt, name, messages)
		if err != nil {
			return nil, fmt.Errorf("port type %s: %w", name, err)
		}
		for _, ns := range namespaces {
			used[ns] = true
		}
		runs = append(runs, r)
	}
	var rest []schemaImport
	for _, imp := range d.imports {
		if !used[imp.namespace] {
			rest = append(rest, imp)
		}
	}
	if len(rest) > 0 {
		doc, defs := d.newDoc()
		files := addTypes(defs, rest)
		runs = append(runs, &genRun{doc: doc, schemaFiles: files})
	}
	return runs, nil
}

func (d *definitions) portTypeRun(pt *etree.Element, name string, messages map[string]*etree.Element) (*genRun, []string, error) {
	doc, defs := d.newDoc()

	// Messages of the operations, in document order, each once.
	var msgs []*etree.Element
	for _, op := range children(pt, nsWSDL, "operation") {
		for _, io := range op.ChildElements() {
			if io.NamespaceURI() != nsWSDL || (io.Tag != "input" && io.Tag != "output" && io.Tag != "fault") {
				continue
			}
			ns, local := wsdlops.ResolveQName(io, io.SelectAttrValue("message", ""))
			if ns != d.tns {
				return nil, nil, fmt.Errorf("message %s:%s is not in the target namespace", ns, local)
			}
			m := messages[local]
			if m == nil {
				return nil, nil, fmt.Errorf("operation %s: undefined message %s", op.SelectAttrValue("name", ""), local)
			}
			if !slices.Contains(msgs, m) {
				msgs = append(msgs, m)
			}
		}
	}

	// Namespaces of the message parts select the schemas.
	var namespaces []string
	for _, m := range msgs {
		for _, part := range children(m, nsWSDL, "part") {
			el := part.SelectAttrValue("element", "")
			if el == "" {
				return nil, nil, fmt.Errorf("message %s: part %s has no element (only document/literal is supported)",
					m.SelectAttrValue("name", ""), part.SelectAttrValue("name", ""))
			}
			ns, _ := wsdlops.ResolveQName(part, el)
			if !slices.Contains(namespaces, ns) {
				namespaces = append(namespaces, ns)
			}
		}
	}
	var imps []schemaImport
	for _, ns := range namespaces {
		i := slices.IndexFunc(d.imports, func(imp schemaImport) bool { return imp.namespace == ns })
		if i < 0 {
			return nil, nil, fmt.Errorf("no xs:import in wsdl:types for namespace %s", ns)
		}
		imps = append(imps, d.imports[i])
	}
	files := addTypes(defs, imps)

	for _, m := range msgs {
		defs.AddChild(m.Copy())
	}
	defs.AddChild(pt.Copy())
	// Only SOAP 1.1 bindings: gowsdl ignores SOAP 1.2 ones and would read
	// an empty soapAction from them.
	for _, b := range children(d.root, nsWSDL, "binding") {
		ns, local := wsdlops.ResolveQName(b, b.SelectAttrValue("type", ""))
		if ns == d.tns && local == name && len(children(b, nsSOAP11, "binding")) > 0 {
			defs.AddChild(b.Copy())
		}
	}
	return &genRun{portType: name, doc: doc, schemaFiles: files}, namespaces, nil
}

// newDoc returns an empty copy of wsdl:definitions with all its attributes
// (namespace declarations included).
func (d *definitions) newDoc() (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	defs := doc.CreateElement(d.root.FullTag())
	for _, a := range d.root.Attr {
		defs.CreateAttr(a.FullKey(), a.Value)
	}
	return doc, defs
}

// addTypes adds a wsdl:types section importing imps by absolute path and
// returns those paths.
func addTypes(defs *etree.Element, imps []schemaImport) []string {
	wsdlPrefix := defs.Space
	xsPrefix := "xs"
	types := defs.CreateElement(qualify(wsdlPrefix, "types"))
	schema := types.CreateElement(qualify(xsPrefix, "schema"))
	schema.CreateAttr("xmlns:"+xsPrefix, nsXS)
	var files []string
	for _, imp := range imps {
		e := schema.CreateElement(qualify(xsPrefix, "import"))
		e.CreateAttr("namespace", imp.namespace)
		e.CreateAttr("schemaLocation", imp.file)
		files = append(files, imp.file)
	}
	return files
}

func qualify(prefix, local string) string {
	if prefix == "" {
		return local
	}
	return prefix + ":" + local
}

// children returns the child elements of e with the given namespace and
// local name.
func children(e *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

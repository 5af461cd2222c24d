package main

import (
	"fmt"
	"github.com/herald-eventing/herald/wsdl/internal/wsdlops"
	"path/filepath"
	"unicode"

	"github.com/beevik/etree"
)

// component is a global schema component gowsdl turns into a Go type.
type component struct {
	namespace string
	kind      string // "element", "complexType" or "simpleType"
	el        *etree.Element
}

// schemaIndex maps the Go type name gowsdl gives a global component to it.
type schemaIndex map[string][]component

// indexSchemas reads the schemas at files and, transitively, everything they
// import or include, the way gowsdl does.
func indexSchemas(files []string) (schemaIndex, error) {
	idx := schemaIndex{}
	seen := map[string]bool{}
	var visit func(file string) error
	visit = func(file string) error {
		if seen[file] {
			return nil
		}
		seen[file] = true
		doc := etree.NewDocument()
		if err := doc.ReadFromFile(file); err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		root := doc.Root()
		if root == nil || root.Tag != "schema" || root.NamespaceURI() != nsXS {
			return fmt.Errorf("%s: root element is not xs:schema", file)
		}
		tns := root.SelectAttrValue("targetNamespace", "")
		for _, c := range root.ChildElements() {
			if c.NamespaceURI() != nsXS {
				continue
			}
			switch c.Tag {
			case "element", "complexType", "simpleType":
				name := goTypeName(c.SelectAttrValue("name", ""))
				idx[name] = append(idx[name], component{namespace: tns, kind: c.Tag, el: c})
			case "import", "include":
				if loc := c.SelectAttrValue("schemaLocation", ""); loc != "" {
					next := loc
					if !filepath.IsAbs(next) {
						next = filepath.Join(filepath.Dir(file), filepath.FromSlash(loc))
					}
					if err := visit(next); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, f := range files {
		if err := visit(f); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// structComponent returns the component that gowsdl turned into the struct
// type name: a global complex type, or a global element with an anonymous complex
// type.
func (idx schemaIndex) structComponent(name string) (component, bool) {
	for _, c := range idx[name] {
		switch c.kind {
		case "complexType":
			return c, true
		case "element":
			if ct := child(c.el, "complexType"); ct != nil {
				return component{namespace: c.namespace, kind: c.kind, el: ct}, true
			}
		}
	}
	return component{}, false
}

// namespace returns the namespace of the component(s) named name, or false
// when the name is not a schema component (e.g. a port type interface).
func (idx schemaIndex) namespace(name string) (string, bool) {
	cs := idx[name]
	if len(cs) == 0 {
		return "", false
	}
	return cs[0].namespace, true
}

// isComplexType reports whether name is a global complex type.
func (idx schemaIndex) isComplexType(name string) bool {
	for _, c := range idx[name] {
		if c.kind == "complexType" {
			return true
		}
	}
	return false
}

// elementWithType returns the global element name, when it is declared with
// a named type, and the Go name of that type.
func (idx schemaIndex) elementWithType(name string) (component, string, bool) {
	for _, c := range idx[name] {
		if c.kind != "element" {
			continue
		}
		typ := c.el.SelectAttrValue("type", "")
		if typ == "" {
			continue
		}
		_, local := wsdlops.ResolveQName(c.el, typ)
		return c, goTypeName(local), true
	}
	return component{}, "", false
}

// childInfo describes a local element declaration of a complex type.
type childInfo struct {
	required  bool   // minOccurs is not 0 (and it is not inside a choice)
	namespace string // namespace of the element when qualified, else ""
}

// childElements returns the local element declarations of a complex type
// (or anonymous complex type) that gowsdl turns into struct fields.
func childElements(ct *etree.Element) map[string]childInfo {
	tns, formDefault := "", ""
	for e := ct; e != nil; e = e.Parent() {
		if e.Tag == "schema" && e.NamespaceURI() == nsXS {
			tns = e.SelectAttrValue("targetNamespace", "")
			formDefault = e.SelectAttrValue("elementFormDefault", "unqualified")
			break
		}
	}
	out := map[string]childInfo{}
	var walk func(e *etree.Element, required bool)
	walk = func(e *etree.Element, required bool) {
		for _, c := range e.ChildElements() {
			if c.NamespaceURI() != nsXS {
				continue
			}
			switch c.Tag {
			case "sequence", "all":
				walk(c, required && c.SelectAttrValue("minOccurs", "1") != "0")
			case "choice":
				walk(c, false)
			case "element":
				name := c.SelectAttrValue("name", "")
				if name == "" {
					continue
				}
				info := childInfo{required: required && c.SelectAttrValue("minOccurs", "1") != "0"}
				if c.SelectAttrValue("form", formDefault) == "qualified" {
					info.namespace = tns
				}
				out[name] = info
			}
		}
	}
	walk(ct, true)
	return out
}

// child returns the first xs: child element of e with the local name.
func child(e *etree.Element, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == nsXS {
			return c
		}
	}
	return nil
}

// goTypeName is gowsdl's name for a schema component:
// makePublic(replaceReservedWords(name)).
func goTypeName(name string) string {
	if r, ok := goReserved[name]; ok {
		name = r
	} else {
		name = normalize(name)
	}
	rs := []rune(name)
	if len(rs) == 0 || goBasic[name] {
		return name
	}
	rs[0] = unicode.ToUpper(rs[0])
	return string(rs)
}

func normalize(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r == '.':
			out = append(out, '_')
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			out = append(out, r)
		}
	}
	return string(out)
}

var goReserved = map[string]string{
	"break": "break_", "default": "default_", "func": "func_", "interface": "interface_",
	"select": "select_", "case": "case_", "defer": "defer_", "go": "go_", "map": "map_",
	"struct": "struct_", "chan": "chan_", "else": "else_", "goto": "goto_",
	"package": "package_", "switch": "switch_", "const": "const_",
	"fallthrough": "fallthrough_", "if": "if_", "range": "range_", "type": "type_",
	"continue": "continue_", "for": "for_", "import": "import_", "return": "return_",
	"var": "var_",
}

var goBasic = map[string]bool{
	"string": true, "float32": true, "float64": true, "int": true, "int8": true,
	"int16": true, "int32": true, "int64": true, "bool": true, "[]byte": true,
	"byte": true, "uint16": true, "uint32": true, "interface{}": true,
}

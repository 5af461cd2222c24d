package addressing

import (
	"strings"

	"github.com/beevik/etree"
)

// XMLNamespace is the namespace bound to the reserved prefix "xml".
const XMLNamespace = "http://www.w3.org/XML/1998/namespace"

// Is reports whether el is the element {ns}local.
func Is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// Child returns the first child element of el named {ns}local, or nil.
func Child(el *etree.Element, ns, local string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if Is(c, ns, local) {
			return c
		}
	}
	return nil
}

// Text returns the element's character data with surrounding white space
// removed, the way every value in the specifications' examples must be read.
func Text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// LookupPrefix returns the namespace bound to prefix at el ("" is the
// default namespace) and whether a binding is in scope.
func LookupPrefix(el *etree.Element, prefix string) (string, bool) {
	if prefix == "xml" {
		return XMLNamespace, true
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if prefix == "" && a.Space == "" && a.Key == "xmlns" {
				return a.Value, true
			}
			if prefix != "" && a.Space == "xmlns" && a.Key == prefix {
				return a.Value, true
			}
		}
	}
	return "", false
}

// Namespaces returns every prefix binding in scope at el, the nearest
// declaration winning; the default namespace is under the key "".
func Namespaces(el *etree.Element) map[string]string {
	m := map[string]string{}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			var p string
			switch {
			case a.Space == "" && a.Key == "xmlns":
				p = ""
			case a.Space == "xmlns":
				p = a.Key
			default:
				continue
			}
			if _, seen := m[p]; !seen {
				m[p] = a.Value
			}
		}
	}
	return m
}

// Detach returns a deep copy of el, without parent, that declares on its
// root every namespace prefix the subtree uses but inherits from its
// ancestors, so that it means the same wherever it is written. An unprefixed
// subtree gets an explicit default namespace declaration (xmlns="" when it
// had none), so a new parent's default namespace cannot capture it.
func Detach(el *etree.Element) *etree.Element {
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		switch {
		case a.Space == "" && a.Key == "xmlns":
			declared[""] = true
		case a.Space == "xmlns":
			declared[a.Key] = true
		}
	}
	used := map[string]bool{}
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		used[e.Space] = true
		for _, a := range e.Attr {
			if a.Space != "" && a.Space != "xmlns" && a.Space != "xml" {
				used[a.Space] = true
			}
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(cp)
	for p := range used {
		if declared[p] {
			continue
		}
		uri, ok := LookupPrefix(el, p)
		if !ok && p != "" {
			continue // unbound prefix: nothing to carry
		}
		if p == "" {
			cp.CreateAttr("xmlns", uri)
		} else {
			cp.CreateAttr("xmlns:"+p, uri)
		}
	}
	return cp
}

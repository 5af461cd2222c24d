package eventing

import (
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// storedMessage returns the XML a subscription stores for el, the
// processor's part of its request: what elementString(StripSecret(el))
// returns, written in one pass over el instead of through a deep copy
// that is then pruned (about 2 KiB of a subscribe's garbage). The
// namespace declarations el inherits are added to its start tag as Detach
// adds them, in the order of their prefixes (Detach's follows a map's);
// the secret, comments and indentation are left out as StripSecret leaves
// them out.
func storedMessage(el *etree.Element) string {
	var b strings.Builder
	b.Grow(512)
	ws := &etree.WriteSettings{}
	b.WriteByte('<')
	writeTag(&b, el)
	for i := range el.Attr {
		b.WriteByte(' ')
		el.Attr[i].WriteTo(&b, ws)
	}
	for _, p := range inheritedPrefixes(el) {
		uri, ok := addressing.LookupPrefix(el, p)
		if !ok && p != "" {
			continue // unbound prefix: nothing to carry
		}
		a := etree.Attr{Space: "xmlns", Key: p, Value: uri}
		if p == "" {
			a.Space, a.Key = "", "xmlns"
		}
		b.WriteByte(' ')
		a.WriteTo(&b, ws)
	}
	kept := func(c *etree.Element) bool { return c.Tag != "Secret" || c.NamespaceURI() != HeraldNS }
	writeContent(&b, el, kept, ws)
	return b.String()
}

// inheritedPrefixes returns, sorted, the prefixes el's subtree uses
// (its elements' and its attributes', "" for unprefixed elements) that el
// does not declare itself: those Detach declares on a copy's root.
func inheritedPrefixes(el *etree.Element) []string {
	var used []string
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if !slices.Contains(used, e.Space) {
			used = append(used, e.Space)
		}
		for _, a := range e.Attr {
			if a.Space != "" && a.Space != "xmlns" && a.Space != "xml" && !slices.Contains(used, a.Space) {
				used = append(used, a.Space)
			}
		}
		for _, t := range e.Child {
			if c, ok := t.(*etree.Element); ok {
				walk(c)
			}
		}
	}
	walk(el)
	used = slices.DeleteFunc(used, func(p string) bool {
		for _, a := range el.Attr {
			if (p == "" && a.Space == "" && a.Key == "xmlns") || (a.Space == "xmlns" && a.Key == p) {
				return true
			}
		}
		return false
	})
	slices.Sort(used)
	return used
}

// writeContent writes what follows e's attributes, as compact (after
// StripSecret's removal of the children keep refuses) leaves it: no
// comments, and no white-space-only text beside child elements.
func writeContent(b *strings.Builder, e *etree.Element, keep func(*etree.Element) bool, ws *etree.WriteSettings) {
	hasElements := false
	for _, t := range e.Child {
		if c, ok := t.(*etree.Element); ok && (keep == nil || keep(c)) {
			hasElements = true
			break
		}
	}
	open := false
	for _, t := range e.Child {
		switch t := t.(type) {
		case *etree.Comment:
			continue
		case *etree.CharData:
			if hasElements && strings.TrimSpace(t.Data) == "" {
				continue
			}
		case *etree.Element:
			if keep != nil && !keep(t) {
				continue
			}
		}
		if !open {
			b.WriteByte('>')
			open = true
		}
		if c, ok := t.(*etree.Element); ok {
			b.WriteByte('<')
			writeTag(b, c)
			for i := range c.Attr {
				b.WriteByte(' ')
				c.Attr[i].WriteTo(b, ws)
			}
			writeContent(b, c, nil, ws)
			continue
		}
		t.WriteTo(b, ws)
	}
	if !open {
		b.WriteString("/>")
		return
	}
	b.WriteString("</")
	writeTag(b, e)
	b.WriteByte('>')
}

// writeTag writes e's prefixed name.
func writeTag(b *strings.Builder, e *etree.Element) {
	if e.Space != "" {
		b.WriteString(e.Space)
		b.WriteByte(':')
	}
	b.WriteString(e.Tag)
}

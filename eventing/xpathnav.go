package eventing

import (
	"github.com/antchfx/xpath"
	"github.com/beevik/etree"
)

// navigator is an xpath.NodeNavigator over an etree document. Only elements,
// text, comments and attributes are nodes; namespace declarations are not
// attributes in the XPath data model.
//
// Every move and copy spends one step of a budget that the navigator and
// all its copies share, and Value spends one more step per valueStepBytes
// of the string it returns. Once the budget is spent every move fails,
// Value returns "" and MoveToRoot stays put, so that the library's loops
// run out of nodes and the evaluation unwinds quickly; the caller then
// discards the result (see evaluation.exhausted).
type navigator struct {
	cur  etree.Token // *etree.Element (&ev.root.Element is the root node), *etree.CharData, *etree.Comment
	attr int         // index into the current element's (non-namespace) attributes, -1 when on the node itself
	ev   *evaluation
}

// evaluation is what a navigator and its copies share: the document and
// the steps left of the budget. (The document is here rather than in the
// navigator to keep the navigator, which the library copies all the time,
// as small as it was without a budget.)
type evaluation struct {
	root *etree.Document
	left int
}

// spend takes n steps and reports whether the budget held.
func (s *evaluation) spend(n int) bool {
	s.left -= n
	return s.left >= 0
}

// exhausted reports whether a step was refused.
func (s *evaluation) exhausted() bool { return s.left < 0 }

// valueStepBytes is how many bytes of a string value cost one step: the
// string value of an element is built by walking its subtree, and a long
// text should not be copied a hundred thousand times for the price of one
// step each.
const valueStepBytes = 64

// newNavigator returns a navigator at the root of doc with a budget of
// budget steps (its ev field), both in one allocation.
func newNavigator(doc *etree.Document, budget int) *navigator {
	b := &struct {
		n  navigator
		ev evaluation
	}{ev: evaluation{root: doc, left: budget}}
	b.n = navigator{cur: &doc.Element, attr: -1, ev: &b.ev}
	return &b.n
}

func isNamespaceDecl(a etree.Attr) bool {
	return a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")
}

func (n *navigator) attrs() []etree.Attr {
	el, ok := n.cur.(*etree.Element)
	if !ok {
		return nil
	}
	var out []etree.Attr
	for _, a := range el.Attr {
		if !isNamespaceDecl(a) {
			out = append(out, a)
		}
	}
	return out
}

func (n *navigator) NodeType() xpath.NodeType {
	if n.attr >= 0 {
		return xpath.AttributeNode
	}
	if n.isRoot() {
		return xpath.RootNode
	}
	switch n.cur.(type) {
	case *etree.Element:
		return xpath.ElementNode
	case *etree.Comment:
		return xpath.CommentNode
	}
	return xpath.TextNode
}

func (n *navigator) isRoot() bool { return n.cur == etree.Token(&n.ev.root.Element) }

func (n *navigator) LocalName() string {
	if n.attr >= 0 {
		return n.attrs()[n.attr].Key
	}
	if el, ok := n.cur.(*etree.Element); ok && !n.isRoot() {
		return el.Tag
	}
	return ""
}

func (n *navigator) Prefix() string {
	if n.attr >= 0 {
		return n.attrs()[n.attr].Space
	}
	if el, ok := n.cur.(*etree.Element); ok {
		return el.Space
	}
	return ""
}

func (n *navigator) NamespaceURL() string {
	if n.attr >= 0 {
		a := n.attrs()[n.attr]
		if a.Space == "" {
			return ""
		}
		return a.NamespaceURI()
	}
	if el, ok := n.cur.(*etree.Element); ok {
		return el.NamespaceURI()
	}
	return ""
}

func (n *navigator) Value() string {
	if n.ev.exhausted() {
		return ""
	}
	v := n.value()
	if !n.ev.spend(1 + len(v)/valueStepBytes) {
		return ""
	}
	return v
}

func (n *navigator) value() string {
	if n.attr >= 0 {
		return n.attrs()[n.attr].Value
	}
	switch t := n.cur.(type) {
	case *etree.CharData:
		return t.Data
	case *etree.Comment:
		return t.Data
	case *etree.Element:
		return stringValue(t)
	}
	return ""
}

func stringValue(el *etree.Element) string {
	var s []byte
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, c := range e.Child {
			switch t := c.(type) {
			case *etree.CharData:
				s = append(s, t.Data...)
			case *etree.Element:
				walk(t)
			}
		}
	}
	walk(el)
	return string(s)
}

// Copy shares the budget: copies are how the library walks.
func (n *navigator) Copy() xpath.NodeNavigator {
	n.ev.spend(1)
	c := *n
	return &c
}

func (n *navigator) MoveToRoot() {
	if n.ev.spend(1) {
		n.cur, n.attr = &n.ev.root.Element, -1
	}
}

func parentOf(t etree.Token) *etree.Element {
	switch v := t.(type) {
	case *etree.Element:
		return v.Parent()
	case *etree.CharData:
		return v.Parent()
	case *etree.Comment:
		return v.Parent()
	}
	return nil
}

func (n *navigator) MoveToParent() bool {
	if !n.ev.spend(1) {
		return false
	}
	if n.attr >= 0 {
		n.attr = -1
		return true
	}
	p := parentOf(n.cur)
	if p == nil {
		return false
	}
	n.cur = p
	return true
}

func (n *navigator) MoveToNextAttribute() bool {
	if !n.ev.spend(1) {
		return false
	}
	if n.attr+1 < len(n.attrs()) {
		n.attr++
		return true
	}
	return false
}

func isNode(t etree.Token) bool {
	switch t.(type) {
	case *etree.Element, *etree.CharData, *etree.Comment:
		return true
	}
	return false
}

func childrenOf(t etree.Token) []etree.Token {
	if v, ok := t.(*etree.Element); ok {
		return v.Child
	}
	return nil
}

func (n *navigator) MoveToChild() bool {
	if !n.ev.spend(1) {
		return false
	}
	if n.attr >= 0 {
		return false
	}
	for _, c := range childrenOf(n.cur) {
		if isNode(c) {
			n.cur = c
			return true
		}
	}
	return false
}

func (n *navigator) siblings() ([]etree.Token, int) {
	p := parentOf(n.cur)
	if p == nil {
		return nil, -1
	}
	kids := childrenOf(p)
	for i, c := range kids {
		if c == n.cur {
			return kids, i
		}
	}
	return nil, -1
}

func (n *navigator) MoveToFirst() bool {
	if !n.ev.spend(1) {
		return false
	}
	if n.attr >= 0 {
		return false
	}
	kids, i := n.siblings()
	for j := 0; j < i; j++ {
		if isNode(kids[j]) {
			n.cur = kids[j]
			return true
		}
	}
	return false
}

func (n *navigator) MoveToNext() bool {
	if !n.ev.spend(1) {
		return false
	}
	if n.attr >= 0 {
		return false
	}
	kids, i := n.siblings()
	if i < 0 {
		return false
	}
	for j := i + 1; j < len(kids); j++ {
		if isNode(kids[j]) {
			n.cur = kids[j]
			return true
		}
	}
	return false
}

func (n *navigator) MoveToPrevious() bool {
	if !n.ev.spend(1) {
		return false
	}
	if n.attr >= 0 {
		return false
	}
	kids, i := n.siblings()
	for j := i - 1; j >= 0; j-- {
		if isNode(kids[j]) {
			n.cur = kids[j]
			return true
		}
	}
	return false
}

func (n *navigator) MoveTo(other xpath.NodeNavigator) bool {
	if !n.ev.spend(1) {
		return false
	}
	o, ok := other.(*navigator)
	if !ok || o.ev.root != n.ev.root {
		return false
	}
	n.cur, n.attr = o.cur, o.attr
	return true
}

package eventing

import "unicode/utf8"

// FilterTopic returns the topic that every event f matches has: a topic
// filter's topic, or the topic an XPath filter pins by equality; "" when
// f does not pin one. It is sound: if FilterTopic(f) is T ≠ "", f matches
// no event whose Topic is not T, so a dispatcher may evaluate f only on
// the events of topic T.
//
// An XPath filter pins T when it is true only if the message's topic
// element, compared as antchfx/xpath compares a node-set with a string,
// equals the literal T: /m:message[m:topic='T'], with more predicates or
// conjuncts beside it (… and …), from // or relative to the root,
// /m:message/m:topic='T' and /m:message/m:topic[.='T']. Prefixes must be
// bound to MessageNS, or names unprefixed (the navigator matches those by
// local name, and the message is written without a prefix). An or, not(),
// !=, a function around the topic, or the literal on the left ('T' =
// m:topic, which the library compares as numbers) does not pin. Neither
// does a T that the message cannot carry verbatim: Event.XML writes a
// character that XML forbids as U+FFFD, so a T containing U+FFFD (or a
// forbidden character) is left unpinned; every other topic is the topic
// element's text exactly, white space included.
func FilterTopic(f Filter) string {
	switch f := f.(type) {
	case topicFilter:
		return *f.topic
	case *xpathFilter:
		return f.topic
	}
	return ""
}

// FilterEvaluates reports whether f must be evaluated on an event: false
// for the filters the topic index alone decides (a topic filter, the
// filter of all events), true for XPath filters and any other Filter.
func FilterEvaluates(f Filter) bool {
	switch f.(type) {
	case topicFilter, matchAll:
		return false
	}
	return true
}

// place is what the analysis knows about a node set in the message
// document: every node in it is the root, the <message> element, the
// <topic> element, or (under…) one of a node and its descendants.
// Every place but somewhere is one that the canonical document fills: the
// set is not empty for want of such a node.
type place uint8

const (
	somewhere place = iota
	atRoot
	underRoot // the root or a descendant
	atMessage
	underMessage // <message> or a descendant
	atTopic
)

// pinner finds the topic an expression pins; ns are the filter's prefix
// bindings.
type pinner struct{ ns map[string]string }

// pinnedTopic returns the topic that e, evaluated at the document root,
// pins ("" when none).
func pinnedTopic(e *xexpr, ns map[string]string) string {
	return pinner{ns}.truth(e, atRoot)
}

// truth returns T when e, evaluated at a node in ctx, is true (as
// boolean() converts it, and as a predicate uses a value that is not a
// number) only if the topic is T.
func (p pinner) truth(e *xexpr, ctx place) string {
	switch e.op {
	case xAnd:
		if t := p.truth(e.left, ctx); t != "" {
			return t
		}
		return p.truth(e.right, ctx)
	case xGroup:
		return p.truth(e.left, ctx)
	case xPath:
		t, _ := p.path(e, ctx)
		return t
	case xEq:
		// node-set = 'T': some node of the set has the string value T.
		// The other way round the library compares numbers.
		if e.left.op != xPath || e.right.op != xLiteral {
			return ""
		}
		t, at := p.path(e.left, ctx)
		if t != "" {
			return t // the set is not empty: its predicates held
		}
		if at == atTopic && pinnable(e.right.str) {
			return e.right.str
		}
	}
	return ""
}

// path returns the topic that a non-empty result of the path pins (one
// of its predicates does) and the place of its result.
func (p pinner) path(e *xexpr, ctx place) (string, place) {
	at := ctx
	switch {
	case e.base != nil:
		at = somewhere
	case e.abs:
		at = atRoot
	}
	for _, s := range e.steps {
		at = p.step(at, &s)
		// The nodes of a non-empty result passed every predicate.
		for _, pred := range s.preds {
			if t := p.truth(pred, at); t != "" {
				return t, at
			}
		}
	}
	return "", at
}

// step returns the place of the nodes that s selects from nodes in from,
// before its predicates.
func (p pinner) step(from place, s *xstep) place {
	if s.seq != nil {
		return somewhere
	}
	if s.axis == "self" && s.nodeType == "node" {
		return from
	}
	if s.axis == "descendant-or-self" && s.nodeType == "node" {
		switch from {
		case atRoot, underRoot:
			return underRoot
		case atMessage, underMessage:
			return underMessage
		}
		return somewhere
	}
	if s.nodeType != "" || s.local == "" || s.axis == "attribute" || !p.messageName(s.prefix) {
		return somewhere
	}
	// A name test on an element axis selects elements of that name, and
	// the document has one <message> and one <topic>.
	switch s.local {
	case "message":
		switch {
		case s.axis == "child" && (from == atRoot || from == underRoot),
			(s.axis == "descendant" || s.axis == "descendant-or-self") && from == atRoot,
			s.axis == "self" && from == atMessage:
			return atMessage
		}
	case "topic":
		switch {
		case s.axis == "child" && (from == atMessage || from == underMessage || from == underRoot),
			(s.axis == "descendant" || s.axis == "descendant-or-self") && (from == atRoot || from == atMessage),
			s.axis == "self" && from == atTopic:
			return atTopic
		}
	}
	return somewhere
}

// messageName reports whether a name test with prefix matches names in
// the message: unprefixed (antchfx/xpath then compares the local name and
// the empty prefix the message's elements have) or bound to MessageNS.
func (p pinner) messageName(prefix string) bool {
	if prefix == "" {
		return true
	}
	uri, ok := p.ns[prefix]
	return ok && uri == MessageNS
}

// pinnable reports whether t is a topic that the topic element's text is
// exactly when it is t: Event.XML escapes every XML character and writes
// the others (and invalid UTF-8) as U+FFFD.
func pinnable(t string) bool {
	if t == "" || !utf8.ValidString(t) {
		return false
	}
	for _, r := range t {
		if r == utf8.RuneError || !isXMLChar(r) {
			return false
		}
	}
	return true
}

// isXMLChar reports whether XML 1.0 allows r in a document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

package eventing

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Static limits on XPath filter expressions, checked by CompileFilter at
// subscribe time and when stored subscriptions are loaded. They refuse
// expressions whose shape alone is abusive; what an expression that passes
// them costs is bounded at evaluation by DefaultFilterBudget.
const (
	// MaxFilterDepth caps how deeply predicates and function calls nest,
	// counted together: /m:message[m:topic='disk' and contains(m:text,
	// 'full')] nests 2 deep. Each level can multiply the work by the size
	// of the message, so the cap is low: 8 leaves room for any realistic
	// filter (they nest at most 3 or 4) and refuses the 10-level
	// count(//*[count(//*[…])>0])>0 family (19 deep), whose cost grows
	// sixfold per level on a message.
	MaxFilterDepth = 8
	// MaxFilterSteps caps the number of location steps (m:message,
	// m:topic, //, ., .., @a, …): a list of a hundred topics
	// m:topic='a' or m:topic='b' or … fits, a long chain of //* does not.
	MaxFilterSteps = 128
)

// maxFilterNesting caps brackets of any kind nested in each other,
// parentheses used for grouping included, so that parsing stays shallow.
const maxFilterNesting = 2 * MaxFilterDepth

// Limits on the arguments of the functions whose cost grows with an
// argument that the step budget cannot see (see checkFunction).
const (
	// maxTranslateChars caps translate()'s second argument: the library
	// builds a replacer of that many pairs on every call (some 50 µs per
	// call for 1,300 characters, the cost of a thousand steps).
	maxTranslateChars = 64
	// maxPatternBytes caps a matches() pattern: matching costs the text's
	// length times the pattern's.
	maxPatternBytes = 256
)

// An xtoken is a lexical token of an XPath 1.0 expression.
type xtoken struct {
	kind xtokKind
	pos  int    // byte offset in the expression
	text string // a name's local part ("*" in prefix:*), an axis name, a literal's value
	// prefix is a qualified name's prefix.
	prefix string
	// call is set on a name followed by "(": a function call or a node
	// type test.
	call bool
}

type xtokKind uint8

const (
	tEOF xtokKind = iota
	tName
	tAxis // text is the axis name; the token includes "::"
	tString
	tNumber
	tSlash
	tSlashSlash
	tDot
	tDotDot
	tAt
	tComma
	tLParen
	tRParen
	tLBracket
	tRBracket
	tStar
	tPipe
	tPlus
	tMinus
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tDollar
	tBang
)

var tokenText = [...]string{tEOF: "end of expression", tSlash: "/", tSlashSlash: "//", tDot: ".", tDotDot: "..", tAt: "@", tComma: ",", tLParen: "(", tRParen: ")", tLBracket: "[", tRBracket: "]", tStar: "*", tPipe: "|", tPlus: "+", tMinus: "-", tEq: "=", tNe: "!=", tLt: "<", tLe: "<=", tGt: ">", tGe: ">=", tDollar: "$", tBang: "!"}

func (t xtoken) String() string {
	switch t.kind {
	case tName:
		if t.prefix != "" {
			return t.prefix + ":" + t.text
		}
		return t.text
	case tAxis:
		return t.text + "::"
	case tString:
		return "'" + t.text + "'"
	case tNumber:
		return "number " + t.text
	}
	return tokenText[t.kind]
}

// An xsyntaxError is an expression the tokenizer or parser refuses.
// trailing marks one that is well formed up to pos, where text follows
// the expression: antchfx/xpath ignores such text, Herald refuses it.
type xsyntaxError struct {
	pos      int
	msg      string
	trailing bool
}

func (e *xsyntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.pos) }

func isXPathSpace(r rune) bool { return unicode.IsSpace(r) }

// isNameStart and isNameChar follow antchfx/xpath's scanner for ASCII. Any
// other rune that is not white space counts as a name character: the
// library refuses the ones that are not, and the limits and the analysis
// run only on expressions that it compiles as well.
func isNameStart(r rune) bool {
	return r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || r >= utf8.RuneSelf && !isXPathSpace(r)
}

func isNameChar(r rune) bool {
	return isNameStart(r) || r == '-' || r == '.' || '0' <= r && r <= '9'
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

var punctuation = map[rune]xtokKind{'/': tSlash, '.': tDot, '@': tAt, ',': tComma, '(': tLParen, ')': tRParen, '[': tLBracket, ']': tRBracket, '*': tStar, '|': tPipe, '+': tPlus, '-': tMinus, '=': tEq, '<': tLt, '>': tGt, '$': tDollar, '!': tBang}

// tokenize splits an XPath 1.0 expression into tokens the way antchfx/xpath
// scans it. String literals are single tokens (XPath 1.0 has no escapes in
// them), so brackets inside strings are text.
func tokenize(s string) ([]xtoken, error) {
	var out []xtoken
	i := 0
	peek := func(j int) (rune, int) {
		if j >= len(s) {
			return 0, 0
		}
		return utf8.DecodeRuneInString(s[j:])
	}
	skipSpace := func(j int) int {
		for {
			r, n := peek(j)
			if n == 0 || !isXPathSpace(r) {
				return j
			}
			j += n
		}
	}
	scanName := func(j int) int {
		for {
			r, n := peek(j)
			if n == 0 || !isNameChar(r) {
				return j
			}
			j += n
		}
	}
	for {
		i = skipSpace(i)
		r, n := peek(i)
		if n == 0 {
			out = append(out, xtoken{kind: tEOF, pos: i})
			return out, nil
		}
		start := i
		tok := xtoken{pos: start}
		switch {
		case r == 0:
			return nil, &xsyntaxError{start, "NUL character", false}
		case r == '"' || r == '\'':
			j := strings.IndexRune(s[i+1:], r)
			if j < 0 {
				return nil, &xsyntaxError{start, "unterminated string literal", false}
			}
			tok.kind, tok.text = tString, s[i+1:i+1+j]
			i += j + 2
		case isDigit(r) || r == '.' && i+1 < len(s) && isDigit(rune(s[i+1])):
			j := i
			for j < len(s) && isDigit(rune(s[j])) {
				j++
			}
			if j < len(s) && s[j] == '.' {
				j++
				for j < len(s) && isDigit(rune(s[j])) {
					j++
				}
			}
			tok.kind, tok.text = tNumber, s[i:j]
			i = j
		case isNameStart(r):
			j := scanName(i)
			tok.kind, tok.text = tName, s[i:j]
			if j < len(s) && s[j] == ':' {
				switch {
				case j+1 < len(s) && s[j+1] == ':':
					tok.kind, j = tAxis, j+2
				case j+1 < len(s) && s[j+1] == '*':
					tok.prefix, tok.text, j = tok.text, "*", j+2
				default:
					r2, _ := peek(j + 1)
					if !isNameChar(r2) {
						return nil, &xsyntaxError{j, "a qualified name lacks its local part", false}
					}
					k := scanName(j + 1)
					tok.prefix, tok.text, j = tok.text, s[j+1:k], k
				}
			} else if k := skipSpace(j); k < len(s) && s[k] == ':' {
				if k+1 < len(s) && s[k+1] == ':' {
					tok.kind, j = tAxis, k+2
				} else {
					return nil, &xsyntaxError{k, "a lone ':'", false}
				}
			}
			if tok.kind == tName {
				k := skipSpace(j)
				tok.call = k < len(s) && s[k] == '('
			}
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "//":
				tok.kind = tSlashSlash
			case "..":
				tok.kind = tDotDot
			case "!=":
				tok.kind = tNe
			case "<=":
				tok.kind = tLe
			case ">=":
				tok.kind = tGe
			}
			if tok.kind != tEOF {
				i += 2
				break
			}
			k, ok := punctuation[r]
			if !ok {
				return nil, &xsyntaxError{start, fmt.Sprintf("unexpected character %q", r), false}
			}
			tok.kind = k
			i += n
		}
		out = append(out, tok)
	}
}

// isNodeType reports whether a name followed by "(" is a node type test
// rather than a function call.
func isNodeType(t xtoken) bool {
	if t.prefix != "" {
		return false
	}
	switch t.text {
	case "node", "text", "comment", "processing-instruction":
		return true
	}
	return false
}

// nesting returns how deeply predicates and function calls nest (depth),
// and how deeply brackets of any kind do (all).
func nesting(toks []xtoken) (depth, all int) {
	var stack []bool // counts toward depth
	d := 0
	for i, t := range toks {
		switch t.kind {
		case tLBracket, tLParen:
			counts := t.kind == tLBracket || i > 0 && toks[i-1].kind == tName && toks[i-1].call && !isNodeType(toks[i-1])
			stack = append(stack, counts)
			if counts {
				d++
			}
			depth, all = max(depth, d), max(all, len(stack))
		case tRBracket, tRParen:
			if len(stack) > 0 {
				if stack[len(stack)-1] {
					d--
				}
				stack = stack[:len(stack)-1]
			}
		}
	}
	return depth, all
}

// An xexpr is a node of an XPath expression's syntax tree, as antchfx/xpath
// parses it.
type xexpr struct {
	op  xop
	pos int
	// left and right are a binary operator's operands; left is a group's
	// content and a negation's operand.
	left, right *xexpr
	// str is a literal's value, a number's text, a function's or a
	// variable's local name; prefix their prefix.
	str, prefix string
	args        []*xexpr // a function's arguments
	// A path starts at the root (abs), at a filter expression (base) or at
	// the context node, and takes steps.
	abs   bool
	base  *xexpr
	steps []xstep
	// preds are a filter expression's predicates on left.
	preds []*xexpr
}

type xop uint8

const (
	xOr xop = iota
	xAnd
	xEq
	xNe
	xLt
	xLe
	xGt
	xGe
	xAdd
	xSub
	xMul
	xDiv
	xMod
	xUnion
	xNeg
	xLiteral
	xNumber
	xVariable
	xFunction
	xGroup
	xPath
	xFilter
)

// An xstep is a location step: axis::test[pred]…, or a sequence of
// alternative steps "(a, b)" (an antchfx/xpath extension).
type xstep struct {
	pos  int
	axis string
	// A name test has a local name ("" for *) and a prefix; a node type
	// test names the type (node, text, comment, processing-instruction).
	prefix, local, nodeType string
	preds                   []*xexpr
	seq                     []xstep
}

// xparser parses tokens with antchfx/xpath's grammar (parse.go), so that
// the tree is the one the library evaluates.
type xparser struct {
	toks []xtoken
	i    int
}

func (p *xparser) tok() xtoken        { return p.toks[p.i] }
func (p *xparser) next()              { p.i++ }
func (p *xparser) is(k xtokKind) bool { return p.toks[p.i].kind == k }

// isOp reports whether the current token is the operator name op.
func (p *xparser) isOp(op string) bool {
	t := p.tok()
	return t.kind == tName && t.prefix == "" && t.text == op
}

func (p *xparser) fail(msg string) {
	t := p.tok()
	panic(&xsyntaxError{t.pos, fmt.Sprintf("%s, found %v", msg, t), false})
}

func (p *xparser) expect(k xtokKind) {
	if !p.is(k) {
		p.fail("expected " + tokenText[k])
	}
	p.next()
}

// parseXPath parses an expression; the whole text must be one expression.
func parseXPath(toks []xtoken) (e *xexpr, err error) {
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*xsyntaxError)
			if !ok {
				panic(r)
			}
			e, err = nil, se
		}
	}()
	p := &xparser{toks: toks}
	e = p.expr()
	if !p.is(tEOF) {
		t := p.tok()
		return nil, &xsyntaxError{t.pos, fmt.Sprintf("unexpected %v after the expression", t), true}
	}
	return e, nil
}

func (p *xparser) expr() *xexpr { return p.or() }

func (p *xparser) binary(op xop, pos int, l, r *xexpr) *xexpr {
	return &xexpr{op: op, pos: pos, left: l, right: r}
}

func (p *xparser) or() *xexpr {
	e := p.and()
	for p.isOp("or") {
		pos := p.tok().pos
		p.next()
		e = p.binary(xOr, pos, e, p.and())
	}
	return e
}

func (p *xparser) and() *xexpr {
	e := p.equality()
	for p.isOp("and") {
		pos := p.tok().pos
		p.next()
		e = p.binary(xAnd, pos, e, p.equality())
	}
	return e
}

func (p *xparser) equality() *xexpr {
	e := p.relational()
	for {
		op, pos := xEq, p.tok().pos
		switch p.tok().kind {
		case tEq:
		case tNe:
			op = xNe
		default:
			return e
		}
		p.next()
		e = p.binary(op, pos, e, p.relational())
	}
}

func (p *xparser) relational() *xexpr {
	e := p.additive()
	for {
		var op xop
		pos := p.tok().pos
		switch p.tok().kind {
		case tLt:
			op = xLt
		case tLe:
			op = xLe
		case tGt:
			op = xGt
		case tGe:
			op = xGe
		default:
			return e
		}
		p.next()
		e = p.binary(op, pos, e, p.additive())
	}
}

func (p *xparser) additive() *xexpr {
	e := p.multiplicative()
	for {
		op, pos := xAdd, p.tok().pos
		switch p.tok().kind {
		case tPlus:
		case tMinus:
			op = xSub
		default:
			return e
		}
		p.next()
		e = p.binary(op, pos, e, p.multiplicative())
	}
}

func (p *xparser) multiplicative() *xexpr {
	e := p.unary()
	for {
		var op xop
		pos := p.tok().pos
		switch {
		case p.is(tStar):
			op = xMul
		case p.isOp("div"):
			op = xDiv
		case p.isOp("mod"):
			op = xMod
		default:
			return e
		}
		p.next()
		e = p.binary(op, pos, e, p.unary())
	}
}

func (p *xparser) unary() *xexpr {
	pos, minus := p.tok().pos, false
	for p.is(tMinus) {
		p.next()
		minus = !minus
	}
	e := p.union()
	if minus {
		e = &xexpr{op: xNeg, pos: pos, left: e}
	}
	return e
}

func (p *xparser) union() *xexpr {
	e := p.path()
	for p.is(tPipe) {
		pos := p.tok().pos
		p.next()
		e = p.binary(xUnion, pos, e, p.path())
	}
	return e
}

func (p *xparser) isPrimary() bool {
	switch t := p.tok(); t.kind {
	case tString, tNumber, tDollar, tLParen:
		return true
	case tName:
		return t.call && !isNodeType(t)
	}
	return false
}

func isStepStart(k xtokKind) bool {
	switch k {
	case tDot, tDotDot, tAt, tAxis, tStar, tName:
		return true
	}
	return false
}

var descendantOrSelf = xstep{axis: "descendant-or-self", nodeType: "node"}

func (p *xparser) path() *xexpr {
	pos := p.tok().pos
	if p.isPrimary() {
		e := p.filter()
		switch p.tok().kind {
		case tSlash:
			p.next()
			return p.relative(&xexpr{op: xPath, pos: pos, base: e})
		case tSlashSlash:
			p.next()
			return p.relative(&xexpr{op: xPath, pos: pos, base: e, steps: []xstep{descendantOrSelf}})
		}
		return e
	}
	path := &xexpr{op: xPath, pos: pos}
	switch p.tok().kind {
	case tSlash:
		p.next()
		path.abs = true
		if !isStepStart(p.tok().kind) {
			return path
		}
	case tSlashSlash:
		p.next()
		path.abs = true
		path.steps = []xstep{descendantOrSelf}
	}
	return p.relative(path)
}

// relative appends steps separated by / and // to path.
func (p *xparser) relative(path *xexpr) *xexpr {
	for {
		path.steps = append(path.steps, p.step())
		switch p.tok().kind {
		case tSlashSlash:
			p.next()
			path.steps = append(path.steps, descendantOrSelf)
		case tSlash:
			p.next()
		default:
			return path
		}
	}
}

func (p *xparser) step() xstep {
	s := xstep{pos: p.tok().pos, axis: "child"}
	switch p.tok().kind {
	case tDot, tDotDot:
		s.axis, s.nodeType = "self", "node"
		if p.is(tDotDot) {
			s.axis = "parent"
		}
		p.next()
		s.preds = p.predicates()
		return s
	case tAt:
		s.axis = "attribute"
		p.next()
	case tAxis:
		s.axis = p.tok().text
		p.next()
	case tLParen:
		return p.sequence()
	}
	switch t := p.tok(); {
	case t.kind == tName && t.call && isNodeType(t):
		s.nodeType = t.text
		p.next()
		p.expect(tLParen)
		if s.nodeType == "processing-instruction" && !p.is(tRParen) {
			if !p.is(tString) {
				p.fail("expected a literal")
			}
			p.next()
		}
		p.expect(tRParen)
	case t.kind == tName:
		s.prefix, s.local = t.prefix, t.text
		if s.local == "*" {
			s.local = ""
		}
		p.next()
	case t.kind == tStar:
		p.next()
	default:
		p.fail("expected a location step")
	}
	s.preds = p.predicates()
	return s
}

// sequence parses "(step, step, …)".
func (p *xparser) sequence() xstep {
	s := xstep{pos: p.tok().pos, axis: "sequence"}
	p.expect(tLParen)
	s.seq = append(s.seq, p.step())
	for p.is(tComma) {
		p.next()
		s.seq = append(s.seq, p.step())
	}
	p.expect(tRParen)
	return s
}

func (p *xparser) predicates() []*xexpr {
	var preds []*xexpr
	for p.is(tLBracket) {
		p.next()
		preds = append(preds, p.expr())
		p.expect(tRBracket)
	}
	return preds
}

func (p *xparser) filter() *xexpr {
	pos := p.tok().pos
	e := p.primary()
	if p.is(tLBracket) {
		e = &xexpr{op: xFilter, pos: pos, left: e, preds: p.predicates()}
	}
	return e
}

func (p *xparser) primary() *xexpr {
	t := p.tok()
	switch t.kind {
	case tString:
		p.next()
		return &xexpr{op: xLiteral, pos: t.pos, str: t.text}
	case tNumber:
		p.next()
		return &xexpr{op: xNumber, pos: t.pos, str: t.text}
	case tDollar:
		p.next()
		v := p.tok()
		if v.kind != tName {
			p.fail("expected a variable name")
		}
		p.next()
		return &xexpr{op: xVariable, pos: t.pos, str: v.text, prefix: v.prefix}
	case tLParen:
		p.next()
		e := p.expr()
		p.expect(tRParen)
		if e.op == xLiteral || e.op == xNumber {
			return e // the library drops parentheses around a constant
		}
		return &xexpr{op: xGroup, pos: t.pos, left: e}
	}
	// A function call (isPrimary checked the name).
	p.next()
	p.expect(tLParen)
	f := &xexpr{op: xFunction, pos: t.pos, str: t.text, prefix: t.prefix}
	if !p.is(tRParen) {
		for {
			f.args = append(f.args, p.expr())
			if p.is(tRParen) {
				break
			}
			p.expect(tComma)
		}
	}
	p.next()
	return f
}

// walk calls fn on e and every expression inside it, predicates included;
// fn returning false skips the expression's inside.
func (e *xexpr) walk(fn func(*xexpr) bool) {
	if e == nil || !fn(e) {
		return
	}
	e.left.walk(fn)
	e.right.walk(fn)
	e.base.walk(fn)
	for _, a := range e.args {
		a.walk(fn)
	}
	for _, a := range e.preds {
		a.walk(fn)
	}
	var steps func([]xstep)
	steps = func(ss []xstep) {
		for _, s := range ss {
			for _, a := range s.preds {
				a.walk(fn)
			}
			steps(s.seq)
		}
	}
	steps(e.steps)
}

// countSteps returns the number of location steps in e.
func (e *xexpr) countSteps() int {
	n := 0
	var steps func([]xstep)
	steps = func(ss []xstep) {
		for _, s := range ss {
			if s.seq == nil {
				n++
			}
			steps(s.seq)
		}
	}
	e.walk(func(x *xexpr) bool {
		steps(x.steps)
		return true
	})
	return n
}

// xpathFunctions are the functions Herald evaluates, with the number of
// arguments each takes (max -1: any number). They are XPath 1.0's core
// library but for id() and lang() (see refusedFunctions), and
// antchfx/xpath's harmless extensions ends-with, lower-case, matches,
// reverse and string-join. string-length() and number() need their
// argument, which XPath 1.0 lets default to the context node: the library
// refuses string-length() and crashes on number().
var xpathFunctions = map[string]struct{ min, max int }{
	"last": {0, 0}, "position": {0, 0}, "count": {1, 1},
	"local-name": {0, 1}, "namespace-uri": {0, 1}, "name": {0, 1},
	"string": {0, 1}, "concat": {2, -1}, "starts-with": {2, 2}, "contains": {2, 2},
	"substring-before": {2, 2}, "substring-after": {2, 2}, "substring": {2, 3},
	"string-length": {1, 1}, "normalize-space": {0, 1}, "translate": {3, 3},
	"boolean": {1, 1}, "not": {1, 1}, "true": {0, 0}, "false": {0, 0},
	"number": {1, 1}, "sum": {1, 1}, "floor": {1, 1}, "ceiling": {1, 1}, "round": {1, 1},
	"ends-with": {2, 2}, "lower-case": {1, 1}, "matches": {2, 2}, "reverse": {1, 1},
	"string-join": {2, 2},
}

// refusedFunctions are functions antchfx/xpath knows (or XPath 1.0
// defines) that Herald refuses, with the reason.
var refusedFunctions = map[string]string{
	"id":      "a message has no ID attributes, and antchfx/xpath does not implement id()",
	"lang":    "a message carries no xml:lang, and antchfx/xpath does not implement lang()",
	"replace": "its result can be thousands of times longer than the message (replace(m:text, '', '…') on a 64 KiB text takes seconds), which the evaluation budget cannot see; it is not XPath 1.0",
}

var xpathAxes = map[string]bool{
	"ancestor": true, "ancestor-or-self": true, "attribute": true, "child": true,
	"descendant": true, "descendant-or-self": true, "following": true,
	"following-sibling": true, "parent": true, "preceding": true,
	"preceding-sibling": true, "self": true,
}

// checkXPath tokenizes and parses an expression and applies the static
// limits and the rules on functions and axes. It returns the syntax tree,
// or the reason for refusing the expression (a sentence fragment that
// follows the expression: "nests …").
func checkXPath(expr string) (*xexpr, string) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, "does not compile: " + err.Error()
	}
	depth, all := nesting(toks)
	if depth > MaxFilterDepth {
		return nil, fmt.Sprintf("nests predicates and function calls %d deep, more than the limit of %d (MaxFilterDepth)", depth, MaxFilterDepth)
	}
	if all > maxFilterNesting {
		return nil, fmt.Sprintf("nests brackets %d deep, more than the limit of %d", all, maxFilterNesting)
	}
	e, err := parseXPath(toks)
	if err != nil {
		return nil, "does not compile: " + err.Error()
	}
	if n := e.countSteps(); n > MaxFilterSteps {
		return nil, fmt.Sprintf("has %d location steps, more than the limit of %d (MaxFilterSteps)", n, MaxFilterSteps)
	}
	var reason string
	e.walk(func(x *xexpr) bool {
		if reason == "" {
			reason = checkNode(x)
		}
		return reason == ""
	})
	if reason != "" {
		return nil, reason
	}
	return e, ""
}

// checkNode checks one node of the tree (not its inside).
func checkNode(x *xexpr) string {
	switch x.op {
	case xVariable:
		return fmt.Sprintf("uses the variable $%s: a filter has no variables", qname(x.prefix, x.str))
	case xFunction:
		return checkFunction(x)
	}
	var steps func([]xstep) string
	steps = func(ss []xstep) string {
		for _, s := range ss {
			if s.seq != nil {
				if r := steps(s.seq); r != "" {
					return r
				}
				continue
			}
			if s.axis == "namespace" {
				return fmt.Sprintf("uses the namespace axis (byte %d), which antchfx/xpath does not implement", s.pos)
			}
			if !xpathAxes[s.axis] {
				return fmt.Sprintf("uses %s::, which is not an XPath axis", s.axis)
			}
			if s.prefix != "" && s.local == "" {
				return fmt.Sprintf("uses %s:* (byte %d), which antchfx/xpath matches with nothing: write *[namespace-uri() = '…'] instead", s.prefix, s.pos)
			}
		}
		return ""
	}
	return steps(x.steps)
}

func qname(prefix, local string) string {
	if prefix == "" {
		return local
	}
	return prefix + ":" + local
}

// checkFunction refuses the functions Herald does not evaluate, calls with
// the wrong number of arguments, and the arguments whose cost the step
// budget cannot see: antchfx/xpath's replace() (refused), string-join()
// within string-join() (the result grows with the product of the node
// counts), translate() with a long or computed set of characters, and
// matches() with a long or computed pattern (computed patterns would also
// fill the library's process-wide cache of compiled expressions with
// patterns taken from events).
func checkFunction(f *xexpr) string {
	name := qname(f.prefix, f.str) + "()"
	if f.prefix != "" {
		return fmt.Sprintf("calls %s: filter functions have no prefix (antchfx/xpath would ignore it and call %s())", name, f.str)
	}
	if why, ok := refusedFunctions[f.str]; ok {
		return fmt.Sprintf("calls %s, which Herald does not evaluate: %s", name, why)
	}
	arity, ok := xpathFunctions[f.str]
	if !ok {
		return fmt.Sprintf("calls %s, which is not an XPath 1.0 function", name)
	}
	if n := len(f.args); n < arity.min || arity.max >= 0 && n > arity.max {
		want := fmt.Sprintf("%d", arity.min)
		switch {
		case arity.max < 0:
			want = fmt.Sprintf("at least %d", arity.min)
		case arity.max != arity.min:
			want = fmt.Sprintf("%d to %d", arity.min, arity.max)
		}
		return fmt.Sprintf("calls %s with %d arguments; it takes %s", name, n, want)
	}
	if why := checkArgTypes(f); why != "" {
		return why
	}
	switch f.str {
	case "string-join":
		var nested bool
		for _, a := range f.args {
			a.walk(func(x *xexpr) bool {
				nested = nested || x.op == xFunction && x.str == "string-join"
				return !nested
			})
		}
		if nested {
			return "calls string-join() within string-join(): the result would grow with the product of the node counts"
		}
	case "translate":
		if a := f.args[1]; a.op != xLiteral || utf8.RuneCountInString(a.str) > maxTranslateChars {
			return fmt.Sprintf("calls translate() with a second argument that is not a literal of at most %d characters (the limit)", maxTranslateChars)
		}
	case "matches":
		if a := f.args[1]; a.op != xLiteral || len(a.str) > maxPatternBytes {
			return fmt.Sprintf("calls matches() with a pattern that is not a literal of at most %d bytes (the limit)", maxPatternBytes)
		}
	}
	return ""
}

// An xtype is the type of an expression's value as antchfx/xpath computes
// it.
type xtype uint8

const (
	tyUnknown xtype = iota
	tyString
	tyNumber
	tyBoolean
	tyNodeSet
)

var typeNames = [...]string{tyUnknown: "of unknown type", tyString: "a string", tyNumber: "a number", tyBoolean: "a boolean", tyNodeSet: "a node-set"}

// functionTypes are the types of the functions' results.
var functionTypes = map[string]xtype{
	"last": tyNumber, "position": tyNumber, "count": tyNumber, "string-length": tyNumber,
	"number": tyNumber, "sum": tyNumber, "floor": tyNumber, "ceiling": tyNumber, "round": tyNumber,
	"local-name": tyString, "namespace-uri": tyString, "name": tyString, "string": tyString,
	"concat": tyString, "substring-before": tyString, "substring-after": tyString,
	"substring": tyString, "normalize-space": tyString, "translate": tyString,
	"lower-case": tyString, "string-join": tyString,
	"boolean": tyBoolean, "not": tyBoolean, "true": tyBoolean, "false": tyBoolean,
	"starts-with": tyBoolean, "contains": tyBoolean, "ends-with": tyBoolean, "matches": tyBoolean,
	"reverse": tyNodeSet,
}

func typeOf(e *xexpr) xtype {
	switch e.op {
	case xLiteral:
		return tyString
	case xNumber, xNeg, xAdd, xSub, xMul, xDiv, xMod:
		return tyNumber
	case xOr, xAnd, xEq, xNe, xLt, xLe, xGt, xGe:
		return tyBoolean
	case xUnion, xPath, xFilter:
		return tyNodeSet
	case xGroup:
		return typeOf(e.left)
	case xFunction:
		return functionTypes[e.str]
	}
	return tyUnknown
}

// argTypes are the argument types that antchfx/xpath accepts where XPath
// 1.0 converts any value: it panics on the others (contains(m:text,
// m:info) for one). Arguments not listed take any type.
var argTypes = map[string][]map[xtype]bool{
	"starts-with": {{tyString: true, tyNodeSet: true}, {tyString: true}},
	"ends-with":   {{tyString: true, tyNodeSet: true}, {tyString: true}},
	"contains":    {{tyString: true, tyNodeSet: true}, {tyString: true}},
	"substring":   {nil, {tyNumber: true}, {tyNumber: true}},
	"sum":         {{tyNodeSet: true, tyNumber: true}},
}

var ordinals = [...]string{"first", "second", "third"}

// checkArgTypes refuses the arguments that the library cannot convert.
func checkArgTypes(f *xexpr) string {
	for i, want := range argTypes[f.str] {
		if want == nil || i >= len(f.args) {
			continue
		}
		if got := typeOf(f.args[i]); !want[got] {
			fix := "string()"
			if want[tyNumber] && !want[tyString] {
				fix = "number()"
			}
			return fmt.Sprintf("calls %s() with a %s argument that is %s, which antchfx/xpath cannot convert: wrap it in %s", f.str, ordinals[i], typeNames[got], fix)
		}
	}
	return ""
}

package main

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// runOutput is the gowsdl output of one run.
type runOutput struct {
	run   *genRun
	src   []byte
	index schemaIndex
}

// chunk is one top-level declaration of the generated code, with its doc
// comment.
type chunk struct {
	text   string
	types  []string // type names it declares
	client bool     // part of a generated SOAP client (see isClient)
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// typeNames returns the names of the types declared at top level in src.
func typeNames(src []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse gowsdl output: %w", err)
	}
	var names []string
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
			for _, s := range g.Specs {
				names = append(names, s.(*ast.TypeSpec).Name.Name)
			}
		}
	}
	return names, nil
}

// fix applies the post-processing to one run's output and renames the types
// in renames. It returns the run's declarations and imports (path -> name).
func (o *runOutput) fix(renames map[string]string) ([]chunk, map[string]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", o.src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, fmt.Errorf("parse gowsdl output: %w", err)
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	src := o.src
	var edits []edit

	structs := map[string]bool{}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				if _, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = true
				}
			}
		}
	}
	rename := func(name string) string {
		if n, ok := renames[name]; ok {
			return n
		}
		return name
	}

	skip := map[ast.Expr]bool{} // type expressions replaced as a whole
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			ts := s.(*ast.TypeSpec)
			name := ts.Name.Name
			switch t := ts.Type.(type) {
			case *ast.StarExpr:
				// Bug: "type T *X" for simple types derived from a type
				// gowsdl does not know (xs:QName, xs:duration, ...).
				edits = append(edits, edit{off(t.Star), off(t.Star) + 1, ""})
			case *ast.Ident:
				// Bug: an element typed with a global complex type becomes
				// "type E T", which marshals as <E> without namespace (or
				// with T's wrong XMLName). Wrap T with the element's name.
				c, target, ok := o.index.elementWithType(name)
				if ok && target == t.Name && structs[t.Name] {
					local := c.el.SelectAttrValue("name", "")
					text := fmt.Sprintf("struct {\n\tXMLName xml.Name `xml:%q`\n\n\t%s\n}", c.namespace+" "+local, rename(t.Name))
					edits = append(edits, edit{off(t.Pos()), off(t.End()), text})
					skip[ts.Type] = true
				}
			case *ast.StructType:
				es, err := o.fixStruct(name, t, src, off)
				if err != nil {
					return nil, nil, fmt.Errorf("type %s: %w", name, err)
				}
				edits = append(edits, es...)
			}
		}
	}

	// Renames, in every position where a type name can appear.
	if len(renames) > 0 {
		typeIdents(f, skip, func(id *ast.Ident) {
			if n, ok := renames[id.Name]; ok {
				edits = append(edits, edit{off(id.Pos()), off(id.End()), n})
			}
		})
	}

	// gowsdl maps xs:dateTime, xs:date and xs:time to types of its soap
	// package, which would link the SOAP client into every user of the
	// types: they become lexical-form string types of the package.
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
			ast.Inspect(g, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "soap" {
						if repl, ok := soapDateTypes[sel.Sel.Name]; ok {
							edits = append(edits, edit{off(sel.Pos()), off(sel.End()), repl})
						}
					}
				}
				return true
			})
		}
	}

	fixed, err := applyEdits(src, edits)
	if err != nil {
		return nil, nil, err
	}
	formatted, err := format.Source(fixed)
	if err != nil {
		return nil, nil, fmt.Errorf("format fixed gowsdl output: %w\n%s", err, fixed)
	}
	return splitDecls(formatted)
}

// fixStruct returns the edits for one generated struct type.
func (o *runOutput) fixStruct(name string, st *ast.StructType, src []byte, off func(token.Pos) int) ([]edit, error) {
	var edits []edit
	comp, known := o.index.structComponent(name)
	var locals map[string]childInfo
	if known {
		locals = childElements(comp.el)
	}
	hasCharData := false
	for _, field := range st.Fields.List {
		for _, n := range field.Names {
			if n.Name == "CharData" {
				hasCharData = true
			}
		}
	}
	for _, field := range st.Fields.List {
		// Bug: global complex types get the XMLName of the first element
		// declared with them (EndpointReferenceType -> EndpointReference,
		// AttributedURI -> MessageID), which breaks every other use
		// (wse:NotifyTo, wsa:Address, ...). The element decides the name.
		if len(field.Names) == 1 && field.Names[0].Name == "XMLName" && o.index.isComplexType(name) {
			start, end := lineBounds(src, off(field.Pos()), off(field.End()))
			edits = append(edits, edit{start, end, ""})
			continue
		}
		if field.Tag == nil {
			continue
		}
		raw, err := strconv.Unquote(field.Tag.Value)
		if err != nil {
			return nil, fmt.Errorf("field tag %s: %w", field.Tag.Value, err)
		}
		// Bug: simple content values are tagged json:"-," (a malformed tag
		// that names the JSON key "-").
		newRaw := strings.Replace(raw, `json:"-,"`, `json:"value"`, 1)

		xmlTag := reflect.StructTag(raw).Get("xml")
		xmlName, opts, _ := strings.Cut(xmlTag, ",")
		switch info, isLocal := locals[xmlName]; {
		case xmlName == "" && opts == "any":
			// Bug: xs:any becomes []string, which keeps only the character
			// data of the matched elements and drops the elements.
			if arr, ok := field.Type.(*ast.ArrayType); ok {
				if id, ok := arr.Elt.(*ast.Ident); ok && id.Name == "string" {
					edits = append(edits, edit{off(field.Type.Pos()), off(field.Type.End()), "[]AnyElement"})
				}
			}
		case isLocal && (opts == "" || opts == "omitempty"):
			// Bug: element fields have no namespace in their tag, so a
			// struct of one namespace inside another marshals in the wrong
			// one (wsa:Address inside wse:NotifyTo came out as wse:Address).
			// Bug: every element field is omitempty, so a required element
			// with a zero value (<return>false</return>, an empty <topic/>)
			// is left out when marshalling, which the schema rejects.
			newTag := xmlName
			if info.namespace != "" {
				newTag = info.namespace + " " + xmlName
			}
			if !info.required && opts == "omitempty" {
				newTag += ",omitempty"
			}
			newRaw = strings.Replace(newRaw, `xml:"`+xmlTag+`"`, `xml:"`+newTag+`"`, 1)
		}
		if newRaw != raw {
			edits = append(edits, edit{off(field.Tag.Pos()), off(field.Tag.End()), "`" + newRaw + "`"})
		}
	}
	// Bug: mixed="true" is ignored, so the character data of mixed content
	// (the expression of a wse:Filter) is lost.
	if known && comp.el.SelectAttrValue("mixed", "") == "true" && !hasCharData {
		p := off(st.Fields.Opening) + 1
		edits = append(edits, edit{p, p, "\nCharData string `xml:\",chardata\" json:\"charData,omitempty\"`\n"})
	}
	return edits, nil
}

// lineBounds widens [start, end) to whole lines, including the newline.
func lineBounds(src []byte, start, end int) (int, int) {
	for start > 0 && src[start-1] != '\n' {
		start--
	}
	for end < len(src) && src[end] != '\n' {
		end++
	}
	if end < len(src) {
		end++
	}
	return start, end
}

func applyEdits(src []byte, edits []edit) ([]byte, error) {
	slices.SortStableFunc(edits, func(a, b edit) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return a.end - b.end
	})
	var out []byte
	pos := 0
	for _, e := range edits {
		if e.start < pos {
			return nil, fmt.Errorf("internal error: overlapping edits at offset %d", e.start)
		}
		out = append(out, src[pos:e.start]...)
		out = append(out, e.text...)
		pos = e.end
	}
	out = append(out, src[pos:]...)
	return out, nil
}

// soapDateTypes maps the types of gowsdl's soap package that its type
// generator uses to the lexical-form types declared instead (see
// soapDateDecls in merge.go).
var soapDateTypes = map[string]string{
	"XSDDateTime": "DateTime",
	"XSDDate":     "Date",
	"XSDTime":     "Time",
}

// typeIdents calls visit for every identifier of f in a position where it
// can name a type of the package: type declarations (their names included;
// the types in skip excepted), function signatures, and new(T), composite
// literals, var declarations and type assertions in function bodies.
func typeIdents(f *ast.File, skip map[ast.Expr]bool, visit func(*ast.Ident)) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					visit(s.Name)
					if !skip[s.Type] {
						walkType(s.Type, visit)
					}
				case *ast.ValueSpec:
					walkType(s.Type, visit)
				}
			}
		case *ast.FuncDecl:
			if d.Recv != nil {
				walkFields(d.Recv, visit)
			}
			walkType(d.Type, visit)
			if d.Body != nil {
				ast.Inspect(d.Body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.CallExpr:
						if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "new" && len(n.Args) == 1 {
							walkType(n.Args[0], visit)
						}
					case *ast.CompositeLit:
						walkType(n.Type, visit)
					case *ast.ValueSpec:
						walkType(n.Type, visit)
					case *ast.TypeAssertExpr:
						walkType(n.Type, visit)
					}
					return true
				})
			}
		}
	}
}

// walkType calls visit for every identifier of expr that names a type of
// the package (qualified identifiers are skipped).
func walkType(expr ast.Expr, visit func(*ast.Ident)) {
	switch t := expr.(type) {
	case nil:
	case *ast.Ident:
		visit(t)
	case *ast.StarExpr:
		walkType(t.X, visit)
	case *ast.ParenExpr:
		walkType(t.X, visit)
	case *ast.ArrayType:
		walkType(t.Elt, visit)
	case *ast.Ellipsis:
		walkType(t.Elt, visit)
	case *ast.MapType:
		walkType(t.Key, visit)
		walkType(t.Value, visit)
	case *ast.ChanType:
		walkType(t.Value, visit)
	case *ast.StructType:
		walkFields(t.Fields, visit)
	case *ast.InterfaceType:
		walkFields(t.Methods, visit)
	case *ast.FuncType:
		walkFields(t.Params, visit)
		walkFields(t.Results, visit)
	case *ast.SelectorExpr:
		// pkg.Type: not ours.
	}
}

func walkFields(fl *ast.FieldList, visit func(*ast.Ident)) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		walkType(f.Type, visit)
	}
}

// isClient reports whether a declaration belongs to gowsdl's SOAP client of a
// port type: a function or method, the port type's interface, or the struct
// holding a *soap.Client.
func isClient(d ast.Decl) bool {
	g, ok := d.(*ast.GenDecl)
	if !ok {
		return true
	}
	if g.Tok != token.TYPE {
		return false
	}
	client := false
	for _, s := range g.Specs {
		ts := s.(*ast.TypeSpec)
		if _, ok := ts.Type.(*ast.InterfaceType); ok {
			client = true
		}
		ast.Inspect(ts.Type, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "soap" && sel.Sel.Name == "Client" {
					client = true
				}
			}
			return true
		})
	}
	return client
}

// splitDecls returns the top-level declarations of src, except imports, and
// its imports.
func splitDecls(src []byte) ([]chunk, map[string]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, fmt.Errorf("parse fixed gowsdl output: %w", err)
	}
	imports := map[string]string{}
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("import path %s: %w", imp.Path.Value, err)
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[p] = name
	}
	var chunks []chunk
	for _, d := range f.Decls {
		start := d.Pos()
		var types []string
		switch d := d.(type) {
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			if d.Doc != nil {
				start = d.Doc.Pos()
			}
			if d.Tok == token.TYPE {
				for _, s := range d.Specs {
					types = append(types, s.(*ast.TypeSpec).Name.Name)
				}
			}
		case *ast.FuncDecl:
			if d.Doc != nil {
				start = d.Doc.Pos()
			}
		}
		text := string(src[fset.Position(start).Offset:fset.Position(d.End()).Offset])
		chunks = append(chunks, chunk{text: text, types: types, client: isClient(d)})
	}
	return chunks, imports, nil
}

package soap

import (
	"bytes"
	"encoding/xml"
	"io"

	"github.com/beevik/etree"
)

// readTree parses data into a document as etree's Document.ReadFromBytes
// does with its default settings (strict, charset labels ignored, the
// last of duplicate attributes kept, CDATA read as text), token by token
// through the same decoder, so that the trees and the errors are the same.
// It costs less: ReadFromBytes reads through a counting reader, for which
// encoding/xml allocates a 4 KiB buffer per document, and keeps a map per
// document; here the decoder reads data itself. Every request parses its
// envelope, so this is a share of each request's garbage, and at a low
// GOGC of each request's time. Most documents do not even go through
// encoding/xml (fastTree).
func readTree(data []byte) (*etree.Document, error) {
	doc, _, err := readTreePooled(data, false)
	return doc, err
}

// readTreePooled is readTree, with pooled as fastTree's: slabs, nil unless
// pooled, go back with releaseSlabs once the tree is no longer used.
func readTreePooled(data []byte, pooled bool) (*etree.Document, *fastSlabs, error) {
	if doc, slabs, ok := fastTree(data, pooled); ok {
		return doc, slabs, nil
	}
	doc, err := decodeTree(data)
	return doc, nil, err
}

// decodeTree is readTree through encoding/xml.
func decodeTree(data []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(_ string, input io.Reader) (io.Reader, error) { return input, nil }
	d.Strict = true
	stack := []*etree.Element{&doc.Element}
	for {
		t, err := d.RawToken()
		switch {
		case err == io.EOF:
			if len(stack) != 1 {
				return nil, etree.ErrXML
			}
			return doc, nil
		case err != nil:
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := t.(type) {
		case xml.StartElement:
			el := etree.NewElement("")
			el.Space, el.Tag = t.Name.Space, t.Name.Local
			for _, a := range t.Attr {
				key := a.Name.Local
				if a.Name.Space != "" {
					key = a.Name.Space + ":" + key
				}
				// A repeated name keeps its place and takes the last value.
				// The name is the token's, as etree keeps it: CreateAttr
				// would split a key such as ":" again, differently.
				at := el.CreateAttr(key, a.Value)
				at.Space, at.Key = a.Name.Space, a.Name.Local
			}
			top.AddChild(el)
			stack = append(stack, el)
		case xml.EndElement:
			if top.Tag != t.Name.Local || top.Space != t.Name.Space || len(stack) == 1 {
				return nil, etree.ErrXML
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			c := etree.NewText("")
			c.SetData(string(t)) // marks white space as ReadFromBytes does
			top.AddChild(c)
		case xml.Comment:
			top.AddChild(etree.NewComment(string(t)))
		case xml.Directive:
			top.AddChild(etree.NewDirective(string(t)))
		case xml.ProcInst:
			top.AddChild(etree.NewProcInst(t.Target, string(t.Inst)))
		}
	}
}

// writeTree serializes the tokens of doc (its children) to b, as
// etree's Document.WriteTo does, without the 4 KiB buffer WriteTo
// allocates each time.
func writeTree(b *bytes.Buffer, doc *etree.Document) {
	for _, c := range doc.Child {
		c.WriteTo(b, &doc.WriteSettings)
	}
}

package xsd

import (
	"embed"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"github.com/beevik/etree"
)

const nsXS = "http://www.w3.org/2001/XMLSchema"

// Files holds the schema files (*.xsd) at its root, as written: their
// schemaLocations are relative file names. It is read-only; use Document to
// get a schema for serving.
//
//go:embed *.xsd
var Files embed.FS

// Document returns the schema file name (e.g. "eventing.xsd") as served
// under base (scheme and host, e.g. "http://127.0.0.1:8080"; a trailing
// slash is ignored): every relative schemaLocation of its xs:import and
// xs:include elements becomes base + "/xsd/" + the referenced file name. A
// schema without such references is returned byte for byte. It reports
// false when there is no schema of that name.
func Document(name, base string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, `/\`) || !strings.HasSuffix(name, ".xsd") {
		return nil, false
	}
	data, err := fs.ReadFile(Files, name)
	if err != nil {
		return nil, false
	}
	base = strings.TrimRight(base, "/")
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		// The embedded schemas are well-formed (tested); serve as is.
		return data, true
	}
	if !rewriteLocations(&doc.Element, base) {
		return data, true
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		return data, true
	}
	return out, true
}

// rewriteLocations rewrites the relative schemaLocations below e and reports
// whether it changed any.
func rewriteLocations(e *etree.Element, base string) bool {
	changed := false
	for _, c := range e.ChildElements() {
		if (c.Tag == "import" || c.Tag == "include") && c.NamespaceURI() == nsXS {
			if a := c.SelectAttr("schemaLocation"); a != nil {
				if u, err := url.Parse(a.Value); err == nil && !u.IsAbs() && u.Host == "" && u.Path != "" {
					a.Value = base + "/xsd/" + path.Base(u.Path)
					changed = true
				}
			}
		}
		if rewriteLocations(c, base) {
			changed = true
		}
	}
	return changed
}

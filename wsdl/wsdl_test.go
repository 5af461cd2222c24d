package wsdl

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/xsd"
)

const (
	nsTNS = "http://webservice.cloud42.jw.de"
	nsWSE = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	wseP  = nsWSE + "/"
	nsH   = "http://herald-eventing.github.io/ns/2026/herald"
)

// heraldOp is an operation of Herald's own port types.
func heraldOp(name, portType, path string) Operation {
	return Operation{Name: name, PortType: portType, Action: nsH + "/" + name, ResponseAction: nsH + "/" + name + "Response",
		Input: xml.Name{Space: nsH, Local: name}, Output: xml.Name{Space: nsH, Local: name + "Response"}, Path: path}
}

func TestOperations(t *testing.T) {
	want := []Operation{
		{Name: "GetStatusOp", PortType: "SubscriptionManager", Action: wseP + "GetStatus", ResponseAction: wseP + "GetStatusResponse",
			Input: xml.Name{Space: nsWSE, Local: "GetStatus"}, Output: xml.Name{Space: nsWSE, Local: "GetStatusResponse"}, Path: "/subscriptions"},
		heraldOp("Pull", "PullDelivery", "/subscriptions"),
		{Name: "RenewOp", PortType: "SubscriptionManager", Action: wseP + "Renew", ResponseAction: wseP + "RenewResponse",
			Input: xml.Name{Space: nsWSE, Local: "Renew"}, Output: xml.Name{Space: nsWSE, Local: "RenewResponse"}, Path: "/subscriptions"},
		{Name: "SubscribeOp", PortType: "EventSource", Action: wseP + "Subscribe", ResponseAction: wseP + "SubscribeResponse",
			Input: xml.Name{Space: nsWSE, Local: "Subscribe"}, Output: xml.Name{Space: nsWSE, Local: "SubscribeResponse"}, Path: "/eventing"},
		{Name: "SubscriptionEnd", PortType: "SubscriptionEndSink", Action: wseP + "SubscriptionEnd",
			Input: xml.Name{Space: nsWSE, Local: "SubscriptionEnd"}, OneWay: true},
		{Name: "UnsubscribeOp", PortType: "SubscriptionManager", Action: wseP + "Unsubscribe", ResponseAction: wseP + "UnsubscribeResponse",
			Input: xml.Name{Space: nsWSE, Local: "Unsubscribe"}, Path: "/subscriptions"},
		heraldOp("cancelSubscription", "Administration", "/eventing"),
		heraldOp("describeSubscription", "Administration", "/eventing"),
		heraldOp("getDeadLetters", "Administration", "/eventing"),
		{Name: "getEndpointAddress", PortType: "NotificationService", Action: "urn:getEndpointAddress", ResponseAction: "urn:getEndpointAddressResponse",
			Input: xml.Name{Space: nsTNS, Local: "getEndpointAddress"}, Output: xml.Name{Space: nsTNS, Local: "getEndpointAddressResponse"}, Path: "/eventing"},
		heraldOp("replay", "Administration", "/eventing"),
		{Name: "setEndpointAddress", PortType: "NotificationService", Action: "urn:setEndpointAddress", ResponseAction: "urn:setEndpointAddressResponse",
			Input: xml.Name{Space: nsTNS, Local: "setEndpointAddress"}, Output: xml.Name{Space: nsTNS, Local: "setEndpointAddressResponse"}, Path: "/eventing"},
		{Name: "subscribe", PortType: "NotificationService", Action: "urn:subscribe", ResponseAction: "urn:subscribeResponse",
			Input: xml.Name{Space: nsTNS, Local: "subscribe"}, Output: xml.Name{Space: nsTNS, Local: "subscribeResponse"}, Path: "/eventing"},
		{Name: "unsubscribe", PortType: "NotificationService", Action: "urn:unsubscribe", ResponseAction: "urn:unsubscribeResponse",
			Input: xml.Name{Space: nsTNS, Local: "unsubscribe"}, Output: xml.Name{Space: nsTNS, Local: "unsubscribeResponse"}, Path: "/eventing"},
	}
	// Every operation of herald.wsdl; the WS-Eventing ones in 2004/08.
	for i := range want {
		want[i].WSDL = File
		if want[i].Input.Space == nsWSE {
			want[i].Eventing = Eventing2004
		}
	}
	got := Operations()

	var names []string
	for _, op := range got {
		names = append(names, op.Name)
		if op.Action == "" {
			t.Errorf("%s: no input action", op.Name)
		}
		if !op.OneWay && op.ResponseAction == "" {
			t.Errorf("%s: no output action", op.Name)
		}
		if op.Input == (xml.Name{}) {
			t.Errorf("%s: no input element", op.Name)
		}
	}
	wantNames := []string{"GetStatusOp", "Pull", "RenewOp", "SubscribeOp", "SubscriptionEnd", "UnsubscribeOp",
		"cancelSubscription", "describeSubscription", "getDeadLetters", "getEndpointAddress", "replay",
		"setEndpointAddress", "subscribe", "unsubscribe"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("operation names = %q, want exactly %q (sorted)", names, wantNames)
	}
	for i, op := range withoutTypes(got) {
		if op != want[i] {
			t.Errorf("operation %d:\n got %+v\nwant %+v", i, op, want[i])
		}
	}
}

func TestOperationsReturnsCopy(t *testing.T) {
	ops := Operations()
	ops[0].Name = "changed"
	if Operations()[0].Name == "changed" {
		t.Fatal("Operations returned the cached slice; a caller changed the table")
	}
}

// TestBindings checks the shape the contract promises, in both WSDLs:
// every port type has exactly one SOAP 1.1 and one SOAP 1.2 document/literal
// binding whose soapActions are the input actions, wsam:Action and
// wsaw:Action agree, and each port type with a port has a SOAP 1.1 and a
// SOAP 1.2 port.
func TestBindings(t *testing.T) {
	t.Run(File, func(t *testing.T) {
		testBindings(t, parsed, Operations(), "HeraldService",
			[]string{"NotificationService", "EventSource", "SubscriptionManager", "SubscriptionEndSink", "Administration", "PullDelivery"},
			[]string{"NotificationService", "EventSource", "SubscriptionManager", "Administration", "PullDelivery"})
	})
	t.Run(File2011, func(t *testing.T) {
		testBindings(t, parsed2011, Operations2011(), "HeraldEventing2011Service",
			[]string{"EventSource", "SubscriptionManager", "WrappedSinkPortType", "SubscriptionEndSink"},
			[]string{"EventSource", "SubscriptionManager"})
	})
}

func testBindings(t *testing.T, parse func() (*etree.Document, error), ops []Operation, service string, portTypes, offered []string) {
	doc, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	actions := map[string]string{}
	for _, op := range ops {
		actions[op.PortType+"/"+op.Name] = op.Action
	}
	for _, pt := range childrenNS(root, nsWSDL, "portType") {
		for _, op := range childrenNS(pt, nsWSDL, "operation") {
			for _, io := range op.ChildElements() {
				am, aw := attrNS(io, nsWSAM, "Action"), attrNS(io, nsWSAW, "Action")
				if am == "" || am != aw {
					t.Errorf("%s/%s %s: wsam:Action %q, wsaw:Action %q: want both, equal",
						pt.SelectAttrValue("name", ""), op.SelectAttrValue("name", ""), io.Tag, am, aw)
				}
			}
		}
	}

	kinds := map[string][]string{} // port type -> binding SOAP namespaces
	for _, b := range childrenNS(root, nsWSDL, "binding") {
		_, pt := resolveQName(b, b.SelectAttrValue("type", ""))
		var sb *etree.Element
		for _, c := range b.ChildElements() {
			if c.Tag == "binding" && isSOAPNamespace(c.NamespaceURI()) {
				sb = c
			}
		}
		if sb == nil {
			t.Errorf("binding %s: no soap:binding or soap12:binding", b.SelectAttrValue("name", ""))
			continue
		}
		if sb.SelectAttrValue("style", "") != "document" {
			t.Errorf("binding %s: style %q, want document", b.SelectAttrValue("name", ""), sb.SelectAttrValue("style", ""))
		}
		kinds[pt] = append(kinds[pt], sb.NamespaceURI())
		for _, op := range childrenNS(b, nsWSDL, "operation") {
			name := op.SelectAttrValue("name", "")
			want, ok := actions[pt+"/"+name]
			if !ok {
				t.Errorf("binding %s binds %s, which port type %s lacks", b.SelectAttrValue("name", ""), name, pt)
				continue
			}
			if got := soapAction([]*etree.Element{op}); got != want {
				t.Errorf("binding %s operation %s: soapAction %q, want the input action %q", b.SelectAttrValue("name", ""), name, got, want)
			}
			for _, io := range op.ChildElements() {
				for _, body := range io.ChildElements() {
					if body.Tag == "body" && body.SelectAttrValue("use", "") != "literal" {
						t.Errorf("binding %s operation %s: use %q, want literal", b.SelectAttrValue("name", ""), name, body.SelectAttrValue("use", ""))
					}
				}
			}
		}
	}
	for _, pt := range portTypes {
		got := slices.Sorted(slices.Values(kinds[pt]))
		if want := []string{nsSOAP11, nsSOAP12}; !slices.Equal(got, want) {
			t.Errorf("port type %s: bindings %q, want one SOAP 1.1 and one SOAP 1.2", pt, got)
		}
	}

	ports := map[string]int{}
	for _, svc := range childrenNS(root, nsWSDL, "service") {
		if n := svc.SelectAttrValue("name", ""); n != service {
			t.Errorf("service %q, want %s", n, service)
		}
		for _, p := range childrenNS(svc, nsWSDL, "port") {
			ports[p.SelectAttrValue("binding", "")]++
		}
	}
	for _, b := range offered {
		for _, v := range []string{"Soap11Binding", "Soap12Binding"} {
			if ports["tns:"+b+v] != 1 {
				t.Errorf("binding %s%s has %d ports, want 1", b, v, ports["tns:"+b+v])
			}
		}
	}
	for _, pt := range portTypes {
		if !slices.Contains(offered, pt) && ports["tns:"+pt+"Soap11Binding"]+ports["tns:"+pt+"Soap12Binding"] != 0 {
			t.Errorf("%s must not be offered by a port", pt)
		}
	}
	var declared []string
	for _, pt := range childrenNS(root, nsWSDL, "portType") {
		declared = append(declared, pt.SelectAttrValue("name", ""))
	}
	if !slices.Equal(declared, portTypes) {
		t.Errorf("port types %q, want %q", declared, portTypes)
	}
}

// TestIdentifierHeader checks that the SubscriptionManager requests carry
// the subscription's identifier as a SOAP header in both bindings and their
// Body as the other part: wse:Identifier in herald.wsdl (2004/08),
// h:SubscriptionId in eventing-2011.wsdl.
func TestIdentifierHeader(t *testing.T) {
	t.Run(File, func(t *testing.T) {
		testIdentifierHeader(t, parsed, "Identifier", xml.Name{Space: nsWSE, Local: "Identifier"})
	})
	t.Run(File2011, func(t *testing.T) {
		testIdentifierHeader(t, parsed2011, "SubscriptionId", xml.Name{Space: nsH, Local: "SubscriptionId"})
	})
}

func testIdentifierHeader(t *testing.T, parse func() (*etree.Document, error), part string, element xml.Name) {
	doc, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range childrenNS(doc.Root(), nsWSDL, "message") {
		for _, p := range childrenNS(m, nsWSDL, "part") {
			if p.SelectAttrValue("name", "") != part {
				continue
			}
			if ns, local := resolveQName(p, p.SelectAttrValue("element", "")); (xml.Name{Space: ns, Local: local}) != element {
				t.Errorf("message %s part %s: element {%s}%s, want %v", m.SelectAttrValue("name", ""), part, ns, local, element)
			}
		}
	}
	n := 0
	for _, b := range childrenNS(doc.Root(), nsWSDL, "binding") {
		if _, pt := resolveQName(b, b.SelectAttrValue("type", "")); pt != "SubscriptionManager" {
			continue
		}
		for _, op := range childrenNS(b, nsWSDL, "operation") {
			in := firstChildNS(op, nsWSDL, "input")
			var header, body *etree.Element
			for _, c := range in.ChildElements() {
				switch c.Tag {
				case "header":
					header = c
				case "body":
					body = c
				}
			}
			where := b.SelectAttrValue("name", "") + "/" + op.SelectAttrValue("name", "")
			if header == nil || header.SelectAttrValue("part", "") != part || header.SelectAttrValue("use", "") != "literal" {
				t.Errorf("%s: no literal soap header for part %s", where, part)
				continue
			}
			n++
			_, msg := resolveQName(header, header.SelectAttrValue("message", ""))
			if want := op.SelectAttrValue("name", "") + "Request"; msg != want {
				t.Errorf("%s: header message %s, want %s", where, msg, want)
			}
			if body == nil || body.SelectAttrValue("parts", "") != "body" {
				t.Errorf("%s: soap body does not select parts=\"body\"", where)
			}
		}
	}
	if n != 6 {
		t.Errorf("%d SubscriptionManager operations carry the header, want 6 (3 operations, 2 bindings)", n)
	}
}

func TestDocument(t *testing.T) {
	const base = "http://127.0.0.1:9090"
	out := Document(base + "/")

	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatalf("Document is not well-formed: %v", err)
	}
	var addrs, locs []string
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, c := range e.ChildElements() {
			if c.Tag == "address" && isSOAPNamespace(c.NamespaceURI()) {
				addrs = append(addrs, c.SelectAttrValue("location", ""))
			}
			if c.Tag == "import" && c.NamespaceURI() == nsXS {
				locs = append(locs, c.SelectAttrValue("schemaLocation", ""))
			}
			walk(c)
		}
	}
	walk(doc.Root())

	wantAddrs := []string{
		base + "/eventing", base + "/eventing", base + "/eventing", base + "/eventing",
		base + "/subscriptions", base + "/subscriptions",
		base + "/eventing", base + "/eventing", base + "/subscriptions", base + "/subscriptions",
	}
	if !slices.Equal(addrs, wantAddrs) {
		t.Errorf("port addresses = %q, want %q", addrs, wantAddrs)
	}
	wantLocs := []string{base + "/xsd/management.xsd", base + "/xsd/eventing.xsd", base + "/xsd/herald.xsd", base + "/xsd/message.xsd"}
	if !slices.Equal(locs, wantLocs) {
		t.Errorf("schemaLocations = %q, want %q", locs, wantLocs)
	}
	for _, l := range locs {
		u, err := url.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Stat(xsd.Files, path.Base(u.Path)); err != nil {
			t.Errorf("schemaLocation %s: package xsd does not serve it: %v", l, err)
		}
		if _, ok := xsd.Document(path.Base(u.Path), base); !ok {
			t.Errorf("schemaLocation %s: xsd.Document does not know it", l)
		}
	}

	// The rewritten document describes the same operations.
	ops, err := parseOperations(doc.Root(), File)
	if err != nil {
		t.Fatalf("operations of the served document: %v", err)
	}
	if want := withoutTypes(Operations()); !slices.Equal(ops, want) {
		t.Errorf("served document's operations differ:\n%+v\nwant\n%+v", ops, want)
	}

	// Its documentation links the 2011 WSDL with the served origin.
	docs := doc.Root().SelectElement("documentation")
	if docs == nil || !strings.Contains(docs.Text(), base+"/eventing?wsdl="+Query2011) {
		t.Errorf("wsdl:documentation does not link %s/eventing?wsdl=%s", base, Query2011)
	}
	if bytes.Contains(out, []byte("localhost:8080")) {
		t.Error("Document left a localhost:8080 URL")
	}

	// Comments and the rest of the text survive, and the embedded copy is
	// untouched.
	if !bytes.Contains(out, []byte("Layout: types, then per port type")) {
		t.Error("Document lost the header comment")
	}
	if again := Document("http://other:1"); bytes.Contains(again, []byte(base)) {
		t.Error("Document changed the cached WSDL")
	}
}

// TestRelativeLocations checks that the schemaLocations of the WSDLs as
// written resolve from the wsdl directory to the files of package xsd.
func TestRelativeLocations(t *testing.T) {
	t.Run(File, func(t *testing.T) { testRelativeLocations(t, parsed, 4) })
	t.Run(File2011, func(t *testing.T) { testRelativeLocations(t, parsed2011, 2) })
}

func testRelativeLocations(t *testing.T, parse func() (*etree.Document, error), imports int) {
	doc, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, imp := range doc.Root().FindElements("//import") {
		loc := imp.SelectAttrValue("schemaLocation", "")
		if loc == "" {
			continue
		}
		n++
		if !strings.HasPrefix(loc, "../xsd/") {
			t.Errorf("schemaLocation %q is not relative to ../xsd/", loc)
		}
		if _, err := os.Stat(filepath.FromSlash(loc)); err != nil {
			t.Errorf("schemaLocation %q does not resolve from the wsdl directory: %v", loc, err)
		}
	}
	if n != imports {
		t.Errorf("found %d schema imports, want %d", n, imports)
	}
}

// TestGeneratedUpToDate regenerates types.gen.go, operations.gen.go and
// wsdlclient/client.gen.go the way go:generate does and compares them with
// the committed files: it fails when herald.wsdl, eventing-2011.wsdl, the
// schemas in xsd/ or the generator changed without "make generate".
func TestGeneratedUpToDate(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	dir := t.TempDir()
	files := map[string]string{ // committed file -> flag
		"types.gen.go":             "-o",
		"operations.gen.go":        "-ops",
		"wsdlclient/client.gen.go": "-client",
	}
	args := []string{"run", "./internal/gen", "-wsdl", File, "-table", File2011}
	for committed, flag := range files {
		args = append(args, flag, filepath.Join(dir, filepath.FromSlash(committed)))
	}
	cmd := exec.CommandContext(t.Context(), goCmd, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("regenerate: %v\n%s", err, b)
	}
	for committed := range files {
		fresh, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(committed)))
		if err != nil {
			t.Fatal(err)
		}
		old, err := os.ReadFile(filepath.FromSlash(committed))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, old) {
			t.Errorf("wsdl/%s is out of date with the WSDLs and the schemas in xsd/: run make generate (go generate ./wsdl)\n%s",
				committed, firstDiff(old, fresh))
		}
	}
}

// firstDiff describes the first differing line of a and b.
func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("first difference at line %d:\n committed: %s\n generated: %s", i+1, x, y)
		}
	}
	return ""
}

package wsdl

import (
	"bytes"
	"encoding/xml"
	"net/url"
	"os/exec"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/wsdl/internal/wsdlops"
	"github.com/herald-eventing/herald/xsd"
)

const (
	nsWSE11 = "http://www.w3.org/2011/03/ws-evt"
	wse11P  = nsWSE11 + "/"
)

func TestOperations2011(t *testing.T) {
	mgr := func(name, el string) Operation {
		return Operation{Name: name, PortType: "SubscriptionManager", Action: wse11P + el, ResponseAction: wse11P + el + "Response",
			Input: xml.Name{Space: nsWSE11, Local: el}, Output: xml.Name{Space: nsWSE11, Local: el + "Response"},
			Path: "/subscriptions", Eventing: Eventing2011, WSDL: File2011}
	}
	want := []Operation{
		mgr("GetStatusOp", "GetStatus"),
		{Name: "NotifyEvent", PortType: "WrappedSinkPortType", Action: wse11P + "WrappedSinkPortType/NotifyEvent",
			Input: xml.Name{Space: nsWSE11, Local: "Notify"}, OneWay: true, Eventing: Eventing2011, WSDL: File2011},
		mgr("RenewOp", "Renew"),
		{Name: "SubscribeOp", PortType: "EventSource", Action: wse11P + "Subscribe", ResponseAction: wse11P + "SubscribeResponse",
			Input: xml.Name{Space: nsWSE11, Local: "Subscribe"}, Output: xml.Name{Space: nsWSE11, Local: "SubscribeResponse"},
			Path: "/eventing", Eventing: Eventing2011, WSDL: File2011},
		{Name: "SubscriptionEnd", PortType: "SubscriptionEndSink", Action: wse11P + "SubscriptionEnd",
			Input: xml.Name{Space: nsWSE11, Local: "SubscriptionEnd"}, OneWay: true, Eventing: Eventing2011, WSDL: File2011},
		mgr("UnsubscribeOp", "Unsubscribe"),
	}
	got := Operations2011()
	if !slices.Equal(got, want) {
		t.Errorf("Operations2011:\n%+v\nwant\n%+v", got, want)
	}
	if Eventing2011 != wsdlops.Eventing2011 || Eventing2004 != wsdlops.Eventing2004 {
		t.Error("the Eventing constants of wsdl and wsdlops differ")
	}
}

// TestTableMatchesWSDL checks the generated table against a parse of each
// embedded WSDL at run time.
func TestTableMatchesWSDL(t *testing.T) {
	for _, tt := range []struct {
		file  string
		parse func() (*etree.Document, error)
		table []Operation
	}{
		{File, parsed, Operations()},
		{File2011, parsed2011, Operations2011()},
	} {
		doc, err := tt.parse()
		if err != nil {
			t.Fatal(err)
		}
		ops, err := parseOperations(doc.Root(), tt.file)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if got := withoutTypes(tt.table); !slices.Equal(got, ops) {
			t.Errorf("%s: generated table\n%+v\ndiffers from the WSDL's operations\n%+v\n(run make generate)", tt.file, got, ops)
		}
	}
}

func TestAllOperations(t *testing.T) {
	all := AllOperations()
	if want := len(Operations()) + len(Operations2011()); len(all) != want {
		t.Fatalf("%d operations, want %d", len(all), want)
	}
	type key struct{ name, eventing string }
	seen := map[key]bool{}
	for i, op := range all {
		k := key{op.Name, op.Eventing}
		if seen[k] {
			t.Errorf("operation %s (Eventing %q) twice", op.Name, op.Eventing)
		}
		seen[k] = true
		if i > 0 && compareOps(all[i-1], op) >= 0 {
			t.Errorf("not sorted by Name, Eventing, PortType: %s/%s before %s/%s", all[i-1].Name, all[i-1].Eventing, op.Name, op.Eventing)
		}
		switch op.WSDL {
		case File:
			if !slices.Contains(Operations(), op) {
				t.Errorf("%s of %s missing from Operations", op.Name, File)
			}
		case File2011:
			if !slices.Contains(Operations2011(), op) {
				t.Errorf("%s of %s missing from Operations2011", op.Name, File2011)
			}
		default:
			t.Errorf("%s: WSDL %q", op.Name, op.WSDL)
		}
		if op.Eventing == Eventing2011 && op.WSDL != File2011 || op.WSDL == File2011 && op.Eventing != Eventing2011 {
			t.Errorf("%s: Eventing %q in %s", op.Name, op.Eventing, op.WSDL)
		}
	}
	all[0].Name = "changed"
	if AllOperations()[0].Name == "changed" {
		t.Error("AllOperations returned a shared slice")
	}
}

func compareOps(a, b Operation) int {
	return wsdlops.Compare(
		wsdlops.Operation{Name: a.Name, Eventing: a.Eventing, PortType: a.PortType, WSDL: a.WSDL},
		wsdlops.Operation{Name: b.Name, Eventing: b.Eventing, PortType: b.PortType, WSDL: b.WSDL})
}

// TestOperationTypes checks the Go types of the table: each is the struct
// whose XMLName is the operation's Body element, and they are there for
// every fixed-shape message of herald.wsdl.
func TestOperationTypes(t *testing.T) {
	for _, op := range AllOperations() {
		for _, c := range []struct {
			what string
			typ  reflect.Type
			el   xml.Name
		}{{"Request", op.Request, op.Input}, {"Response", op.Response, op.Output}} {
			if c.typ == nil {
				continue
			}
			f, ok := c.typ.FieldByName("XMLName")
			if c.typ.Kind() != reflect.Struct || !ok {
				t.Errorf("%s %s: %v has no XMLName", op.Name, c.what, c.typ)
				continue
			}
			if tag := f.Tag.Get("xml"); tag != c.el.Space+" "+c.el.Local {
				t.Errorf("%s %s: %v has XMLName %q, want %v", op.Name, c.what, c.typ, tag, c.el)
			}
			// A value decodes from its own marshalling.
			out, err := xml.Marshal(reflect.New(c.typ).Interface())
			if err != nil {
				t.Errorf("%s %s: marshal %v: %v", op.Name, c.what, c.typ, err)
				continue
			}
			if err := xml.Unmarshal(out, reflect.New(c.typ).Interface()); err != nil {
				t.Errorf("%s %s: unmarshal %s into %v: %v", op.Name, c.what, out, c.typ, err)
			}
		}
	}
	types := map[string][2]reflect.Type{}
	for _, op := range Operations() {
		types[op.Name] = [2]reflect.Type{op.Request, op.Response}
	}
	want := map[string][2]reflect.Type{
		"subscribe":          {reflect.TypeFor[Subscribe](), reflect.TypeFor[SubscribeResponse]()},
		"unsubscribe":        {reflect.TypeFor[Unsubscribe](), reflect.TypeFor[UnsubscribeResponse]()},
		"setEndpointAddress": {reflect.TypeFor[SetEndpointAddress](), reflect.TypeFor[SetEndpointAddressResponse]()},
		"getEndpointAddress": {reflect.TypeFor[GetEndpointAddress](), reflect.TypeFor[GetEndpointAddressResponse]()},
		"SubscribeOp":        {reflect.TypeFor[WseSubscribe](), reflect.TypeFor[WseSubscribeResponse]()},
		"RenewOp":            {reflect.TypeFor[Renew](), reflect.TypeFor[RenewResponse]()},
		"GetStatusOp":        {reflect.TypeFor[GetStatus](), reflect.TypeFor[GetStatusResponse]()},
		"UnsubscribeOp":      {reflect.TypeFor[WseUnsubscribe](), nil},  // empty Body
		"SubscriptionEnd":    {reflect.TypeFor[SubscriptionEnd](), nil}, // one-way
		"cancelSubscription": {reflect.TypeFor[CancelSubscription](), reflect.TypeFor[CancelSubscriptionResponse]()},
		"describeSubscription": {reflect.TypeFor[DescribeSubscription](),
			reflect.TypeFor[DescribeSubscriptionResponse]()},
		"getDeadLetters": {reflect.TypeFor[GetDeadLetters](), reflect.TypeFor[GetDeadLettersResponse]()},
		"replay":         {reflect.TypeFor[Replay](), reflect.TypeFor[ReplayResponse]()},
		"Pull":           {reflect.TypeFor[Pull](), reflect.TypeFor[PullResponse]()},
	}
	for name, w := range want {
		if types[name] != w {
			t.Errorf("%s: Request, Response = %v, want %v", name, types[name], w)
		}
	}
	if len(types) != len(want) {
		t.Errorf("%d operations in herald.wsdl, %d expected here", len(types), len(want))
	}
	// No Go types are generated for WS-Eventing 2011.
	for _, op := range Operations2011() {
		if op.Request != nil || op.Response != nil {
			t.Errorf("2011 %s: Request %v, Response %v, want nil", op.Name, op.Request, op.Response)
		}
	}
}

func TestDocument2011(t *testing.T) {
	const base = "https://herald.example:8443"
	out := Document2011(base + "/")
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatalf("Document2011 is not well-formed: %v", err)
	}
	root := doc.Root()
	if tns := root.SelectAttrValue("targetNamespace", ""); tns != Eventing2011 {
		t.Errorf("targetNamespace %q, want %s", tns, Eventing2011)
	}
	var addrs, locs []string
	for _, e := range root.FindElements("//*") {
		if e.Tag == "address" && isSOAPNamespace(e.NamespaceURI()) {
			addrs = append(addrs, e.SelectAttrValue("location", ""))
		}
		if e.Tag == "import" && e.NamespaceURI() == nsXS {
			locs = append(locs, e.SelectAttrValue("schemaLocation", ""))
		}
	}
	wantAddrs := []string{base + "/eventing", base + "/eventing", base + "/subscriptions", base + "/subscriptions"}
	if !slices.Equal(addrs, wantAddrs) {
		t.Errorf("port addresses = %q, want %q", addrs, wantAddrs)
	}
	if want := []string{base + "/xsd/ws-evt-2011.xsd", base + "/xsd/herald.xsd"}; !slices.Equal(locs, want) {
		t.Errorf("schemaLocations = %q, want %q", locs, want)
	}
	// Every schema it names is served, and so, transitively, is every
	// schema those import.
	queue, seen := slices.Clone(locs), map[string]bool{}
	for len(queue) > 0 {
		loc := queue[0]
		queue = queue[1:]
		if seen[loc] {
			continue
		}
		seen[loc] = true
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, base+"/xsd/") {
			t.Errorf("schemaLocation %q is not under %s/xsd/", loc, base)
			continue
		}
		data, ok := xsd.Document(path.Base(u.Path), base)
		if !ok {
			t.Errorf("schemaLocation %s: xsd.Document does not serve it", loc)
			continue
		}
		sd := etree.NewDocument()
		if err := sd.ReadFromBytes(data); err != nil {
			t.Errorf("%s: %v", loc, err)
			continue
		}
		for _, imp := range sd.Root().ChildElements() {
			if (imp.Tag == "import" || imp.Tag == "include") && imp.SelectAttrValue("schemaLocation", "") != "" {
				queue = append(queue, imp.SelectAttrValue("schemaLocation", ""))
			}
		}
	}
	for _, want := range []string{"ws-addr-1.0.xsd", "xml.xsd", "message.xsd"} {
		if !seen[base+"/xsd/"+want] {
			t.Errorf("%s is not reached from the 2011 WSDL's schemas (reached %v)", want, seen)
		}
	}

	ops, err := parseOperations(root, File2011)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ops, Operations2011()) {
		t.Errorf("served document's operations differ:\n%+v\nwant\n%+v", ops, Operations2011())
	}
	if bytes.Contains(out, []byte("localhost:8080")) {
		t.Error("Document2011 left a localhost:8080 URL")
	}
	if !bytes.Contains(out, []byte("Layout as in herald.wsdl")) {
		t.Error("Document2011 lost the header comment")
	}
}

func TestDocumentFor(t *testing.T) {
	const base = "http://h:1"
	if got, ok := DocumentFor("", base); !ok || !bytes.Equal(got, Document(base)) {
		t.Error(`DocumentFor("") is not Document`)
	}
	if got, ok := DocumentFor(Query2011, base); !ok || !bytes.Equal(got, Document2011(base)) {
		t.Error("DocumentFor(Query2011) is not Document2011")
	}
	for _, v := range []string{"2004", "x", " 2011"} {
		if got, ok := DocumentFor(v, base); ok || got != nil {
			t.Errorf("DocumentFor(%q) = %d bytes, %v; want nil, false", v, len(got), ok)
		}
	}
}

// TestNoSOAPClient checks that package wsdl does not link gowsdl (its SOAP
// client lives in wsdlclient).
func TestNoSOAPClient(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	out, err := exec.CommandContext(t.Context(), goCmd, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("gowsdl")) {
		t.Errorf("package wsdl depends on gowsdl:\n%s", out)
	}
}

func TestDateTime(t *testing.T) {
	d := FormatDateTime(mustTime(t, "2026-03-01T10:00:00.5+01:00"))
	if d != "2026-03-01T10:00:00.5+01:00" {
		t.Errorf("FormatDateTime = %q", d)
	}
	if got, err := d.Time(); err != nil || !got.Equal(mustTime(t, "2026-03-01T09:00:00.5Z")) {
		t.Errorf("Time() = %v, %v", got, err)
	}
	if _, err := DateTime("2026-03-01").Time(); err == nil {
		t.Error("a date without time parsed as a dateTime")
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := DateTime(s).Time()
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

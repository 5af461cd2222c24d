package xsd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"
	validator "github.com/jacoelho/xsd"
)

// publishedSHA256 is the SHA-256 of the message schema as published (the
// seed document's message.xsd).
const publishedSHA256 = "ffee3414104a5d7560f79f6aff59137a051822b4e70073b3321369370933c680"

var schemaFiles = []string{
	"addressing.xsd", "eventing.xsd", "herald.xsd", "management.xsd",
	"message-published.xsd", "message.xsd", "ws-addr-1.0.xsd", "ws-evt-2011.xsd", "xml.xsd",
}

func TestFiles(t *testing.T) {
	entries, err := fs.ReadDir(Files, ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, schemaFiles) {
		t.Errorf("embedded files = %q, want %q", got, schemaFiles)
	}

	pub, err := fs.ReadFile(Files, "message-published.xsd")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pub)
	if hex.EncodeToString(sum[:]) != publishedSHA256 {
		t.Error("message-published.xsd is not byte for byte the published schema")
	}
}

// TestSchemasCompile compiles every schema (with its imports, resolved
// relative to this directory) with the validator.
func TestSchemasCompile(t *testing.T) {
	for _, name := range schemaFiles {
		if _, err := validator.Compile(validator.File(name)); err != nil {
			t.Errorf("%s does not compile: %v", name, err)
		}
	}
}

func TestSchemaDeclarations(t *testing.T) {
	tests := []struct {
		file, tns string
		elements  []string
	}{
		{"management.xsd", "http://webservice.cloud42.jw.de", []string{
			"subscribe", "subscribeResponse", "unsubscribe", "unsubscribeResponse",
			"setEndpointAddress", "setEndpointAddressResponse", "getEndpointAddress", "getEndpointAddressResponse"}},
		{"addressing.xsd", "http://schemas.xmlsoap.org/ws/2004/08/addressing", []string{
			"EndpointReference", "MessageID", "RelatesTo", "To", "Action", "From", "ReplyTo", "FaultTo", "ReplyAfter"}},
		{"eventing.xsd", "http://schemas.xmlsoap.org/ws/2004/08/eventing", []string{
			"NotifyTo", "Subscribe", "Identifier", "SubscribeResponse", "SupportedDialect", "SupportedDeliveryMode",
			"Renew", "RenewResponse", "GetStatus", "GetStatusResponse", "Unsubscribe", "SubscriptionEnd"}},
		{"herald.xsd", "http://herald-eventing.github.io/ns/2026/herald", []string{"Secret", "Email", "Webhook", "PullSubscription", "Processor", "SubscriptionId", "SupportedProcessor", "cancelSubscription", "cancelSubscriptionResponse", "describeSubscription", "describeSubscriptionResponse", "getDeadLetters", "getDeadLettersResponse", "replay", "replayResponse", "Pull", "PullResponse"}},
		{"message.xsd", MessageNamespace, []string{"message"}},
		{"ws-addr-1.0.xsd", "http://www.w3.org/2005/08/addressing", []string{
			"EndpointReference", "ReferenceParameters", "Metadata", "MessageID", "RelatesTo", "ReplyTo", "From", "FaultTo",
			"To", "Action", "RetryAfter", "ProblemHeaderQName", "ProblemIRI", "ProblemAction"}},
		{"ws-evt-2011.xsd", "http://www.w3.org/2011/03/ws-evt", []string{
			"NotifyTo", "Subscribe", "SubscribeResponse", "SupportedDialect", "SupportedDeliveryFormat", "Renew", "RenewResponse",
			"GetStatus", "GetStatusResponse", "Unsubscribe", "UnsubscribeResponse", "SubscriptionEnd", "RetryAfter", "Notify"}},
	}
	for _, tt := range tests {
		data, err := fs.ReadFile(Files, tt.file)
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		root := doc.Root()
		if got := root.SelectAttrValue("targetNamespace", ""); got != tt.tns {
			t.Errorf("%s: targetNamespace %q, want %q", tt.file, got, tt.tns)
		}
		if got := root.SelectAttrValue("elementFormDefault", ""); got != "qualified" {
			t.Errorf("%s: elementFormDefault %q, want qualified", tt.file, got)
		}
		var got []string
		for _, e := range root.SelectElements("element") {
			got = append(got, e.SelectAttrValue("name", ""))
		}
		if !slices.Equal(got, tt.elements) {
			t.Errorf("%s: global elements %q, want %q", tt.file, got, tt.elements)
		}
	}

	herald, _ := fs.ReadFile(Files, "herald.xsd")
	for _, uri := range []string{
		"http://herald-eventing.github.io/ns/2026/herald/dialects/topic",
		"http://herald-eventing.github.io/ns/2026/herald/Notify",
		"http://herald-eventing.github.io/ns/2026/herald/delivery/pull",
	} {
		if !bytes.Contains(herald, []byte(uri)) {
			t.Errorf("herald.xsd does not document %s", uri)
		}
	}
}

// TestSeedMessagesValidate validates the Body of the seed's management
// messages and of the WS-Eventing spec examples against the schemas.
func TestSeedMessagesValidate(t *testing.T) {
	management, err := validator.Compile(validator.File("management.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	eventing, err := validator.Compile(validator.File("eventing.xsd"), validator.File("herald.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file   string
		engine *validator.Engine
	}{
		{"subscribe-request-soap.xml", management},
		{"subscribe-request-sms.xml", management},
		{"subscribe-response.xml", management},
		{"unsubscribe-request.xml", management},
		{"unsubscribe-response.xml", management},
		{"vectors/2004-subscribe-request.xml", eventing},
		{"vectors/2004-subscribe-response.xml", eventing},
		{"vectors/2004-renew-request.xml", eventing},
		{"vectors/2004-renew-response.xml", eventing},
		{"vectors/2004-getstatus-request.xml", eventing},
		{"vectors/2004-getstatus-response.xml", eventing},
		{"vectors/2004-unsubscribe-request.xml", eventing},
		{"vectors/2004-subscriptionend.UNVERIFIED.xml", eventing},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := bodyElement(t, filepath.Join("..", "testdata", filepath.FromSlash(tt.file)))
			if err := tt.engine.Validate(bytes.NewReader(body)); err != nil {
				t.Errorf("Body invalid: %v\n%s", err, body)
			}
		})
	}

	// The extension a subscriber may add to wse:Subscribe.
	ext := `<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"
	  xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
	  xmlns:h="http://herald-eventing.github.io/ns/2026/herald">
	  <wse:Delivery><wse:NotifyTo><wsa:Address>http://localhost:8085/monitor</wsa:Address></wse:NotifyTo></wse:Delivery>
	  <wse:Filter Dialect="http://herald-eventing.github.io/ns/2026/herald/dialects/topic">myTopic</wse:Filter>
	  <h:Secret>s3cret</h:Secret>
	</wse:Subscribe>`
	if err := eventing.Validate(strings.NewReader(ext)); err != nil {
		t.Errorf("wse:Subscribe with h:Secret invalid: %v", err)
	}
	bad := strings.Replace(ext, "<h:Secret>s3cret</h:Secret>", "<h:Secret><x/></h:Secret>", 1)
	if err := eventing.Validate(strings.NewReader(bad)); err == nil {
		t.Error("h:Secret with element content accepted; herald.xsd is not applied to the extension")
	}
	// The management operations without a subscriptionMessage and the
	// empty getEndpointAddress.
	for _, doc := range []string{
		`<web:subscribe xmlns:web="http://webservice.cloud42.jw.de"><web:subscriptionProcessor>soap</web:subscriptionProcessor><web:topic>t</web:topic></web:subscribe>`,
		`<web:getEndpointAddress xmlns:web="http://webservice.cloud42.jw.de"/>`,
		`<web:setEndpointAddress xmlns:web="http://webservice.cloud42.jw.de"><web:address>/messages</web:address></web:setEndpointAddress>`,
		`<web:setEndpointAddressResponse xmlns:web="http://webservice.cloud42.jw.de"><web:return>http://h:8080/messages</web:return></web:setEndpointAddressResponse>`,
		`<web:getEndpointAddressResponse xmlns:web="http://webservice.cloud42.jw.de"><web:return>http://h:8080/messages</web:return></web:getEndpointAddressResponse>`,
	} {
		if err := management.Validate(strings.NewReader(doc)); err != nil {
			t.Errorf("%s invalid: %v", doc, err)
		}
	}
	if err := management.Validate(strings.NewReader(`<web:unsubscribeResponse xmlns:web="http://webservice.cloud42.jw.de"><web:return>maybe</web:return></web:unsubscribeResponse>`)); err == nil {
		t.Error("unsubscribeResponse with a non-boolean return accepted")
	}
}

// bodyElement returns the first child of the SOAP Body of the envelope in
// file as a standalone document, with the namespace declarations in scope.
func bodyElement(t *testing.T, file string) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(file); err != nil {
		t.Fatal(err)
	}
	body := doc.Root().SelectElement("Body")
	if body == nil || len(body.ChildElements()) == 0 {
		t.Fatalf("%s: no Body child", file)
	}
	el := body.ChildElements()[0]
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			declared[a.Key] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if a.Space == "xmlns" && !declared[a.Key] {
				cp.CreateAttr("xmlns:"+a.Key, a.Value)
				declared[a.Key] = true
			}
		}
	}
	out := etree.NewDocumentWithRoot(cp)
	b, err := out.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDocument(t *testing.T) {
	const base = "https://herald.example:8443"
	got, ok := Document("eventing.xsd", base+"/")
	if !ok {
		t.Fatal("eventing.xsd unknown")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(got); err != nil {
		t.Fatalf("served eventing.xsd is not well-formed: %v", err)
	}
	var locs []string
	for _, imp := range doc.Root().SelectElements("import") {
		locs = append(locs, imp.SelectAttrValue("schemaLocation", ""))
	}
	want := []string{base + "/xsd/xml.xsd", base + "/xsd/addressing.xsd"}
	if !slices.Equal(locs, want) {
		t.Errorf("schemaLocations = %q, want %q", locs, want)
	}
	for _, l := range locs {
		name := l[strings.LastIndex(l, "/")+1:]
		if _, ok := Document(name, base); !ok {
			t.Errorf("imported %s is not served", name)
		}
	}
	if !bytes.Contains(got, []byte("HERALD NOTE")) {
		t.Error("served eventing.xsd lost its comments")
	}

	// The 2011 schema's imports resolve to served schemas too.
	got2011, ok := Document("ws-evt-2011.xsd", base)
	if !ok {
		t.Fatal("ws-evt-2011.xsd unknown")
	}
	doc2011 := etree.NewDocument()
	if err := doc2011.ReadFromBytes(got2011); err != nil {
		t.Fatalf("served ws-evt-2011.xsd is not well-formed: %v", err)
	}
	locs = nil
	for _, imp := range doc2011.Root().SelectElements("import") {
		locs = append(locs, imp.SelectAttrValue("schemaLocation", ""))
	}
	if want := []string{base + "/xsd/xml.xsd", base + "/xsd/ws-addr-1.0.xsd"}; !slices.Equal(locs, want) {
		t.Errorf("ws-evt-2011.xsd schemaLocations = %q, want %q", locs, want)
	}
	for _, l := range locs {
		if _, ok := Document(l[strings.LastIndex(l, "/")+1:], base); !ok {
			t.Errorf("imported %s is not served", l)
		}
	}

	// Schemas without references are served byte for byte.
	for _, name := range []string{"message-published.xsd", "message.xsd", "management.xsd", "addressing.xsd", "ws-addr-1.0.xsd"} {
		got, ok := Document(name, base)
		if !ok {
			t.Fatalf("%s unknown", name)
		}
		orig, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, orig) {
			t.Errorf("%s served differently from the file", name)
		}
	}

	for _, name := range []string{"", "nope.xsd", "../wsdl/herald.wsdl", "sub/eventing.xsd", "eventing", "."} {
		if b, ok := Document(name, base); ok || b != nil {
			t.Errorf("Document(%q) = %d bytes, %v; want nil, false", name, len(b), ok)
		}
	}

	// The embedded file is not changed by serving.
	orig, _ := fs.ReadFile(Files, "eventing.xsd")
	if !bytes.Contains(orig, []byte(`schemaLocation="addressing.xsd"`)) {
		t.Error("embedded eventing.xsd was modified")
	}
}

// TestWSEventing2011 validates WS-Eventing 2011 messages (WS-Addressing 1.0
// EPRs, Herald's extensions) against ws-evt-2011.xsd and herald.xsd, and
// checks that the copy differs from the REC's schema only in its
// schemaLocations.
func TestWSEventing2011(t *testing.T) {
	eng, err := validator.Compile(validator.File("ws-evt-2011.xsd"), validator.File("herald.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	const decl = `xmlns:wse="http://www.w3.org/2011/03/ws-evt" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:h="http://herald-eventing.github.io/ns/2026/herald"`
	valid := []string{
		`<wse:Subscribe ` + decl + `>
		  <wse:EndTo><wsa:Address>http://sink.example/end</wsa:Address></wse:EndTo>
		  <wse:Delivery><wse:NotifyTo><wsa:Address>http://sink.example/</wsa:Address>
		    <wsa:ReferenceParameters><x:Ref xmlns:x="urn:x">1</x:Ref></wsa:ReferenceParameters></wse:NotifyTo>
		    <h:Processor>webhook</h:Processor></wse:Delivery>
		  <wse:Format Name="http://www.w3.org/2011/03/ws-evt/DeliveryFormats/Wrap"/>
		  <wse:Expires BestEffort="true">PT1H</wse:Expires>
		  <wse:Filter>/x:Event</wse:Filter>
		  <h:Secret>s3cret</h:Secret>
		</wse:Subscribe>`,
		`<wse:SubscribeResponse ` + decl + `>
		  <wse:SubscriptionManager><wsa:Address>http://127.0.0.1:8080/subscriptions</wsa:Address>
		    <wsa:ReferenceParameters><h:SubscriptionId>uuid:1</h:SubscriptionId></wsa:ReferenceParameters></wse:SubscriptionManager>
		  <wse:GrantedExpires>2026-01-01T00:00:00Z</wse:GrantedExpires>
		</wse:SubscribeResponse>`,
		`<wse:Renew ` + decl + `><wse:Expires>2026-01-01T00:00:00Z</wse:Expires></wse:Renew>`,
		`<wse:RenewResponse ` + decl + `><wse:GrantedExpires>PT1H</wse:GrantedExpires></wse:RenewResponse>`,
		`<wse:GetStatus ` + decl + `/>`,
		`<wse:GetStatusResponse ` + decl + `><wse:GrantedExpires>PT10M</wse:GrantedExpires></wse:GetStatusResponse>`,
		`<wse:Unsubscribe ` + decl + `/>`,
		`<wse:UnsubscribeResponse ` + decl + `/>`,
		`<wse:SubscriptionEnd ` + decl + `><wse:Status>http://www.w3.org/2011/03/ws-evt/SourceShuttingDown</wse:Status>
		  <wse:Reason xml:lang="en">shutting down</wse:Reason></wse:SubscriptionEnd>`,
		`<wse:Notify ` + decl + ` actionURI="urn:event"><x:Event xmlns:x="urn:x"/></wse:Notify>`,
	}
	for _, doc := range valid {
		if err := eng.Validate(strings.NewReader(doc)); err != nil {
			t.Errorf("invalid: %v\n%s", err, doc)
		}
	}
	invalid := []string{
		`<wse:Subscribe ` + decl + `><wse:Expires>PT1H</wse:Expires></wse:Subscribe>`, // no Delivery
		`<wse:SubscribeResponse ` + decl + `><wse:SubscriptionManager><wsa:Address>http://h/</wsa:Address></wse:SubscriptionManager></wse:SubscribeResponse>`,
		`<wse:Subscribe ` + decl + `><wse:Delivery/><wse:Expires>-PT1H</wse:Expires></wse:Subscribe>`,
		`<wse:Subscribe ` + decl + `><wse:Delivery><h:Processor><x/></h:Processor></wse:Delivery></wse:Subscribe>`,
	}
	for _, doc := range invalid {
		if err := eng.Validate(strings.NewReader(doc)); err == nil {
			t.Errorf("accepted:\n%s", doc)
		}
	}

	// The copy is the REC's schema but for the two schemaLocations.
	// testdata/2011-eventing.xsd is ../shared/spec/vectors/2011-eventing.xsd.
	vector, err := os.ReadFile(filepath.Join("testdata", "2011-eventing.xsd"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile("ws-evt-2011.xsd")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		`schemaLocation="http://www.w3.org/2001/xml.xsd"`, `schemaLocation="xml.xsd"`,
		`schemaLocation="http://www.w3.org/2006/03/addressing/ws-addr.xsd"`, `schemaLocation="ws-addr-1.0.xsd"`,
	).Replace(string(vector))
	if !strings.HasSuffix(string(ours), want) {
		t.Error("ws-evt-2011.xsd differs from the 2011 vector in more than its schemaLocations (and the HERALD NOTE before it)")
	}
}

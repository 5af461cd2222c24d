package wsdl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	validator "github.com/jacoelho/xsd"
)

const nsWSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"

// decodeBody decodes the first child of the SOAP Body of the envelope in
// testdata/name into v, keeping the envelope's namespace declarations in
// scope.
func decodeBody(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	inBody := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s: no Body child", name)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if inBody {
			if err := dec.DecodeElement(v, &se); err != nil {
				t.Fatalf("%s: decode %s into %T: %v", name, se.Name.Local, v, err)
			}
			return
		}
		inBody = se.Name.Local == "Body"
	}
}

// validate checks marshalled XML against the schemas in ../xsd.
func validate(t *testing.T, data []byte, schemas ...string) {
	t.Helper()
	var srcs []validator.SchemaSource
	for _, s := range schemas {
		srcs = append(srcs, validator.File(filepath.Join("..", "xsd", s)))
	}
	eng, err := validator.Compile(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Validate(bytes.NewReader(data)); err != nil {
		t.Errorf("marshalled XML is invalid against %v: %v\n%s", schemas, err, data)
	}
}

func TestGeneratedManagementTypes(t *testing.T) {
	var sub Subscribe
	decodeBody(t, "subscribe-request-soap.xml", &sub)
	if got := strings.TrimSpace(sub.SubscriptionProcessor); got != "de.jw.cloud42.core.eventing.subscriptionProcessor.SOAPSubscriptionProcessor" {
		t.Errorf("subscriptionProcessor = %q", got)
	}
	if got := strings.TrimSpace(sub.Topic); got != "myTopic" {
		t.Errorf("topic = %q", got)
	}
	if sub.SubscriptionMessage == nil || len(sub.SubscriptionMessage.Items) != 1 {
		t.Fatalf("subscriptionMessage = %+v, want one element", sub.SubscriptionMessage)
	}
	inner := sub.SubscriptionMessage.Items[0]
	if want := (xml.Name{Space: nsWSE, Local: "Subscribe"}); inner.XMLName != want {
		t.Errorf("subscriptionMessage element = %v, want %v", inner.XMLName, want)
	}
	if !strings.Contains(inner.InnerXML, "http://localhost:8085/monitor") {
		t.Errorf("subscriptionMessage content lost: %q", inner.InnerXML)
	}

	var sms Subscribe
	decodeBody(t, "subscribe-request-sms.xml", &sms)
	if got := strings.TrimSpace(sms.SubscriptionProcessor); got != "my.company.SMSSubscriptionProcessor" {
		t.Errorf("sms subscriptionProcessor = %q", got)
	}
	if len(sms.SubscriptionMessage.Items) != 1 || sms.SubscriptionMessage.Items[0].XMLName.Local != "Entry" {
		t.Errorf("sms subscriptionMessage = %+v", sms.SubscriptionMessage)
	}

	var resp SubscribeResponse
	decodeBody(t, "subscribe-response.xml", &resp)
	if resp.Return_ != "uuid:99733DEDFB3443D5281222782013924" {
		t.Errorf("subscribeResponse return = %q", resp.Return_)
	}
	var unsub Unsubscribe
	decodeBody(t, "unsubscribe-request.xml", &unsub)
	if unsub.SubscriptionId != "uuid:99733DEDFB3443D5281222782013924" {
		t.Errorf("unsubscribe subscriptionId = %q", unsub.SubscriptionId)
	}
	var unsubResp UnsubscribeResponse
	decodeBody(t, "unsubscribe-response.xml", &unsubResp)
	if !unsubResp.Return_ {
		t.Error("unsubscribeResponse return = false, want true")
	}

	// Marshalled values are valid against management.xsd, required
	// elements with zero values included.
	for _, v := range []any{
		&Subscribe{SubscriptionProcessor: "soap", Topic: "myTopic", SubscriptionMessage: &SubscriptionMessageType{
			Items: []AnyElement{{XMLName: xml.Name{Space: "urn:x", Local: "Entry"}, InnerXML: "1"}},
		}},
		&Subscribe{SubscriptionProcessor: "sms"},
		&SubscribeResponse{Return_: "uuid:1"},
		&Unsubscribe{SubscriptionId: "uuid:1"},
		&UnsubscribeResponse{Return_: false},
		&SetEndpointAddress{Address: "/messages"},
		&SetEndpointAddressResponse{Return_: "http://127.0.0.1:8080/messages"},
		&GetEndpointAddress{},
		&GetEndpointAddressResponse{},
	} {
		out, err := xml.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %T: %v", v, err)
		}
		validate(t, out, "management.xsd")
	}
	out, err := xml.Marshal(&UnsubscribeResponse{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(">false</return>")) {
		t.Errorf("unsubscribeResponse false left out its return: %s", out)
	}
	var back Subscribe
	out, err = xml.Marshal(&Subscribe{SubscriptionProcessor: "soap", Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(out, &back); err != nil || back.SubscriptionProcessor != "soap" || back.Topic != "t" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestGeneratedMessageType(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := xml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	want := Message{Topic: "myTopic", InstanceId: "i-38e24051", Timestamp: "2008-09-30 11:19:10 GMT", Text: "message text", Info: "additional message info"}
	m.XMLName = xml.Name{}
	if m != want {
		t.Errorf("Message = %+v, want %+v", m, want)
	}
	out, err := xml.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, out, "message.xsd")
}

func TestGeneratedEventingTypes(t *testing.T) {
	var sub WseSubscribe
	decodeBody(t, "vectors/2004-subscribe-request.xml", &sub)
	if sub.EndTo == nil || sub.EndTo.Address == nil || strings.TrimSpace(string(sub.EndTo.Address.Value)) != "http://www.example.com/MyEventSink" {
		t.Errorf("EndTo = %+v", sub.EndTo)
	}
	if sub.EndTo != nil && (sub.EndTo.ReferenceProperties == nil || len(sub.EndTo.ReferenceProperties.Items) != 1 ||
		sub.EndTo.ReferenceProperties.Items[0].XMLName.Local != "MySubscription" || sub.EndTo.ReferenceProperties.Items[0].InnerXML != "2597") {
		t.Errorf("EndTo reference properties = %+v", sub.EndTo.ReferenceProperties)
	}
	if sub.Delivery == nil || len(sub.Delivery.Items) != 1 || sub.Delivery.Items[0].XMLName != (xml.Name{Space: nsWSE, Local: "NotifyTo"}) {
		t.Errorf("Delivery = %+v", sub.Delivery)
	}
	if sub.Expires == nil || *sub.Expires != "2004-06-26T21:07:00.000-08:00" {
		t.Errorf("Expires = %v", sub.Expires)
	}
	if sub.Filter == nil || sub.Filter.Dialect != "http://www.example.org/topicFilter" || strings.TrimSpace(sub.Filter.CharData) != "weather.storms" {
		t.Errorf("Filter = %+v", sub.Filter)
	}

	var resp WseSubscribeResponse
	decodeBody(t, "vectors/2004-subscribe-response.xml", &resp)
	sm := resp.SubscriptionManager
	if sm == nil || sm.ReferenceParameters == nil || len(sm.ReferenceParameters.Items) != 1 {
		t.Fatalf("SubscriptionManager = %+v", sm)
	}
	if id := sm.ReferenceParameters.Items[0]; id.XMLName != (xml.Name{Space: nsWSE, Local: "Identifier"}) ||
		strings.TrimSpace(id.InnerXML) != "uuid:22e8a584-0d18-4228-b2a8-3716fa2097fa" {
		t.Errorf("Identifier = %+v", id)
	}

	var renew Renew
	decodeBody(t, "vectors/2004-renew-request.xml", &renew)
	if renew.Expires == nil || *renew.Expires != "2004-06-26T21:07:00.000-08:00" {
		t.Errorf("Renew Expires = %v", renew.Expires)
	}
	var end SubscriptionEnd
	decodeBody(t, "vectors/2004-subscriptionend.UNVERIFIED.xml", &end)
	if end.Status == nil || *end.Status != OpenSubscriptionEndCodeType(SubscriptionEndCodeTypeHttpschemas_xmlsoap_orgws200408eventingSourceShuttingDown) {
		t.Errorf("SubscriptionEnd Status = %v", end.Status)
	}

	// A SubscribeResponse built from the types is valid: the EPR's Address
	// and ReferenceParameters come out in the WS-Addressing namespace.
	expires := ExpirationType("PT1H")
	built := WseSubscribeResponse{
		SubscriptionManager: &EndpointReferenceType{
			Address: &AttributedURI{Value: "http://127.0.0.1:8080/subscriptions"},
			ReferenceParameters: &ReferenceParametersType{Items: []AnyElement{
				{XMLName: xml.Name{Space: nsWSE, Local: "Identifier"}, InnerXML: "uuid:1"},
			}},
		},
		Expires: &expires,
	}
	out, err := xml.Marshal(&built)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, out, "eventing.xsd")
	var back WseSubscribeResponse
	if err := xml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.SubscriptionManager == nil || back.SubscriptionManager.Address == nil ||
		back.SubscriptionManager.Address.Value != "http://127.0.0.1:8080/subscriptions" {
		t.Errorf("round trip lost the address: %s", out)
	}

	// Elements typed with EndpointReferenceType carry their own name.
	notify := NotifyTo{EndpointReferenceType: EndpointReferenceType{Address: &AttributedURI{Value: "http://sink/"}}}
	out, err = xml.Marshal(&notify)
	if err != nil {
		t.Fatal(err)
	}
	var probe struct {
		XMLName xml.Name
		Address struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing Address"`
	}
	if err := xml.Unmarshal(out, &probe); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if probe.XMLName != (xml.Name{Space: nsWSE, Local: "NotifyTo"}) || probe.Address.XMLName != (xml.Name{Space: nsWSA, Local: "Address"}) ||
		probe.Address.Value != "http://sink/" {
		t.Errorf("NotifyTo marshals as %s", out)
	}
	to := To{AttributedURI: AttributedURI{Value: "http://sink/"}}
	if out, err := xml.Marshal(&to); err != nil || string(out) != `<To xmlns="`+nsWSA+`">http://sink/</To>` {
		t.Errorf("wsa:To marshals as %s, %v", out, err)
	}
}

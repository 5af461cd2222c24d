package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/soap"
)

const (
	wse   = eventing.NS
	wsa04 = addressing.NS200408
	wsa10 = addressing.NS10
)

// envelope wraps body in a SOAP envelope of version v; headers is raw XML
// for the Header.
func envelope(v soap.Version, headers, body string) string {
	return `<s:Envelope xmlns:s="` + v.Namespace() + `" xmlns:wse="` + wse + `" xmlns:web="` + eventing.ManagementNS + `"><s:Header>` + headers + `</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
}

func wsaHeaders(wsa, action string) string {
	anon := addressing.VersionOf(wsa).Anonymous()
	return `<wsa:Action xmlns:wsa="` + wsa + `">` + action + `</wsa:Action><wsa:MessageID xmlns:wsa="` + wsa + `">urn:uuid:11111111-2222-4333-8444-555555555555</wsa:MessageID>` +
		`<wsa:ReplyTo xmlns:wsa="` + wsa + `"><wsa:Address>` + anon + `</wsa:Address></wsa:ReplyTo>`
}

func contentType(v soap.Version) string {
	if v == soap.V11 {
		return "text/xml; charset=utf-8"
	}
	return soap12
}

// fault is what a fault response says.
type fault struct {
	status          int
	code, subcode   string // SOAP 1.2 Code/Value and Subcode/Value (local parts)
	reason          string
	detail          []string // local names of the detail entries
	action          string
	relatesTo       string
	notUnderstood   string
	soap11Faultcode string
}

func readFault(t *testing.T, r response) fault {
	t.Helper()
	env := parse(t, r.body)
	f := fault{status: r.status}
	fe := env.Body.FindElement("Fault")
	if fe == nil {
		t.Fatalf("HTTP %d without a Fault:\n%s", r.status, r.body)
	}
	local := func(q string) string { return q[strings.IndexByte(q, ':')+1:] }
	if env.Version == soap.V11 {
		f.soap11Faultcode = local(strings.TrimSpace(fe.FindElement("faultcode").Text()))
		f.reason = fe.FindElement("faultstring").Text()
		if d := fe.FindElement("detail"); d != nil {
			for _, c := range d.ChildElements() {
				f.detail = append(f.detail, c.Tag)
			}
		}
	} else {
		f.code = local(fe.FindElement("Code/Value").Text())
		if sc := fe.FindElement("Code/Subcode/Value"); sc != nil {
			f.subcode = local(sc.Text())
			// The subcode's prefix must be declared.
			p := sc.Text()[:strings.IndexByte(sc.Text(), ':')]
			if _, ok := addressing.LookupPrefix(sc, p); !ok {
				t.Errorf("subcode prefix %q is not declared", p)
			}
		}
		if l := fe.FindElement("Reason/Text").SelectAttrValue("xml:lang", ""); l != "en" {
			t.Errorf("Reason/Text xml:lang = %q", l)
		}
		f.reason = fe.FindElement("Reason/Text").Text()
		if d := fe.FindElement("Detail"); d != nil {
			for _, c := range d.ChildElements() {
				f.detail = append(f.detail, c.Tag)
			}
		}
	}
	if env.Header != nil {
		if a := env.Header.FindElement("Action"); a != nil {
			f.action = a.Text()
		}
		if a := env.Header.FindElement("RelatesTo"); a != nil {
			f.relatesTo = a.Text()
		}
		if a := env.Header.FindElement("NotUnderstood"); a != nil {
			f.notUnderstood = a.SelectAttrValue("qname", "")
		}
	}
	return f
}

func manageSubscribe(processor, topic, message string) string {
	return `<web:subscribe><web:subscriptionProcessor>` + processor + `</web:subscriptionProcessor><web:topic>` + topic + `</web:topic><web:subscriptionMessage>` + message + `</web:subscriptionMessage></web:subscribe>`
}

func notifyTo(addr string) string {
	return `<wse:Subscribe><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="` + wsa04 + `">` + addr + `</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`
}

func TestFaults_BadRequests(t *testing.T) {
	h := start(t, "", eventing.Options{})
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	tests := []struct {
		name      string
		raw       string // a whole request body; else headers+body make an envelope
		headers   string
		body      string
		ctype     string
		subcode   string // expected subcode local name ("" for none)
		code      string // SOAP 1.2 code
		status12  int
		reason    string
		detail    string
		addressed bool
		only12    bool // the request cannot be SOAP 1.1
	}{
		{name: "not XML", raw: "this is not XML", code: "Sender", status12: 400, reason: "not well-formed"},
		{name: "DOCTYPE", raw: `<!DOCTYPE x [<!ENTITY a "b">]><x/>`, code: "Sender", status12: 400, reason: "DOCTYPE"},
		{name: "too deep", body: deep, code: "Sender", status12: 400, reason: "deeper than"},
		{name: "50,000 namespace declarations", body: `<x` + manyAttrs(50000, "xmlns:p") + `/>`, code: "Sender", status12: 400, reason: "element x has more than 32 namespace declarations"},
		{name: "33 attributes", body: `<x` + manyAttrs(33, "a") + `/>`, code: "Sender", status12: 400, reason: "element x has more than 32 attributes"},
		{name: "too many elements", body: strings.Repeat("<i/>", 10000), code: "Sender", status12: 400, reason: "more than 10000 elements"},
		{name: "too much text", body: "<x>" + strings.Repeat("a", 256<<10+1) + "</x>", code: "Sender", status12: 400, reason: "more than 262144 bytes of text"},
		{name: "root not an Envelope", raw: `<Body xmlns="` + soap.NS12 + `"/>`, code: "Sender", status12: 400, reason: "not a SOAP Envelope"},
		{name: "unknown envelope namespace", raw: `<e:Envelope xmlns:e="urn:soap:3"><e:Body/></e:Envelope>`, code: "VersionMismatch", status12: 500, reason: "neither SOAP 1.2"},
		{name: "no Body", raw: `<s:Envelope xmlns:s="` + soap.NS12 + `"><s:Header/></s:Envelope>`, code: "Sender", status12: 400, reason: "no Body"},
		{name: "unknown processor", body: manageSubscribe("com.example.PagerSubscriptionProcessor", "t", `<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>408 726 4390</tb:Number></tb:Entry>`),
			code: "Sender", subcode: "UnknownProcessor", status12: 400, reason: "known processors: pull, soap", detail: "SupportedProcessor"},
		{name: "missing NotifyTo", body: manageSubscribe("soap", "t", `<wse:Subscribe><wse:Delivery/></wse:Subscribe>`), code: "Sender", subcode: "InvalidMessage", status12: 400, reason: "no wse:NotifyTo"},
		{name: "NotifyTo not http(s)", body: manageSubscribe("soap", "t", notifyTo("ftp://x.example/")), code: "Sender", subcode: "InvalidMessage", status12: 400, reason: "not an absolute http(s) URL"},
		{name: "NotifyTo relative", body: manageSubscribe("soap", "t", notifyTo("/monitor")), code: "Sender", subcode: "InvalidMessage", status12: 400, reason: "not an absolute http(s) URL"},
		{name: "missing topic", body: `<web:subscribe><web:subscriptionProcessor>soap</web:subscriptionProcessor><web:subscriptionMessage>` + notifyTo("http://x.example/") + `</web:subscriptionMessage></web:subscribe>`,
			code: "Sender", subcode: "InvalidMessage", status12: 400, reason: "subscribe has no topic"},
		{name: "empty subscriptionMessage", body: manageSubscribe("soap", "t", ""), code: "Sender", subcode: "InvalidMessage", status12: 400, reason: "subscriptionMessage is empty"},
		{name: "unsubscribe unknown id", body: `<web:unsubscribe><web:subscriptionId>uuid:nope</web:subscriptionId></web:unsubscribe>`, code: "Sender", subcode: "UnknownSubscription", status12: 400, reason: "not known: uuid:nope", detail: "Identifier"},
		{name: "setEndpointAddress to a reserved path", body: `<web:setEndpointAddress><web:address>/eventing</web:address></web:setEndpointAddress>`, code: "Sender", subcode: "InvalidMessage", status12: 400, reason: "used by Herald itself"},
		{name: "setEndpointAddress not a path", body: `<web:setEndpointAddress><web:address>messages</web:address></web:setEndpointAddress>`, code: "Sender", subcode: "InvalidMessage", status12: 400, reason: "not an absolute URL path"},
		{name: "unknown body element", body: `<x:frobnicate xmlns:x="urn:x"/>`, code: "Sender", subcode: "ActionNotSupported", status12: 400, reason: "{urn:x}frobnicate"},
		{name: "unknown wsa:Action", headers: wsaHeaders(wsa04, "urn:nope"), body: `<x/>`, code: "Sender", subcode: "ActionNotSupported", status12: 400, reason: "urn:nope", detail: "Action", addressed: true},
		{name: "wsa:Action missing", headers: `<wsa:MessageID xmlns:wsa="` + wsa04 + `">uuid:1</wsa:MessageID>`, body: `<wse:GetStatus/>`, code: "Sender", subcode: "MessageInformationHeaderRequired", status12: 400, reason: "wsa:Action is missing", addressed: true},
		{name: "wsa 1.0 Action missing", headers: `<wsa:MessageID xmlns:wsa="` + wsa10 + `">urn:uuid:1</wsa:MessageID>`, body: `<wse:GetStatus/>`, code: "Sender", subcode: "MessageAddressingHeaderRequired", status12: 400, reason: "wsa:Action is missing", detail: "ProblemHeaderQName", addressed: true},
		{name: "duplicate wsa:To", headers: wsaHeaders(wsa04, wse+"/GetStatus") + `<wsa:To xmlns:wsa="` + wsa04 + `">a</wsa:To><wsa:To xmlns:wsa="` + wsa04 + `">b</wsa:To>`, body: `<wse:GetStatus/>`, code: "Sender", subcode: "InvalidMessageInformationHeader", status12: 400, reason: "more than once", addressed: true},
		{name: "mustUnderstand header not understood", headers: `<x:Secret xmlns:x="urn:x" s:mustUnderstand="true">1</x:Secret>`, body: manageSubscribe("soap", "t", notifyTo("http://x.example/")), code: "MustUnderstand", status12: 500, reason: "{urn:x}Secret"},
		{name: "unsupported media type", raw: envelope(soap.V12, "", `<web:getEndpointAddress/>`), ctype: "application/json", code: "Sender", status12: 415, reason: "unsupported Content-Type", only12: true},
	}
	for _, tt := range tests {
		for _, v := range []soap.Version{soap.V12, soap.V11} {
			if tt.only12 && v == soap.V11 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", tt.name, v), func(t *testing.T) {
				body := tt.raw
				if body == "" {
					body = envelope(v, strings.ReplaceAll(tt.headers, "s:mustUnderstand=\"true\"", muAttr(v)), tt.body)
				} else if v == soap.V11 && strings.Contains(body, soap.NS12) {
					body = strings.ReplaceAll(body, soap.NS12, soap.NS11)
				}
				ctype := tt.ctype
				if ctype == "" {
					ctype = contentType(v)
				}
				r := h.post(t, "/eventing", ctype, body)
				f := readFault(t, r)
				if !strings.Contains(f.reason, tt.reason) {
					t.Errorf("reason %q does not say %q", f.reason, tt.reason)
				}
				wantStatus := tt.status12
				if v == soap.V11 && wantStatus != 415 {
					wantStatus = http.StatusInternalServerError
				}
				if f.status != wantStatus {
					t.Errorf("HTTP %d; want %d", f.status, wantStatus)
				}
				if v == soap.V12 {
					if f.code != tt.code || f.subcode != tt.subcode {
						t.Errorf("Code %s Subcode %q; want %s %q", f.code, f.subcode, tt.code, tt.subcode)
					}
				} else {
					want := tt.subcode
					if want == "" {
						want = map[string]string{"Sender": "Client", "Receiver": "Server", "MustUnderstand": "MustUnderstand", "VersionMismatch": "VersionMismatch"}[tt.code]
					}
					if f.soap11Faultcode != want {
						t.Errorf("faultcode %q; want %q", f.soap11Faultcode, want)
					}
				}
				if tt.detail != "" && (len(f.detail) == 0 || f.detail[0] != tt.detail) {
					t.Errorf("detail %v; want %s", f.detail, tt.detail)
				}
				if tt.addressed {
					wantAction := addressing.NS200408 + "/fault"
					if strings.Contains(tt.headers, wsa10) {
						wantAction = addressing.NS10 + "/fault"
					}
					if f.action != wantAction {
						t.Errorf("fault wsa:Action %q; want %q", f.action, wantAction)
					}
				}
				if tt.code == "MustUnderstand" && v == soap.V12 && f.notUnderstood != "q:Secret" {
					t.Errorf("NotUnderstood qname %q", f.notUnderstood)
				}
			})
		}
	}
}

// manyAttrs writes n attributes named prefix followed by a number.
func manyAttrs(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` %s%x="u"`, prefix, i)
	}
	return b.String()
}

// TestFaults_XMLLimitsAtTheirValues checks that a request at every XML
// limit is served.
func TestFaults_XMLLimitsAtTheirValues(t *testing.T) {
	h := start(t, "", eventing.Options{})
	// 32 namespace declarations and 32 attributes on the payload, and
	// 10,000 elements in all: Envelope, Header, Body, the payload and
	// 9,996 children.
	payload := `<web:getEndpointAddress` + manyAttrs(32, "xmlns:p") + manyAttrs(32, "a") + `>` + strings.Repeat("<i/>", 10000-4) + `</web:getEndpointAddress>`
	if r := h.post(t, "/eventing", soap12, envelope(soap.V12, "", payload)); r.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
}

func muAttr(v soap.Version) string {
	if v == soap.V11 {
		return `s:mustUnderstand="1"`
	}
	return `s:mustUnderstand="true"`
}

func TestFaults_TooLarge(t *testing.T) {
	h := start(t, "", eventing.Options{})
	big := envelope(soap.V12, "", "<x>"+strings.Repeat("a", soap.DefaultMaxBody)+"</x>")
	r := h.post(t, "/eventing", soap12, big)
	if f := readFault(t, r); f.status != 413 || f.code != "Sender" {
		t.Fatalf("HTTP %d code %s; want 413 Sender", f.status, f.code)
	}
}

func TestFaults_RelatesToTheRequest(t *testing.T) {
	h := start(t, "", eventing.Options{})
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa10, wse+"/GetStatus")+`<wse:Identifier>uuid:none</wse:Identifier>`, `<wse:GetStatus/>`))
	f := readFault(t, r)
	if f.relatesTo != "urn:uuid:11111111-2222-4333-8444-555555555555" || f.subcode != "UnknownSubscription" || f.status != 400 {
		t.Fatalf("fault %+v", f)
	}
}

func TestMustUnderstand_UnderstoodHeadersPass(t *testing.T) {
	h := start(t, "", eventing.Options{})
	headers := strings.Replace(wsaHeaders(wsa04, "urn:getEndpointAddress"), "<wsa:Action ", `<wsa:Action s:mustUnderstand="true" `, 1)
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, headers, `<web:getEndpointAddress/>`))
	if r.status != 200 {
		t.Fatalf("mustUnderstand on wsa:Action: HTTP %d %s", r.status, r.body)
	}
	// A header for another role is not Herald's business.
	other := `<x:Secret xmlns:x="urn:x" s:mustUnderstand="true" s:role="urn:someone-else">1</x:Secret>`
	if r := h.post(t, "/eventing", soap12, envelope(soap.V12, other, `<web:getEndpointAddress/>`)); r.status != 200 {
		t.Fatalf("mustUnderstand for another role: HTTP %d %s", r.status, r.body)
	}
}

func wseSubscribe(notify, expires, filter, mode string) string {
	m := ""
	if mode != "" {
		m = ` Mode="` + mode + `"`
	}
	e := ""
	if expires != "" {
		e = `<wse:Expires>` + expires + `</wse:Expires>`
	}
	return `<wse:Subscribe><wse:Delivery` + m + `><wse:NotifyTo><wsa:Address xmlns:wsa="` + wsa04 + `">` + notify + `</wsa:Address></wse:NotifyTo></wse:Delivery>` + e + filter + `</wse:Subscribe>`
}

// TestFaults_WSEventing checks every WS-Eventing fault Herald raises, in
// SOAP 1.2 and 1.1: code, subcode, reason, detail and HTTP status.
func TestFaults_WSEventing(t *testing.T) {
	h := start(t, "", eventing.Options{SweepInterval: time.Hour}) // keep the expired subscription around
	s := newSink(t)
	long := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"), wseSubscribe(s.URL+"/long", "PT1H", "", "")))
	live := bodyText(t, parse(t, long.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
	// A subscription to renew after it expired.
	short := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"), wseSubscribe(s.URL, "PT0.001S", "", "")))
	if short.status != 200 {
		t.Fatalf("short subscription: %d %s", short.status, short.body)
	}
	expired := bodyText(t, parse(t, short.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // the lease is a millisecond; wait it out on the wall clock
	}
	xpath := eventing.DialectXPath10
	tests := []struct {
		name, path, action, body, headers string
		code, subcode, reason, detail     string
	}{
		{name: "unsupported delivery mode", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "", "", "urn:bogus"),
			code: "Sender", subcode: "DeliveryModeRequestedUnavailable", reason: "urn:bogus", detail: "SupportedDeliveryMode"},
		{name: "zero duration", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "PT0S", "", ""),
			code: "Sender", subcode: "InvalidExpirationTime", reason: "not positive"},
		{name: "negative duration", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "-PT1H", "", ""),
			code: "Sender", subcode: "InvalidExpirationTime", reason: "not positive"},
		{name: "past dateTime", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "2001-01-01T00:00:00Z", "", ""),
			code: "Sender", subcode: "InvalidExpirationTime", reason: "in the past"},
		{name: "not a time", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "tomorrow", "", ""),
			code: "Sender", subcode: "InvalidExpirationTime", reason: "neither an xs:duration nor an xs:dateTime"},
		{name: "unknown dialect", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "", `<wse:Filter Dialect="http://www.example.org/topicFilter">weather.storms</wse:Filter>`, ""),
			code: "Sender", subcode: "FilteringRequestedUnavailable", reason: "topicFilter", detail: "SupportedDialect"},
		{name: "XPath does not compile", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "", `<wse:Filter Dialect="`+xpath+`">/m:message[</wse:Filter>`, ""),
			code: "Sender", subcode: "InvalidMessage", reason: "does not compile"},
		{name: "XPath too long", path: "/eventing", action: "Subscribe", body: wseSubscribe(s.URL, "", `<wse:Filter>`+strings.Repeat("/a", 3000)+`</wse:Filter>`, ""),
			code: "Sender", subcode: "InvalidMessage", reason: "limit"},
		{name: "no Delivery", path: "/eventing", action: "Subscribe", body: `<wse:Subscribe/>`,
			code: "Sender", subcode: "InvalidMessage", reason: "no wse:Delivery"},
		{name: "no NotifyTo", path: "/eventing", action: "Subscribe", body: `<wse:Subscribe><wse:Delivery/></wse:Subscribe>`,
			code: "Sender", subcode: "InvalidMessage", reason: "no wse:NotifyTo"},
		{name: "NotifyTo without Address", path: "/eventing", action: "Subscribe", body: `<wse:Subscribe><wse:Delivery><wse:NotifyTo/></wse:Delivery></wse:Subscribe>`,
			code: "Sender", subcode: "InvalidMessage", reason: "no wsa:Address"},
		{name: "Renew unknown", path: "/subscriptions", action: "Renew", body: `<wse:Renew/>`, headers: `<wse:Identifier>uuid:nope</wse:Identifier>`,
			code: "Receiver", subcode: "UnableToRenew", reason: "not known"},
		{name: "Renew expired", path: "/subscriptions", action: "Renew", body: `<wse:Renew/>`, headers: `<wse:Identifier>` + expired + `</wse:Identifier>`,
			code: "Receiver", subcode: "UnableToRenew", reason: "expired"},
		{name: "Renew without Identifier", path: "/subscriptions", action: "Renew", body: `<wse:Renew/>`,
			code: "Receiver", subcode: "UnableToRenew", reason: "no wse:Identifier"},
		{name: "Renew with a bad Expires", path: "/subscriptions", action: "Renew", body: `<wse:Renew><wse:Expires>PT0S</wse:Expires></wse:Renew>`, headers: `<wse:Identifier>` + live + `</wse:Identifier>`,
			code: "Sender", subcode: "InvalidExpirationTime", reason: "not positive"},
		{name: "GetStatus unknown", path: "/subscriptions", action: "GetStatus", body: `<wse:GetStatus/>`, headers: `<wse:Identifier>uuid:nope</wse:Identifier>`,
			code: "Sender", subcode: "UnknownSubscription", reason: "not known", detail: "Identifier"},
		{name: "GetStatus expired", path: "/subscriptions", action: "GetStatus", body: `<wse:GetStatus/>`, headers: `<wse:Identifier>` + expired + `</wse:Identifier>`,
			code: "Sender", subcode: "UnknownSubscription", reason: "not known", detail: "Identifier"},
		{name: "GetStatus without Identifier", path: "/subscriptions", action: "GetStatus", body: `<wse:GetStatus/>`,
			code: "Sender", subcode: "InvalidMessage", reason: "no wse:Identifier"},
		{name: "Unsubscribe unknown", path: "/subscriptions", action: "Unsubscribe", body: `<wse:Unsubscribe/>`, headers: `<wse:Identifier>uuid:nope</wse:Identifier>`,
			code: "Sender", subcode: "UnknownSubscription", reason: "not known", detail: "Identifier"},
	}
	for _, tt := range tests {
		for _, v := range []soap.Version{soap.V12, soap.V11} {
			t.Run(fmt.Sprintf("%s/%s", tt.name, v), func(t *testing.T) {
				r := h.post(t, tt.path, contentType(v), envelope(v, wsaHeaders(wsa04, wse+"/"+tt.action)+tt.headers, tt.body), "SOAPAction", `"`+wse+"/"+tt.action+`"`)
				f := readFault(t, r)
				if !strings.Contains(f.reason, tt.reason) {
					t.Errorf("reason %q does not say %q", f.reason, tt.reason)
				}
				if tt.detail != "" && (len(f.detail) == 0 || f.detail[0] != tt.detail) {
					t.Errorf("detail %v; want %s", f.detail, tt.detail)
				}
				if f.action != wsa04+"/fault" || f.relatesTo == "" {
					t.Errorf("fault headers: Action %q RelatesTo %q", f.action, f.relatesTo)
				}
				if v == soap.V11 {
					if f.status != 500 || f.soap11Faultcode != tt.subcode {
						t.Errorf("HTTP %d faultcode %q; want 500 %s", f.status, f.soap11Faultcode, tt.subcode)
					}
					return
				}
				want := 400
				if tt.code == "Receiver" {
					want = 500
				}
				if f.status != want || f.code != tt.code || f.subcode != tt.subcode {
					t.Errorf("HTTP %d %s/%s; want %d %s/%s", f.status, f.code, f.subcode, want, tt.code, tt.subcode)
				}
			})
		}
	}
}

// A fault is addressed to FaultTo when the request names one.
func TestFaults_AddressedToFaultTo(t *testing.T) {
	h := start(t, "", eventing.Options{})
	headers := wsaHeaders(wsa04, wse+"/GetStatus") + `<wsa:FaultTo xmlns:wsa="` + wsa04 + `"><wsa:Address>http://faults.example/</wsa:Address>` +
		`<wsa:ReferenceParameters><x:Case xmlns:x="urn:x">7</x:Case></wsa:ReferenceParameters></wsa:FaultTo><wse:Identifier>uuid:none</wse:Identifier>`
	r := h.post(t, "/subscriptions", soap12, envelope(soap.V12, headers, `<wse:GetStatus/>`))
	env := parse(t, r.body)
	if to := env.Header.FindElement("To"); to == nil || to.Text() != "http://faults.example/" {
		t.Fatalf("fault not addressed to FaultTo:\n%s", r.body)
	}
	if c := env.Header.FindElement("Case"); c == nil || c.Text() != "7" {
		t.Fatalf("FaultTo's reference parameter not echoed:\n%s", r.body)
	}
}

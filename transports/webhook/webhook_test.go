package webhook_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/webhook"
	"github.com/herald-eventing/herald/transports/webhook/webhooktest"
	"github.com/herald-eventing/herald/xsd"
)

func TestProcessorSuite(t *testing.T) { processortest.Run(t, webhooktest.Fixture()) }

func open(t testing.TB) eventing.Processor {
	t.Helper()
	d, err := eventing.LookupDriver(webhook.Name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Open(eventing.Config{Get: func(string) string { return "" }, HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const hNS = `xmlns:h="` + eventing.HeraldNS + `"`

func hook(inner string) string { return `<h:Webhook ` + hNS + `>` + inner + `</h:Webhook>` }

func TestEndpoint_Messages(t *testing.T) {
	p := open(t)
	valid := []struct {
		name, msg, key string
	}{
		{"cloudevents", hook(`<h:URL>https://hooks.example.org/herald</h:URL><h:Format>cloudevents</h:Format>`), "cloudevents https://hooks.example.org/herald"},
		{"default format", hook(`<h:URL>https://hooks.example.org/herald</h:URL>`), "cloudevents https://hooks.example.org/herald"},
		{"empty format", hook(`<h:URL>https://hooks.example.org/herald</h:URL><h:Format/>`), "cloudevents https://hooks.example.org/herald"},
		{"xml, trimmed", hook("<h:URL>\n  http://127.0.0.1:9000/in?x=1\n</h:URL><h:Format> xml </h:Format>"), "xml http://127.0.0.1:9000/in?x=1"},
		{"other prefix", `<x:Webhook xmlns:x="` + eventing.HeraldNS + `"><x:URL>https://a.example/</x:URL></x:Webhook>`, "cloudevents https://a.example/"},
		{"IPv6 host", hook(`<h:URL>http://[::1]:8080/</h:URL>`), "cloudevents http://[::1]:8080/"},
		{"wse:Subscribe with h:Webhook", `<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery Mode="` + eventing.DeliveryModePrefix + `webhook">` +
			hook(`<h:URL>https://a.example/w</h:URL><h:Format>xml</h:Format>`) + `</wse:Delivery></wse:Subscribe>`, "xml https://a.example/w"},
		{"wse:Subscribe with NotifyTo", `<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery Mode="` + eventing.DeliveryModePrefix + `webhook"><wse:NotifyTo>` +
			`<wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"> https://a.example/n </wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`, "cloudevents https://a.example/n"},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := processortest.Endpoint(t, p, tt.msg)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if ep.Key() != tt.key {
				t.Errorf("Key() = %q; want %q", ep.Key(), tt.key)
			}
		})
	}

	invalid := []struct {
		name, msg, reason string
	}{
		{"no URL", hook(``), "has no h:URL"},
		{"empty URL", hook(`<h:URL>  </h:URL>`), "h:URL is empty"},
		{"relative URL", hook(`<h:URL>/herald</h:URL>`), "has no scheme"},
		{"no scheme", hook(`<h:URL>hooks.example.org/herald</h:URL>`), "has no scheme"},
		{"ftp", hook(`<h:URL>ftp://hooks.example.org/</h:URL>`), `the scheme "ftp"`},
		{"mailto", hook(`<h:URL>mailto:ops@example.org</h:URL>`), `the scheme "mailto"`},
		{"no host", hook(`<h:URL>http:///herald</h:URL>`), "has no host"},
		{"opaque", hook(`<h:URL>http:hooks.example.org</h:URL>`), "has no host"},
		{"port only", hook(`<h:URL>http://:8080/</h:URL>`), "has no host"},
		{"userinfo", hook(`<h:URL>https://user:secret@hooks.example.org/</h:URL>`), "user information"},
		{"not a URL", hook(`<h:URL>http://exa mple.org/</h:URL>`), "is not a URL"},
		{"unknown format", hook(`<h:URL>https://a.example/</h:URL><h:Format>json</h:Format>`), `use "cloudevents"`},
		{"format case", hook(`<h:URL>https://a.example/</h:URL><h:Format>CloudEvents</h:Format>`), `or "xml"`},
		{"two URLs", hook(`<h:URL>https://a.example/</h:URL><h:URL>https://b.example/</h:URL>`), "more than one h:URL"},
		{"secret inside", hook(`<h:URL>https://a.example/</h:URL><h:Secret>whsec_x</h:Secret>`), "h:Secret belongs next to h:Webhook"},
		{"unknown child", hook(`<h:URL>https://a.example/</h:URL><h:Retries>3</h:Retries>`), "unexpected element"},
		{"other element", `<h:PullSubscription ` + hNS + `/>`, "expects h:Webhook"},
		{"wrong namespace", `<Webhook><URL>https://a.example/</URL></Webhook>`, "expects h:Webhook"},
		{"empty subscriptionMessage", `<web:subscriptionMessage xmlns:web="` + eventing.ManagementNS + `"/>`, "subscriptionMessage is empty"},
		{"wse:Subscribe without NotifyTo", `<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery/></wse:Subscribe>`, "needs an h:Webhook"},
		{"wse:Subscribe with reference parameters", `<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery><wse:NotifyTo xmlns:wsa="http://www.w3.org/2005/08/addressing">` +
			`<wsa:Address>https://a.example/</wsa:Address><wsa:ReferenceParameters><x:Id xmlns:x="urn:x">1</x:Id></wsa:ReferenceParameters></wse:NotifyTo></wse:Delivery></wse:Subscribe>`, "reference parameters"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := processortest.Endpoint(t, p, tt.msg)
			var f *eventing.Error
			if !errors.As(err, &f) || f.Kind == eventing.ErrUnableToProcess {
				t.Fatalf("err = %v; want an error for the subscriber", err)
			}
			if !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", f.Reason, tt.reason)
			}
		})
	}
}

// seedEvent is the seed's example message (testdata/event-message.xml) as
// Herald's 42nd event.
func seedEvent(t testing.TB) *eventing.Event {
	t.Helper()
	b, err := os.ReadFile("../../testdata/event-message.xml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := xsd.ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	return eventing.NewEvent(42, received, eventing.Message{Topic: m.Topic, InstanceID: m.InstanceID, Timestamp: m.Timestamp, Text: m.Text, Info: m.Info})
}

const (
	subID = "uuid:5f0c8c3e-1d7e-4b8e-9a53-0f3b3c0c2a11"
	msgID = "urn:uuid:0b7c9a70-54a4-5d6e-8f2b-6c1e2b9d3f40"
)

func seedNotification(t testing.TB) *eventing.Notification {
	return &eventing.Notification{Event: seedEvent(t), Subscription: &eventing.Subscription{ID: subID}, MessageID: msgID, Attempt: 1}
}

func TestCloudEvent_SeedEvent(t *testing.T) {
	body := webhook.NewCloudEvent(seedNotification(t)).JSON()
	if p := checkCloudEvent(body); p != nil {
		t.Fatalf("not a valid CloudEvent: %v\n%s", p, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion":        "1.0",
		"id":                 "42",
		"source":             "i-38e24051",
		"type":               "myTopic",
		"time":               "2008-09-30T11:19:10Z", // the seed's own timestamp, in the Cloud42 form
		"datacontenttype":    "application/json",
		"heraldsubscription": subID,
		"heraldmessageid":    msgID,
		"data": map[string]any{
			"topic":      "myTopic",
			"instanceId": "i-38e24051",
			"timestamp":  "2008-09-30 11:19:10 GMT",
			"text":       "message text",
			"info":       "additional message info",
		},
	}
	gotJSON, _ := json.MarshalIndent(got, "", "  ")
	wantJSON, _ := json.MarshalIndent(want, "", "  ")
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("CloudEvent:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	t.Logf("%s", body)
}

func TestCloudEvent_Mapping(t *testing.T) {
	received := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		m    eventing.Message
		// want holds attribute values; "-" means absent.
		want map[string]string
	}{
		{"RFC 3339 timestamp is the time", eventing.Message{Topic: "t", InstanceID: "i", Timestamp: " 2026-11-22T11:00:00.5+01:00 "},
			map[string]string{"time": "2026-11-22T11:00:00.5+01:00"}},
		{"RFC 3339 UTC timestamp", eventing.Message{Topic: "t", Timestamp: "2026-11-22T08:59:59Z"},
			map[string]string{"time": "2026-11-22T08:59:59Z"}},
		{"other timestamp: received", eventing.Message{Topic: "t", Timestamp: "yesterday"},
			map[string]string{"time": "2026-11-22T10:00:00Z"}},
		{"no instance: herald", eventing.Message{Topic: "t"}, map[string]string{"source": "herald"}},
		{"URI instance kept", eventing.Message{Topic: "t", InstanceID: "https://cloud.example/instances/i-1?r=eu#x"},
			map[string]string{"source": "https://cloud.example/instances/i-1?r=eu#x"}},
		{"URN instance kept", eventing.Message{Topic: "t", InstanceID: "urn:aws:ec2:i-1"}, map[string]string{"source": "urn:aws:ec2:i-1"}},
		{"path instance kept", eventing.Message{Topic: "t", InstanceID: "/eu-west/i-1"}, map[string]string{"source": "/eu-west/i-1"}},
		{"space and percent encoded", eventing.Message{Topic: "t", InstanceID: "web 01 at 100%"}, map[string]string{"source": "web%2001%20at%20100%25"}},
		{"colon without scheme encoded", eventing.Message{Topic: "t", InstanceID: "10.0.0.1:8080"}, map[string]string{"source": "10.0.0.1%3A8080"}},
		{"non-ASCII encoded", eventing.Message{Topic: "t", InstanceID: "serveur-é"}, map[string]string{"source": "serveur-%C3%A9"}},
		{"control characters in type", eventing.Message{Topic: "disk\tfull"}, map[string]string{"type": "disk\uFFFDfull"}},
		{"unicode type kept", eventing.Message{Topic: "Störung"}, map[string]string{"type": "Störung"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &eventing.Notification{Event: eventing.NewEvent(7, received, tt.m), MessageID: "urn:uuid:x"}
			body := webhook.NewCloudEvent(n).JSON()
			if p := checkCloudEvent(body); p != nil {
				t.Fatalf("not a valid CloudEvent: %v\n%s", p, body)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v; want %q", k, got[k], v)
				}
			}
			if _, ok := got["heraldsubscription"]; ok {
				t.Error("heraldsubscription without a subscription")
			}
		})
	}
}

func TestCloudEvent_TimeAndSource(t *testing.T) {
	received := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ instance, timestamp, source, time string }{
		{"i-38e24051", "2008-09-30 11:19:10 GMT", "i-38e24051", "2008-09-30T11:19:10Z"},
		{"i-1", "2008-09-30 11:19:10 UTC", "i-1", "2008-09-30T11:19:10Z"},
		{"i-1", "2008-09-30T11:19:10+02:00", "i-1", "2008-09-30T11:19:10+02:00"},
		{"i-1", "yesterday", "i-1", "2026-12-01T09:00:00Z"},
		{"2001:db8::1", "", "urn:herald:instance:2001:db8::1", "2026-12-01T09:00:00Z"},
		{"[2001:db8::1]", "", "urn:herald:instance:2001:db8::1", "2026-12-01T09:00:00Z"},
		{"10.0.0.7", "", "10.0.0.7", "2026-12-01T09:00:00Z"},
	} {
		n := &eventing.Notification{Event: eventing.NewEvent(1, received, eventing.Message{Topic: "t", InstanceID: tt.instance, Timestamp: tt.timestamp})}
		ce := webhook.NewCloudEvent(n)
		if ce.Source != tt.source || ce.Time != tt.time {
			t.Errorf("%q at %q: source %q, time %q; want %q, %q", tt.instance, tt.timestamp, ce.Source, ce.Time, tt.source, tt.time)
		}
	}
}

func TestCloudEvent_DataLeavesOutEmptyFields(t *testing.T) {
	n := &eventing.Notification{Event: eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "t", Text: "<b>&</b>"})}
	body := webhook.NewCloudEvent(n).JSON()
	if !strings.Contains(string(body), `"data":{"topic":"t","text":"<b>&</b>"}`) {
		t.Errorf("data: %s", body)
	}
}

// FuzzSource checks that every instance id becomes a valid, non-empty
// source, left as it is when it already was one.
func FuzzSource(f *testing.F) {
	for _, s := range []string{"i-38e24051", "", " ", "a b", "1:2", "x:1", "//a@b@c", "//h:p", "//h:80/p", "%", "%zz", "%41", "a#b#c", "?#", "[::1]",
		"http://[::1]/", "mailto:a@b", "ü", "\x00", "\xff", ":", "/:", "a/b:c", "#:", "A::", "fe80::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, instance string) {
		src := webhook.Source(instance)
		if src == "" || !uriReference.MatchString(src) {
			t.Fatalf("Source(%q) = %q: not a URI-reference", instance, src)
		}
		trimmed := strings.TrimSpace(instance)
		if a, err := netip.ParseAddr(trimmed); err == nil && a.Is6() && a.Zone() == "" {
			if want := webhook.InstanceURNPrefix + a.String(); src != want {
				t.Errorf("Source(%q) = %q; want %q", instance, src, want)
			}
			return
		}
		if trimmed != "" && uriReference.MatchString(trimmed) &&
			!strings.ContainsAny(trimmed, "[]") && src != trimmed {
			t.Errorf("Source(%q) = %q; want it unchanged", instance, src)
		}
	})
}

func TestEndpoint_XMLBody(t *testing.T) {
	p := open(t)
	ep, err := processortest.Endpoint(t, p, hook(`<h:URL>https://a.example/</h:URL><h:Format>xml</h:Format>`))
	if err != nil {
		t.Fatal(err)
	}
	n := seedNotification(t)
	body, ctype := ep.(*webhook.Endpoint).Body(n)
	if ctype != "application/xml; charset=utf-8" || string(body) != string(n.Event.XML()) {
		t.Errorf("Body = %s, %q", body, ctype)
	}
	want := `<message xmlns="http://cloud42.jw.de/message"><topic>myTopic</topic><instanceId>i-38e24051</instanceId><timestamp>2008-09-30 11:19:10 GMT</timestamp><text>message text</text><info>additional message info</info></message>`
	if string(body) != want {
		t.Errorf("Body = %s\nwant %s", body, want)
	}
}

func BenchmarkCloudEvent(b *testing.B) {
	n := seedNotification(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = webhook.NewCloudEvent(n).JSON()
	}
}

package sms_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/sms"
	"github.com/herald-eventing/herald/transports/sms/smstest"
)

func open(t *testing.T, settings map[string]string) eventing.Processor {
	t.Helper()
	p, err := sms.Open(eventing.Config{Get: func(n string) string { return settings[n] }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func settings(extra ...string) map[string]string {
	m := map[string]string{sms.SettingURL: "http://gw.example", sms.SettingAccount: "AC1", sms.SettingToken: "t", sms.SettingFrom: "+15550001111"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// Every shape of subscription message the processor accepts, and its key.
func TestEndpoint_Shapes(t *testing.T) {
	wse := `xmlns:wse="` + eventing.NS + `"`
	mode := `Mode="` + eventing.DeliveryModePrefix + `sms"`
	for _, tt := range []struct {
		name, country, msg, key string
	}{
		{"the seed's entry", "1", `<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>
               408 726 4390
             </tb:Number></tb:Entry>`, "+14087264390"},
		{"no namespace", "1", `<Entry><Name>Ops</Name><Number>(408) 726-4390</Number></Entry>`, "+14087264390"},
		{"default namespace", "1", `<Entry xmlns="urn:phone"><Number>408.726.4390</Number></Entry>`, "+14087264390"},
		{"Number in another namespace than the entry", "1", `<a:Entry xmlns:a="urn:a" xmlns:b="urn:b"><b:Number>+44 20 7946 0958</b:Number></a:Entry>`, "+442079460958"},
		{"a bare Number", "1", `<p:Number xmlns:p="urn:p">+49 171 1234567</p:Number>`, "+491711234567"},
		{"the first of two Numbers", "1", `<Entry><Number>408 726 4390</Number><Number>408 726 4391</Number></Entry>`, "+14087264390"},
		{"a national number with the trunk 0", "49", `<Entry><Number>0171 1234567</Number></Entry>`, "+491711234567"},
		{"CDATA", "1", `<Entry><Number><![CDATA[ 408 726 4390 ]]></Number></Entry>`, "+14087264390"},
		{"wse:Subscribe", "1", `<wse:Subscribe ` + wse + `><wse:Delivery ` + mode + `><tb:Entry xmlns:tb="urn:tb"><tb:Number>408 726 4390</tb:Number></tb:Entry></wse:Delivery></wse:Subscribe>`, "+14087264390"},
		{"wse:Subscribe with a bare Number", "1", `<wse:Subscribe ` + wse + `><wse:Delivery ` + mode + `><Number>408 726 4390</Number></wse:Delivery></wse:Subscribe>`, "+14087264390"},
	} {
		p := open(t, settings(sms.SettingCountryCode, tt.country))
		ep, err := processortest.Endpoint(t, p, tt.msg)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if ep.Key() != tt.key {
			t.Errorf("%s: Key = %q; want %q", tt.name, ep.Key(), tt.key)
		}
	}
}

// What the processor refuses, with a Sender fault that says what is wrong.
func TestEndpoint_Refused(t *testing.T) {
	p := open(t, settings())
	for _, tt := range []struct {
		name, msg, why string
	}{
		{"no Number", `<tb:Entry xmlns:tb="urn:tb"><tb:Name>Ops</tb:Name></tb:Entry>`, "{urn:tb}Entry has no Number child"},
		{"Number too deep", `<Book><Entry><Number>408 726 4390</Number></Entry></Book>`, "Book has no Number child"},
		{"letters", `<Entry><Number>call me</Number></Entry>`, `unexpected 'c'`},
		{"an extension", `<Entry><Number>408 726 4390 x12</Number></Entry>`, `unexpected 'x'`},
		{"too short", `<Entry><Number>12</Number></Entry>`, "3 digits with the country code, E.164 allows 8 to 15"},
		{"too long", `<Entry><Number>+1234567890123456</Number></Entry>`, "16 digits"},
		{"empty", `<Entry><Number/></Entry>`, "empty"},
		{"blank", `<Entry><Number>  </Number></Entry>`, "empty"},
		{"country code 0", `<Entry><Number>+0 408 726 4390</Number></Entry>`, "cannot start with 0"},
		{"empty subscriptionMessage", `<web:subscriptionMessage xmlns:web="` + eventing.ManagementNS + `"/>`, "subscriptionMessage holds no element"},
		{"wse:Subscribe without an entry", `<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery/></wse:Subscribe>`, "no phone-book entry in its wse:Delivery"},
		{"wse:Subscribe without Delivery", `<wse:Subscribe xmlns:wse="` + eventing.NS + `"/>`, "has no wse:Delivery"},
	} {
		_, err := processortest.Endpoint(t, p, tt.msg)
		var fault *eventing.Error
		if !errors.As(err, &fault) || fault.Kind == eventing.ErrUnableToProcess || !strings.Contains(fault.Reason, tt.why) {
			t.Errorf("%s: err = %v; want a Sender fault saying %q", tt.name, err, tt.why)
		}
	}
	if _, err := p.Endpoint(t.Context(), &eventing.EndpointRequest{}); err == nil {
		t.Error("no message accepted")
	}
}

func TestNormalize_Errors(t *testing.T) {
	for _, tt := range []struct{ in, country, why string }{
		{"", "1", "empty"},
		{"408 726 4390", "", "not a country calling code"},
		{"408 726 4390", "0", "not a country calling code"},
		{"408 726 4390", "1234", "not a country calling code"},
		{"408 726 4390", "4a", "not a country calling code"},
		{"+", "1", "0 digits"},
		{"00", "1", "0 digits"},
		{"0049 171 1234567 890123", "1", "18 digits"},
		{"4087264390#", "1", `unexpected '#'`},
		{"٤٠٨٧٢٦٤٣٩٠", "1", "unexpected"}, // digits, but not ASCII ones
	} {
		if got, err := sms.Normalize(tt.in, tt.country); err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Normalize(%q, %q) = %q, %v; want an error saying %q", tt.in, tt.country, got, err, tt.why)
		}
	}
	// Country code 1 has no trunk 0: a national number keeps its digits.
	if got, err := sms.Normalize("1 (408) 726-4390", "1"); err != nil || got != "+14087264390" {
		t.Errorf("NANP with the leading 1: %q, %v", got, err)
	}
}

func TestText_Format(t *testing.T) {
	ev := eventing.NewEvent(1, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), eventing.Message{
		Topic: "myTopic", InstanceID: "i-38e24051", Timestamp: "2008-09-30 11:19:10 GMT",
		Text: "message text", Info: "additional message info",
	})
	const want = "Herald: myTopic from i-38e24051 at 2008-09-30 11:19:10 GMT: message text (additional message info)"
	if got := sms.Text(ev, 3); got != want {
		t.Errorf("Text = %q; want %q", got, want)
	}

	// White space of indented values is folded; without a timestamp the
	// time Herald received the event is used; empty fields leave no trace.
	ev = eventing.NewEvent(2, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), eventing.Message{
		Topic: "disk", Text: "\n    disk\n    full\n  ",
	})
	if got, want := sms.Text(ev, 3), "Herald: disk at 2026-11-22 10:00:00 UTC: disk full"; got != want {
		t.Errorf("Text = %q; want %q", got, want)
	}

	// A long event is cut to the segments, the start kept.
	ev = eventing.NewEvent(3, time.Now(), eventing.Message{Topic: "t", InstanceID: "i", Timestamp: "now", Text: strings.Repeat("full ", 200), Info: "sda1"})
	got := sms.Text(ev, 2)
	if sms.Segments(got) > 2 || !strings.HasPrefix(got, "Herald: t from i at now: full full") || !strings.HasSuffix(got, "...") {
		t.Errorf("Text = %q (%d segments)", got, sms.Segments(got))
	}
}

// Deliver sends exactly the request the gateway stand-in wants; a wrong
// token is refused (401) and retried, and its text never shows.
func TestDeliver_ToTheStandIn(t *testing.T) {
	gw := smstest.Start(t)
	p := open(t, gw.Settings())
	ep, err := processortest.Endpoint(t, p, gw.Message())
	if err != nil {
		t.Fatal(err)
	}
	ev := eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "myTopic", InstanceID: "i-1", Timestamp: "t", Text: "Grüße, ça va? €5 {ok}", Info: "i"})
	if err := ep.Deliver(t.Context(), &eventing.Notification{Event: ev, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	got := gw.Accepted()
	if len(got) != 1 || got[0].To != "+14087264390" || got[0].From != smstest.From || got[0].Body != sms.Text(ev, 3) ||
		got[0].Path != "/2010-04-01/Accounts/"+smstest.Account+"/Messages.json" {
		t.Fatalf("accepted %+v", got)
	}

	wrong := gw.Settings()
	wrong[sms.SettingToken] = "not-the-token-7c1e"
	ep, err = processortest.Endpoint(t, open(t, wrong), gw.Message())
	if err != nil {
		t.Fatal(err)
	}
	err = ep.Deliver(t.Context(), &eventing.Notification{Event: ev, Attempt: 1})
	var de *eventing.DeliveryError
	if !errors.As(err, &de) || de.Status != 401 || de.Permanent || !strings.Contains(err.Error(), "authentication failed") ||
		strings.Contains(err.Error(), "not-the-token-7c1e") {
		t.Fatalf("wrong token: %#v (%v)", err, err)
	}

	// A context that ends stops the attempt.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := ep.Deliver(ctx, &eventing.Notification{Event: ev, Attempt: 1}); err == nil {
		t.Fatal("delivered with a cancelled context")
	}
}

// Open names every missing gateway setting and none that is given.
func TestOpen_NamesTheMissingSettings(t *testing.T) {
	_, err := sms.Open(eventing.Config{})
	if err == nil {
		t.Fatal("opened without a gateway")
	}
	for _, s := range []string{"--sms-url", "--sms-account", "--sms-token", "--sms-from"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err %q does not name %s", err, s)
		}
	}
	for name, v := range map[string]string{sms.SettingSegments: "11", sms.SettingCountryCode: "0", sms.SettingURL: "gw.example/api"} {
		if _, err := sms.Open(eventing.Config{Get: func(n string) string { return settings(name, v)[n] }}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err = %v; want one naming the setting", name, v, err)
		}
	}
	// The token is a secret setting.
	d, err := eventing.LookupDriver(smstest.Fixture().Processor)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Settings {
		if (s.Name == sms.SettingToken) != s.Secret {
			t.Errorf("setting %s: Secret = %v", s.Name, s.Secret)
		}
	}
	if alias, err := eventing.LookupDriver("my.company.SMSSubscriptionProcessor"); err != nil || alias.Name != "sms" {
		t.Errorf("the seed's class name: %v", err)
	}
}

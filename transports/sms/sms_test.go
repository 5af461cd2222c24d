package sms_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/sms"
	"github.com/herald-eventing/herald/transports/sms/smstest"
)

func TestProcessorSuite(t *testing.T) { processortest.Run(t, smstest.Fixture()) }

func TestNormalize(t *testing.T) {
	for _, tt := range []struct{ in, country, want string }{
		{"\n 408 726 4390\n", "1", "+14087264390"},
		{"(408) 726-4390", "1", "+14087264390"},
		{"1 408 726 4390", "1", "+14087264390"},
		{"+49 171 1234567", "1", "+491711234567"},
		{"0049 171 1234567", "1", "+491711234567"},
		{"0171 1234567", "49", "+491711234567"},
		{"020 7946 0958", "44", "+442079460958"},
		{"+1.408.726.4390", "44", "+14087264390"},
		{"408/726\u00a04390", "1", "+14087264390"},
		// The country's own numbering plan: Italy keeps its leading 0,
		// Russia's trunk prefix is 8.
		{"06 6982 1234", "39", "+390669821234"},
		{"8 800 555 35 35", "7", "+78005553535"},
		{"0049 171 1234567", "39", "+491711234567"},
	} {
		got, err := sms.Normalize(tt.in, tt.country)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q, %s) = %q, %v; want %q", tt.in, tt.country, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", " ", "call me", "12", "+1234567890123456", "408 726 4390 ext 5", "++1 408", "+0 408 726 4390", "1+408"} {
		if got, err := sms.Normalize(bad, "1"); err == nil {
			t.Errorf("Normalize(%q) = %q; want an error", bad, got)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"408 726 4390", "+49 171 1234567", "0049", "(0)", "+", "00"} {
		f.Add(s, "1")
		f.Add(s, "49")
	}
	f.Fuzz(func(t *testing.T, in, country string) {
		got, err := sms.Normalize(in, country)
		if err != nil {
			return
		}
		if len(got) < 9 || len(got) > 16 || got[0] != '+' || got[1] == '0' {
			t.Fatalf("Normalize(%q, %q) = %q", in, country, got)
		}
		for _, r := range got[1:] {
			if r < '0' || r > '9' {
				t.Fatalf("Normalize(%q, %q) = %q", in, country, got)
			}
		}
	})
}

func TestSegmentsAndCut(t *testing.T) {
	a160 := strings.Repeat("a", 160)
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", 1}, {a160, 1}, {a160 + "a", 2}, {strings.Repeat("a", 306), 2}, {strings.Repeat("a", 307), 3},
		{strings.Repeat("€", 80), 1}, {strings.Repeat("€", 81), 2}, // extension characters take two septets
		{strings.Repeat("ж", 70), 1}, {strings.Repeat("ж", 71), 2}, // UCS-2
		{strings.Repeat("😀", 35), 1}, {strings.Repeat("😀", 36), 2}, // surrogate pairs take two units
	} {
		if got := sms.Segments(tt.in); got != tt.want {
			t.Errorf("Segments(%d runes of %q) = %d; want %d", utf8.RuneCountInString(tt.in), []rune(tt.in + " ")[0], got, tt.want)
		}
	}
	for _, tt := range []struct {
		in       string
		segments int
		want     string
	}{
		{strings.Repeat("a", 500), 1, strings.Repeat("a", 157) + "..."},
		{strings.Repeat("a", 500), 3, strings.Repeat("a", 456) + "..."},
		{strings.Repeat("€", 500), 2, strings.Repeat("€", 151) + "..."},
		{strings.Repeat("ж", 500), 1, strings.Repeat("ж", 69) + "…"},
		{strings.Repeat("😀", 500), 2, strings.Repeat("😀", 66) + "…"},
		{strings.Repeat("a😀", 300), 3, strings.Repeat("a😀", 66) + "a…"},
	} {
		got := sms.Cut(tt.in, tt.segments)
		if got != tt.want || sms.Segments(got) > tt.segments || !utf8.ValidString(got) {
			t.Errorf("Cut(%d runes, %d) = %d runes in %d segments; want %d runes", utf8.RuneCountInString(tt.in), tt.segments,
				utf8.RuneCountInString(got), sms.Segments(got), utf8.RuneCountInString(tt.want))
		}
	}
	if got := sms.Cut(a160, 1); got != a160 {
		t.Error("a message at the limit was cut")
	}
}

func TestText_CarriesTheEvent(t *testing.T) {
	ev := eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "myTopic", InstanceID: "i-38e24051", Timestamp: "2008-09-30 11:19:10 GMT", Text: "message text", Info: "additional message info"})
	got := sms.Text(ev, 3)
	for _, want := range []string{"myTopic", "i-38e24051", "2008-09-30 11:19:10 GMT", "message text", "additional message info"} {
		if !strings.Contains(got, want) {
			t.Errorf("text %q lacks %q", got, want)
		}
	}
}

func TestOpen_WithoutAGatewayIsAClearError(t *testing.T) {
	_, err := sms.Open(eventing.Config{Get: func(n string) string {
		if n == sms.SettingURL {
			return "http://gw.example"
		}
		return ""
	}})
	if err == nil || !strings.Contains(err.Error(), "--sms-account") || !strings.Contains(err.Error(), "--sms-token") || strings.Contains(err.Error(), "--sms-url") {
		t.Fatalf("err = %v; want one naming the missing settings", err)
	}
	for name, v := range map[string]string{sms.SettingURL: "ftp://x", sms.SettingSegments: "0", sms.SettingCountryCode: "x", sms.SettingFrom: "me"} {
		g := map[string]string{sms.SettingURL: "http://gw", sms.SettingAccount: "a", sms.SettingToken: "t", sms.SettingFrom: "+15550001111"}
		g[name] = v
		if _, err := sms.Open(eventing.Config{Get: func(n string) string { return g[n] }}); err == nil {
			t.Errorf("%s=%q accepted", name, v)
		}
	}
}

func TestDeliver_GatewayErrors(t *testing.T) {
	for _, tt := range []struct {
		status     int
		retryAfter string
		permanent  bool
		after      time.Duration
	}{
		{400, "", true, 0}, {401, "", false, 0}, {429, "30", false, 30 * time.Second}, {503, "", false, 0}, {500, "", false, 0},
	} {
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.status)
			w.Write([]byte(`{"code": 21211, "message": "The 'To' number is not valid."}`))
		}))
		p, err := sms.Open(eventing.Config{Get: func(n string) string {
			return map[string]string{sms.SettingURL: gw.URL, sms.SettingAccount: "AC1", sms.SettingToken: "secret-token", sms.SettingFrom: "+15550001111"}[n]
		}})
		if err != nil {
			t.Fatal(err)
		}
		ep, err := processortest.Endpoint(t, p, `<Number>408 726 4390</Number>`)
		if err != nil {
			t.Fatal(err)
		}
		err = ep.Deliver(t.Context(), &eventing.Notification{Event: eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "t"})})
		gw.Close()
		var de *eventing.DeliveryError
		if !errors.As(err, &de) || de.Status != tt.status || de.Permanent != tt.permanent || de.RetryAfter != tt.after {
			t.Errorf("HTTP %d: %#v", tt.status, err)
			continue
		}
		if !strings.Contains(err.Error(), "not valid") || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("HTTP %d: error text %q", tt.status, err)
		}
	}
}

// The seed's SMS subscribe request, verbatim, followed by the seed's event
// message, produces exactly one correct request at the gateway.
func TestSeed_SMSRequestVerbatim(t *testing.T) {
	gw := smstest.Start(t)
	h := httpapitest.Start(t, "", eventing.Options{Setting: httpapitest.Settings(gw.Settings())})
	srv, svc := h.Server, h.Service
	post := func(path, ctype, file string) int {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(srv.URL+path, ctype, strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post("/eventing", "application/soap+xml; charset=utf-8", "subscribe-request-sms.xml"); st != 200 {
		t.Fatalf("seed SMS subscribe: HTTP %d", st)
	}
	if st := post("/messages", "text/xml", "event-message.xml"); st != 202 {
		t.Fatalf("seed event: HTTP %d", st)
	}
	m := gw.NextMessage(t)
	if m.To != "+14087264390" || m.From != smstest.From {
		t.Fatalf("To %q From %q", m.To, m.From)
	}
	for _, want := range []string{"myTopic", "i-38e24051", "2008-09-30 11:19:10 GMT", "message text", "additional message info"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("Body %q lacks %q", m.Body, want)
		}
	}
	// Exactly one: once the delivery is recorded as done, nothing follows.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, ok := svc.Dispatcher().State(svc.Dispatcher().Subscriptions()[0].ID); ok && len(st.Log) == 1 && st.Log[0].OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery was not recorded")
		}
	}
	if got := gw.Accepted(); len(got) != 1 || len(gw.Problems()) != 0 {
		t.Fatalf("gateway accepted %d, refused %v", len(got), gw.Problems())
	}
}

func BenchmarkText(b *testing.B) {
	ev := eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "myTopic", InstanceID: "i-38e24051", Timestamp: "2008-09-30 11:19:10 GMT", Text: "message text", Info: "additional message info"})
	for b.Loop() {
		sms.Text(ev, 3)
	}
}

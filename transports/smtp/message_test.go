package smtp_test

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	heraldsmtp "github.com/herald-eventing/herald/transports/smtp"
	"github.com/herald-eventing/herald/transports/smtp/smtptest"
)

func testEndpoint(t testing.TB) *heraldsmtp.Endpoint {
	t.Helper()
	p := mustOpen(t, map[string]string{heraldsmtp.SettingAddr: "mail.example.org:587", heraldsmtp.SettingFrom: "Herald Notifications <herald@example.org>"})
	return endpoint(t, p, "ops@example.org", "Jane Doe &lt;jane@example.org&gt;", "Jörg Ä &lt;joerg@example.org&gt;")
}

// checkWire checks the mail is sendable as is: CRLF line ends only, no
// line over 998 octets, headers within 78 where they fold.
func checkWire(t *testing.T, raw []byte) {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Error("the mail has a bare CR or LF")
	}
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("no blank line after the header")
	}
	for _, l := range strings.Split(string(head), "\r\n") {
		if len(l) > 78 {
			t.Errorf("header line of %d characters: %q", len(l), l)
		}
	}
	for _, l := range strings.Split(string(body), "\r\n") {
		if len(l) > 76 {
			t.Errorf("body line of %d characters: %q", len(l), l)
		}
		for _, c := range []byte(l) {
			if c >= 0x80 {
				t.Fatalf("8-bit body line: %q", l)
			}
		}
	}
}

func TestMessage(t *testing.T) {
	e := testEndpoint(t)
	n := notification(eventing.Message{
		Topic:      "myTopic",
		InstanceID: "i-38e24051",
		Timestamp:  "2008-09-30 11:19:10 GMT",
		Text:       "disk full <script>alert('x')</script> & more\nsecond line: Größe 100 %",
		Info:       `sda1 "root" ` + strings.Repeat("long ", 40),
	})
	raw := e.Message(n)
	checkWire(t, raw)
	if !bytes.Equal(raw, e.Message(n)) {
		t.Error("two attempts build different mails")
	}
	p, err := smtptest.Parse(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}

	h := p.Header
	for k, want := range map[string]string{
		"Subject":             "[Herald] myTopic on i-38e24051",
		"Message-Id":          "<0f8fad5b-d9cb-469f-a165-70867728950e@herald>",
		"X-Herald-Message-Id": "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
		"Mime-Version":        "1.0",
		"Auto-Submitted":      "auto-generated",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Herald Notifications" || from[0].Address != "herald@example.org" {
		t.Errorf("From: %v %v", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 3 || to[2].Name != "Jörg Ä" || to[2].Address != "joerg@example.org" || to[1].Name != "Jane Doe" {
		t.Errorf("To: %v %v (%q)", to, err, h.Get("To"))
	}
	if d, err := h.Date(); err != nil || !d.Equal(n.Event.Received) {
		t.Errorf("Date: %v %v; want the time Herald received the event, %v", d, err, n.Event.Received)
	}

	for name, ph := range map[string]map[string][]string{"text/plain": p.PlainHeader, "text/html": p.HTMLHeader} {
		if got := strings.Join(ph["Content-Transfer-Encoding"], ""); got != "quoted-printable" {
			t.Errorf("%s: Content-Transfer-Encoding %q", name, got)
		}
	}
	for _, want := range []string{"myTopic", "i-38e24051", "2008-09-30 11:19:10 GMT", "disk full <script>alert('x')</script> & more", "second line: Größe 100 %", `sda1 "root" long long`, "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"} {
		if !strings.Contains(p.Plain, want) {
			t.Errorf("the text/plain part lacks %q:\n%s", want, p.Plain)
		}
	}
	for _, want := range []string{"myTopic", "i-38e24051", "2008-09-30 11:19:10 GMT", "disk full &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more", "second line: Größe 100 %", `sda1 &#34;root&#34; long long`} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("the text/html part lacks %q:\n%s", want, p.HTML)
		}
	}
	if strings.Contains(p.HTML, "<script>") || strings.Contains(p.HTML, `"root"`) {
		t.Errorf("the text/html part has unescaped input:\n%s", p.HTML)
	}
}

func TestMessageEmptyFields(t *testing.T) {
	e := testEndpoint(t)
	n := notification(eventing.Message{Topic: "t"})
	n.Event = eventing.NewEvent(1, time.Time{}, eventing.Message{Topic: "t"})
	n.MessageID = "uuid:not-a-urn\r\nBcc: x@example.org"
	raw := e.Message(n)
	checkWire(t, raw)
	p, err := smtptest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Header.Get("Subject") != "[Herald] t" {
		t.Errorf("Subject: %q", p.Header.Get("Subject"))
	}
	if id := p.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@herald>") || strings.ContainsAny(id, " :\r\n") {
		t.Errorf("Message-ID: %q", id)
	}
	if p.Header.Get("Bcc") != "" {
		t.Error("the MessageID injected a header")
	}
	if _, err := p.Header.Date(); err != nil {
		t.Error(err)
	}
}

func TestSubject(t *testing.T) {
	dec := new(mime.WordDecoder)
	for _, tt := range []struct {
		name         string
		topic, inst  string
		want         string // decoded
		encoded      bool
		wantNoHeader string
	}{
		{name: "ASCII", topic: "myTopic", inst: "i-1", want: "[Herald] myTopic on i-1"},
		{name: "no instance", topic: "myTopic", want: "[Herald] myTopic"},
		{name: "umlauts", topic: "Störung", inst: "Maschine Ä", want: "[Herald] Störung on Maschine Ä", encoded: true},
		{name: "CJK", topic: "障害", inst: "サーバー", want: "[Herald] 障害 on サーバー", encoded: true},
		{name: "line breaks", topic: "a\r\nBcc: victim@example.org", inst: "i\n1", want: "[Herald] a  Bcc: victim@example.org on i 1", wantNoHeader: "Bcc"},
		{name: "long", topic: strings.Repeat("x", 300), inst: "i-1", want: "[Herald] " + strings.Repeat("x", 99) + "… on i-1", encoded: true},
		{name: "long words", topic: strings.Repeat("Störung ", 30), inst: "i-1", want: "[Herald] " + strings.TrimSpace(strings.Repeat("Störung ", 12)) + " Stö… on i-1", encoded: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := eventing.NewEvent(1, time.Now(), eventing.Message{Topic: tt.topic, InstanceID: tt.inst})
			s := heraldsmtp.Subject(ev)
			if tt.encoded != strings.HasPrefix(s, "=?utf-8?q?") {
				t.Errorf("Subject(…) = %q; encoded = %v, want %v", s, !tt.encoded, tt.encoded)
			}
			got, err := dec.DecodeHeader(s)
			if err != nil || got != tt.want {
				t.Errorf("Subject(…) = %q, decoded %q (%v); want %q", s, got, err, tt.want)
			}
			// And in a whole mail, as a mail reader sees it.
			n := notification(ev.Message)
			n.Event = ev
			raw := testEndpoint(t).Message(n)
			checkWire(t, raw)
			m, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := dec.DecodeHeader(m.Header.Get("Subject")); err != nil || got != tt.want {
				t.Errorf("the mail's Subject decodes to %q (%v), want %q", got, err, tt.want)
			}
			if tt.wantNoHeader != "" && m.Header.Get(tt.wantNoHeader) != "" {
				t.Errorf("the subject injected a %s header", tt.wantNoHeader)
			}
		})
	}
}

func BenchmarkMessage(b *testing.B) {
	e := testEndpoint(b)
	n := notification(event)
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Message(n)
	}
}

package smtp_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	heraldsmtp "github.com/herald-eventing/herald/transports/smtp"
	"github.com/herald-eventing/herald/transports/smtp/smtptest"
)

func TestProcessorSuite(t *testing.T) { processortest.Run(t, smtptest.Fixture()) }

const hNS = `xmlns:h="` + eventing.HeraldNS + `"`

// open opens the email processor with settings.
func open(t testing.TB, settings map[string]string) (*heraldsmtp.Processor, error) {
	t.Helper()
	d, err := eventing.LookupDriver(heraldsmtp.Name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Open(eventing.Config{Get: func(n string) string { return settings[n] }})
	if err != nil {
		return nil, err
	}
	return p.(*heraldsmtp.Processor), nil
}

func mustOpen(t testing.TB, settings map[string]string) *heraldsmtp.Processor {
	t.Helper()
	p, err := open(t, settings)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// endpoint parses an h:Email for addrs (XML-escaped by the caller).
func endpoint(t testing.TB, p *heraldsmtp.Processor, addrs ...string) *heraldsmtp.Endpoint {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<h:Email ` + hNS + `>`)
	for _, a := range addrs {
		b.WriteString(`<h:Address>` + a + `</h:Address>`)
	}
	b.WriteString(`</h:Email>`)
	ep, err := processortest.Endpoint(t, p, b.String())
	if err != nil {
		t.Fatal(err)
	}
	return ep.(*heraldsmtp.Endpoint)
}

func notification(m eventing.Message) *eventing.Notification {
	return &eventing.Notification{
		Event:     eventing.NewEvent(42, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), m),
		MessageID: "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
		Attempt:   1,
	}
}

var event = eventing.Message{Topic: "myTopic", InstanceID: "i-38e24051", Timestamp: "2008-09-30 11:19:10 GMT", Text: "message text", Info: "additional message info"}

func TestAddresses(t *testing.T) {
	p := mustOpen(t, map[string]string{heraldsmtp.SettingAddr: "mail.example.org:587", heraldsmtp.SettingFrom: "herald@example.org"})
	valid := []struct {
		name, msg, key string
		to             []string
	}{
		{"one", `<h:Address>ops@example.org</h:Address>`, "ops@example.org", []string{"ops@example.org"}},
		{"trimmed", "<h:Address>\n  ops@example.org \t</h:Address>", "ops@example.org", []string{"ops@example.org"}},
		{"display name", `<h:Address>Jane Doe &lt;jane@example.org&gt;</h:Address>`, "jane@example.org", []string{"jane@example.org"}},
		{"quoted name with comma", `<h:Address>"Doe, Jane" &lt;Jane@Example.org&gt;</h:Address>`, "jane@example.org", []string{"Jane@Example.org"}},
		{"encoded name", `<h:Address>=?utf-8?q?J=C3=B6rg?= &lt;joerg@example.org&gt;</h:Address>`, "joerg@example.org", []string{"joerg@example.org"}},
		{"sorted, lower-cased key", `<h:Address>Zed@example.org</h:Address><h:Address>ann@example.org</h:Address>`, "ann@example.org,zed@example.org", []string{"Zed@example.org", "ann@example.org"}},
		{"duplicates once", `<h:Address>ops@example.org</h:Address><h:Address>Ops &lt;OPS@example.org&gt;</h:Address>`, "ops@example.org", []string{"ops@example.org"}},
		{"fifty", strings.Repeat(`<h:Address>ops@example.org</h:Address>`, 50), "ops@example.org", []string{"ops@example.org"}},
		{"domain literal", `<h:Address>root@[127.0.0.1]</h:Address>`, "root@[127.0.0.1]", []string{"root@[127.0.0.1]"}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := processortest.Endpoint(t, p, `<h:Email `+hNS+`>`+tt.msg+`</h:Email>`)
			if err != nil {
				t.Fatal(err)
			}
			if ep.Key() != tt.key {
				t.Errorf("Key() = %q, want %q", ep.Key(), tt.key)
			}
			var to []string
			for _, a := range ep.(*heraldsmtp.Endpoint).Addresses() {
				to = append(to, a.Address)
			}
			if strings.Join(to, " ") != strings.Join(tt.to, " ") {
				t.Errorf("Addresses() = %v, want %v", to, tt.to)
			}
		})
	}

	invalid := []struct{ name, msg, reason string }{
		{"empty list", `<h:Email ` + hNS + `/>`, "lists no h:Address"},
		{"empty address", `<h:Email ` + hNS + `><h:Address>ops@example.org</h:Address><h:Address> </h:Address></h:Email>`, "h:Address 2: the address is empty"},
		{"no at", `<h:Email ` + hNS + `><h:Address>ops.example.org</h:Address></h:Email>`, `h:Address 1: "ops.example.org" is not a mail address`},
		{"two in one", `<h:Email ` + hNS + `><h:Address>a@example.org, b@example.org</h:Address></h:Email>`, `h:Address 1: "a@example.org, b@example.org" is not a mail address (expected single address`},
		{"unclosed angle", `<h:Email ` + hNS + `><h:Address>Jane &lt;jane@example.org</h:Address></h:Email>`, `h:Address 1: "Jane <jane@example.org" is not a mail address`},
		{"non-ASCII addr-spec", `<h:Email ` + hNS + `><h:Address>jörg@example.org</h:Address></h:Email>`, "SMTPUTF8"},
		{"fifty-one", `<h:Email ` + hNS + `>` + strings.Repeat(`<h:Address>ops@example.org</h:Address>`, 51) + `</h:Email>`, "51 addresses; at most 50"},
		{"foreign child", `<h:Email ` + hNS + `><h:Address>ops@example.org</h:Address><x:Address xmlns:x="urn:x">b@example.org</x:Address></h:Email>`, "element 2 is {urn:x}Address"},
		{"wrong element", `<h:Webhook ` + hNS + `><h:URL>http://x.example/</h:URL></h:Webhook>`, "expects <h:Email"},
		{"wrong namespace", `<Email><Address>ops@example.org</Address></Email>`, "got {}Email"},
		{"empty subscriptionMessage", `<web:subscriptionMessage xmlns:web="` + eventing.ManagementNS + `"/>`, "subscriptionMessage is empty"},
		{"wse:Subscribe without h:Email", `<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery/></wse:Subscribe>`, "no h:Email"},
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

func TestOpen(t *testing.T) {
	ok := map[string]string{heraldsmtp.SettingAddr: "mail.example.org:587", heraldsmtp.SettingFrom: "herald@example.org"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(ok)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const password = "hunter2-very-secret"
	for _, tt := range []struct {
		name     string
		settings map[string]string
		want     string // "" for success
	}{
		{"minimal", ok, ""},
		{"nothing", nil, "smtp-addr (HERALD_SMTP_ADDR) and smtp-from (HERALD_SMTP_FROM) not set"},
		{"no from", with(heraldsmtp.SettingFrom, ""), "smtp-from (HERALD_SMTP_FROM) not set"},
		{"no addr", with(heraldsmtp.SettingAddr, " "), "smtp-addr (HERALD_SMTP_ADDR) not set"},
		{"no port", with(heraldsmtp.SettingAddr, "mail.example.org"), `smtp-addr "mail.example.org" is not host:port`},
		{"bad from", with(heraldsmtp.SettingFrom, "herald"), `smtp-from "herald" is not a mail address`},
		{"bad tls", with(heraldsmtp.SettingTLS, "ssl"), `smtp-tls "ssl": want starttls, tls or none`},
		{"TLS upper case", with(heraldsmtp.SettingTLS, "STARTTLS"), ""},
		{"implicit", with(heraldsmtp.SettingTLS, "tls"), ""},
		{"user without password", with(heraldsmtp.SettingUser, "u"), "smtp-password (HERALD_SMTP_PASSWORD) is empty"},
		{"password without user", with(heraldsmtp.SettingPassword, password), "smtp-user (HERALD_SMTP_USER) is empty"},
		{"none with AUTH to a remote host", with(heraldsmtp.SettingTLS, "none", heraldsmtp.SettingUser, "u", heraldsmtp.SettingPassword, password), "in clear to mail.example.org"},
		{"none with AUTH to loopback", with(heraldsmtp.SettingTLS, "none", heraldsmtp.SettingUser, "u", heraldsmtp.SettingPassword, password, heraldsmtp.SettingAddr, "127.0.0.1:25"), ""},
		{"none with AUTH to localhost", with(heraldsmtp.SettingTLS, "none", heraldsmtp.SettingUser, "u", heraldsmtp.SettingPassword, password, heraldsmtp.SettingAddr, "localhost:25"), ""},
		{"none without AUTH", with(heraldsmtp.SettingTLS, "none"), ""},
		{"missing CA file", with(heraldsmtp.SettingCAFile, "/nonexistent/ca.pem"), "smtp-ca-file: open /nonexistent/ca.pem"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := open(t, tt.settings)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Open: err = %v; want one saying %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), password):
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	d, _ := eventing.LookupDriver(heraldsmtp.Name)
	for _, s := range d.Settings {
		if (s.Name == heraldsmtp.SettingPassword) != s.Secret {
			t.Errorf("setting %s: Secret = %v", s.Name, s.Secret)
		}
		if s.Env == "" || s.Usage == "" {
			t.Errorf("setting %s has no environment variable or usage", s.Name)
		}
	}
}

// deliver sends one notification with s's settings changed by kv.
func deliver(t *testing.T, s *smtptest.Server, to []string, kv ...string) error {
	t.Helper()
	settings := s.Settings()
	for i := 0; i < len(kv); i += 2 {
		settings[kv[i]] = kv[i+1]
	}
	p := mustOpen(t, settings)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := endpoint(t, p, to...).Deliver(ctx, notification(event))
	if err != nil && strings.Contains(err.Error(), s.Password()) {
		t.Fatalf("the error shows the password: %v", err)
	}
	return err
}

// deliveryError returns err as a *DeliveryError, failing if it is not one.
func deliveryError(t *testing.T, err error) *eventing.DeliveryError {
	t.Helper()
	var de *eventing.DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T); want an *eventing.DeliveryError", err, err)
	}
	return de
}

func TestDeliver(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	if err := deliver(t, s, []string{"Ops &lt;ops@example.org&gt;", "jane@example.org"}); err != nil {
		t.Fatal(err)
	}
	m := s.Receive(t)
	if m.From != "herald@example.org" || strings.Join(m.To, " ") != "ops@example.org jane@example.org" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	p, err := smtptest.Parse(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Header.Get("To"); got != `"Ops" <ops@example.org>, <jane@example.org>` {
		t.Errorf("To: %q", got)
	}
	for _, part := range []string{p.Plain, p.HTML} {
		if !strings.Contains(part, "message text") {
			t.Errorf("a part lacks the text:\n%s", part)
		}
	}
}

func TestImplicitTLS(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	if err := deliver(t, s, []string{"ops@example.org"}); err != nil {
		t.Fatal(err)
	}
	s.Receive(t)
}

func TestPlainOnLoopback(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{NoSTARTTLS: true, AllowInsecureAuth: true})
	if err := deliver(t, s, []string{"ops@example.org"}, heraldsmtp.SettingTLS, heraldsmtp.TLSNone); err != nil {
		t.Fatal(err)
	}
	s.Receive(t)
}

func TestSTARTTLSRequired(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{NoSTARTTLS: true, AllowInsecureAuth: true})
	err := deliver(t, s, []string{"ops@example.org"})
	if de := deliveryError(t, err); de.Permanent {
		t.Errorf("a relay without STARTTLS is a configuration matter, not the event's: %v", err)
	}
	if !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("err = %v; want it to name STARTTLS", err)
	}
	if m := s.Received(); m != nil {
		t.Errorf("a mail went out without TLS:\n%s", m.Data)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	err := deliver(t, s, []string{"ops@example.org"}, heraldsmtp.SettingCAFile, "")
	deliveryError(t, err)
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v; want a certificate error", err)
	}
	if s.AuthFailures() != 0 || s.Received() != nil {
		t.Error("Herald went on after a failed certificate check")
	}
}

func TestAuthFailure(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	const wrong = "not-the-password-42"
	err := deliver(t, s, []string{"ops@example.org"}, heraldsmtp.SettingPassword, wrong)
	de := deliveryError(t, err)
	if de.Permanent {
		t.Errorf("an AUTH failure is a configuration matter, retried: %v", err)
	}
	if !strings.Contains(err.Error(), "AUTH PLAIN") || !strings.Contains(err.Error(), "535") {
		t.Errorf("err = %v; want it to name AUTH PLAIN and 535", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("the error shows the password: %v", err)
	}
	if s.AuthFailures() != 1 {
		t.Errorf("AUTH failures = %d, want 1", s.AuthFailures())
	}
}

func TestTemporaryFailureIsRetryable(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	s.FailNext(1)
	err := deliver(t, s, []string{"ops@example.org"})
	if de := deliveryError(t, err); de.Permanent || !strings.Contains(err.Error(), "451") {
		t.Fatalf("err = %v; want a retryable 451", err)
	}
	if err := deliver(t, s, []string{"ops@example.org"}); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	s.Receive(t)
}

func TestPermanentFailures(t *testing.T) {
	t.Run("550 no such user", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{})
		s.RejectRecipient("nobody@example.org")
		err := deliver(t, s, []string{"nobody@example.org"})
		if de := deliveryError(t, err); !de.Permanent || !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "<nobody@example.org>") {
			t.Fatalf("err = %v; want a permanent 550 naming the recipient", err)
		}
		if s.Received() != nil {
			t.Error("a mail was sent to no one")
		}
	})
	t.Run("550 for one of two", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{})
		s.RejectRecipient("nobody@example.org")
		err := deliver(t, s, []string{"ops@example.org", "nobody@example.org"})
		if de := deliveryError(t, err); !de.Permanent || !strings.Contains(err.Error(), "mailed to ops@example.org only") {
			t.Fatalf("err = %v; want a permanent error saying who got the mail", err)
		}
		if m := s.Receive(t); strings.Join(m.To, " ") != "ops@example.org" {
			t.Errorf("recipients %v", m.To)
		}
	})
	t.Run("554 transaction", func(t *testing.T) {
		s := smtptest.Start(t, smtptest.Options{})
		s.RefuseNext(1, 554)
		err := deliver(t, s, []string{"ops@example.org"})
		if de := deliveryError(t, err); !de.Permanent || !strings.Contains(err.Error(), "554") {
			t.Fatalf("err = %v; want a permanent 554", err)
		}
	})
}

func TestDeadline(t *testing.T) {
	// A server that accepts connections and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	for _, mode := range []string{heraldsmtp.TLSStartTLS, heraldsmtp.TLSImplicit, heraldsmtp.TLSNone} {
		t.Run(mode, func(t *testing.T) {
			p := mustOpen(t, map[string]string{heraldsmtp.SettingAddr: ln.Addr().String(), heraldsmtp.SettingFrom: "herald@example.org", heraldsmtp.SettingTLS: mode})
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := endpoint(t, p, "ops@example.org").Deliver(ctx, notification(event))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v; want one wrapping context.DeadlineExceeded", err)
			}
			deliveryError(t, err)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Deliver took %v past a 200ms deadline", d)
			}
		})
	}
}

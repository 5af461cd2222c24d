// Package smtp is the "email" subscription processor: it mails every event
// to the addresses of the subscription, as one RFC 5322 message with a
// plain-text and an HTML part, over SMTP with STARTTLS and AUTH PLAIN.
//
// The subscription message lists the addresses:
//
//	<h:Email xmlns:h="http://herald-eventing.github.io/ns/2026/herald">
//	  <h:Address>ops@example.org</h:Address>
//	  <h:Address>Jane Doe &lt;jane@example.org&gt;</h:Address>
//	</h:Email>
//
// The relay is configured with the settings smtp-addr, smtp-from,
// smtp-user, smtp-password, smtp-tls and smtp-ca-file (flags of herald
// serve, or the HERALD_SMTP_* environment variables).
//
// The SMTP client is github.com/emersion/go-smtp: net/smtp is frozen and
// has no structured reply codes, while go-smtp reports every reply as an
// *smtp.SMTPError with its code, which is what sorting failures into
// retryable (4xx) and permanent (5xx) needs.
package smtp

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"strings"

	"github.com/herald-eventing/herald/eventing"
)

// Name is the processor's registered name.
const Name = "email"

// The names of the processor's settings (herald serve flags).
const (
	// SettingAddr is the relay's host:port (HERALD_SMTP_ADDR).
	SettingAddr = "smtp-addr"
	// SettingFrom is the sender address of every mail (HERALD_SMTP_FROM).
	SettingFrom = "smtp-from"
	// SettingUser is the AUTH PLAIN user name; empty for no AUTH
	// (HERALD_SMTP_USER).
	SettingUser = "smtp-user"
	// SettingPassword is the AUTH PLAIN password (HERALD_SMTP_PASSWORD).
	SettingPassword = "smtp-password"
	// SettingTLS is the transport security: TLSStartTLS, TLSImplicit or
	// TLSNone (HERALD_SMTP_TLS).
	SettingTLS = "smtp-tls"
	// SettingCAFile is a PEM file of the root certificates that verify
	// the relay, instead of the system's (HERALD_SMTP_CA_FILE).
	SettingCAFile = "smtp-ca-file"
)

// The values of SettingTLS.
const (
	// TLSStartTLS connects in plain text and requires STARTTLS before
	// anything else is sent; a relay that does not offer it fails every
	// delivery. The default.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the first byte (port 465).
	TLSImplicit = "tls"
	// TLSNone sends in plain text, for local relays only: AUTH is then
	// refused unless the relay's host is a loopback address.
	TLSNone = "none"
)

// MaxAddresses is the most addresses one subscription may list.
const MaxAddresses = 50

// heloName is the name Herald gives in EHLO.
const heloName = "localhost"

func init() {
	eventing.Register(eventing.Driver{
		Name: Name,
		Settings: []eventing.Setting{
			{Name: SettingAddr, Env: "HERALD_SMTP_ADDR", Usage: "email processor: SMTP relay host:port (required for email subscriptions)"},
			{Name: SettingFrom, Env: "HERALD_SMTP_FROM", Usage: "email processor: sender address of the mails (required for email subscriptions)"},
			{Name: SettingUser, Env: "HERALD_SMTP_USER", Usage: "email processor: AUTH PLAIN user name (empty: no AUTH)"},
			{Name: SettingPassword, Env: "HERALD_SMTP_PASSWORD", Usage: "email processor: AUTH PLAIN password", Secret: true},
			{Name: SettingTLS, Env: "HERALD_SMTP_TLS", Default: TLSStartTLS, Usage: "email processor: starttls (required), tls (implicit, port 465) or none (local relays only)"},
			{Name: SettingCAFile, Env: "HERALD_SMTP_CA_FILE", Usage: "email processor: PEM file of root certificates that verify the relay (default: the system's)"},
		},
		Open: Open,
	})
}

// Processor is the "email" subscription processor for one configured
// relay. It is safe for concurrent use.
type Processor struct {
	addr     string // host:port
	host     string
	loopback bool
	from     *mail.Address
	user     string
	password string
	mode     string
	tls      *tls.Config // nil for TLSNone
	logger   *slog.Logger
}

var _ eventing.Processor = (*Processor)(nil)

// Open builds the processor from c's settings. Without smtp-addr and
// smtp-from, with an unknown smtp-tls, an unreadable smtp-ca-file or a
// password that TLSNone would send in clear to a remote host, it returns
// an error that says which setting is wrong (and never the password).
func Open(c eventing.Config) (eventing.Processor, error) {
	get := func(name string) string {
		if c.Get == nil {
			return ""
		}
		return strings.TrimSpace(c.Get(name))
	}
	var missing []string
	for _, s := range []struct{ name, env string }{{SettingAddr, "HERALD_SMTP_ADDR"}, {SettingFrom, "HERALD_SMTP_FROM"}} {
		if get(s.name) == "" {
			missing = append(missing, fmt.Sprintf("%s (%s)", s.name, s.env))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the email processor needs an SMTP relay: %s not set", strings.Join(missing, " and "))
	}
	p := &Processor{addr: get(SettingAddr), user: get(SettingUser), password: c.Get(SettingPassword), logger: c.Logger}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("%s %q is not host:port", SettingAddr, p.addr)
	}
	p.host = host
	p.loopback = host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		p.loopback = true
	}
	from := get(SettingFrom)
	if p.from, err = mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("%s %q is not a mail address: %v", SettingFrom, from, err)
	}
	if !isASCII(p.from.Address) {
		return nil, fmt.Errorf("%s %q: internationalized addresses (SMTPUTF8) are not supported", SettingFrom, from)
	}
	if p.user != "" && p.password == "" {
		return nil, fmt.Errorf("%s is set but %s (HERALD_SMTP_PASSWORD) is empty", SettingUser, SettingPassword)
	}
	if p.user == "" && p.password != "" {
		return nil, fmt.Errorf("%s is set but %s (HERALD_SMTP_USER) is empty", SettingPassword, SettingUser)
	}
	switch p.mode = strings.ToLower(get(SettingTLS)); p.mode {
	case "":
		p.mode = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("%s %q: want %s, %s or %s", SettingTLS, p.mode, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if p.mode == TLSNone {
		if p.user != "" && !p.loopback {
			return nil, fmt.Errorf("%s=%s would send the AUTH password in clear to %s: use %s or %s, or a relay on a loopback address", SettingTLS, TLSNone, host, TLSStartTLS, TLSImplicit)
		}
		return p, nil
	}
	p.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if f := get(SettingCAFile); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", SettingCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s holds no PEM certificate", SettingCAFile, f)
		}
		p.tls.RootCAs = pool
	}
	return p, nil
}

// wantEmail is the reason given for a message that is not an h:Email.
const wantEmail = `the email processor expects <h:Email xmlns:h="` + eventing.HeraldNS + `"> with one or more <h:Address> elements`

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

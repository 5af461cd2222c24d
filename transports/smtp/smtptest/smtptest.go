// Package smtptest is the stand-in for the email processor, for
// processortest and the processor's own tests: a real SMTP server
// (github.com/emersion/go-smtp) on 127.0.0.1 with STARTTLS (a self-signed
// certificate made for the test, written to a CA file the processor is
// told to trust) and AUTH PLAIN, which records every mail it accepts and
// can refuse transactions and recipients on demand.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	heraldsmtp "github.com/herald-eventing/herald/transports/smtp"
)

// User is the AUTH PLAIN user name the stand-in accepts.
const User = "herald"

// From is the sender address in the stand-in's Settings.
const From = "Herald <herald@example.org>"

// Recipient is the address of the stand-in's Message.
const Recipient = "ops@example.org"

const h = `xmlns:h="` + eventing.HeraldNS + `"`

// Fixture describes the email processor to the shared suite.
func Fixture() processortest.Fixture {
	return processortest.Fixture{
		Processor: heraldsmtp.Name,
		Valid: []string{
			`<h:Email ` + h + `><h:Address>ops@example.org</h:Address></h:Email>`,
			`<h:Email ` + h + `><h:Address> ops@example.org </h:Address><h:Address>Jane Doe &lt;jane@example.org&gt;</h:Address><h:Address>"Doe, John" &lt;john@example.org&gt;</h:Address></h:Email>`,
			`<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery Mode="` + eventing.DeliveryModePrefix + `email"><h:Email ` + h + `><h:Address>ops@example.org</h:Address></h:Email></wse:Delivery></wse:Subscribe>`,
		},
		Invalid: []string{
			`<h:Email ` + h + `/>`,
			`<h:Email ` + h + `><h:Address>  </h:Address></h:Email>`,
			`<h:Email ` + h + `><h:Address>ops@example.org</h:Address><h:Address>not an address</h:Address></h:Email>`,
			`<h:Email ` + h + `><h:Address>a@example.org, b@example.org</h:Address></h:Email>`,
			`<h:Email ` + h + `><h:Address>ops@example.org</h:Address><h:Phone>408 726 4390</h:Phone></h:Email>`,
			`<h:Email ` + h + `>` + strings.Repeat(`<h:Address>ops@example.org</h:Address>`, heraldsmtp.MaxAddresses+1) + `</h:Email>`,
			`<web:subscriptionMessage xmlns:web="` + eventing.ManagementNS + `"/>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>408 726 4390</tb:Number></tb:Entry>`,
		},
		StandIn: func(t *testing.T) processortest.StandIn { return Start(t, Options{}) },
	}
}

// Options change how the stand-in behaves.
type Options struct {
	// NoSTARTTLS makes a server that does not offer STARTTLS.
	NoSTARTTLS bool
	// ImplicitTLS makes a server that speaks TLS from the first byte
	// (smtp-tls=tls).
	ImplicitTLS bool
	// AllowInsecureAuth offers AUTH without TLS (for smtp-tls=none).
	AllowInsecureAuth bool
}

// A Mail is one message the server accepted: the envelope and the data
// as received.
type Mail struct {
	From string
	To   []string
	Data []byte
}

// Server is a running stand-in, closed in t.Cleanup.
type Server struct {
	opts     Options
	srv      *smtp.Server
	addr     string
	caFile   string
	password string
	got      chan *Mail

	mu       sync.Mutex
	fail     int // transactions still to refuse
	failCode int
	reject   map[string]bool // lower-cased recipients refused with 550
	authFail int             // failed AUTH attempts
}

// Start starts a server on 127.0.0.1:0.
func Start(t *testing.T, o Options) *Server {
	t.Helper()
	cert, certPEM := selfSigned(t)
	caFile := filepath.Join(t.TempDir(), "smtptest-ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	var secret [12]byte
	_, _ = rand.Read(secret[:])
	s := &Server{opts: o, caFile: caFile, password: "pw-" + hex.EncodeToString(secret[:]), got: make(chan *Mail, 100), reject: map[string]bool{}}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.AllowInsecureAuth = o.AllowInsecureAuth
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	switch {
	case o.ImplicitTLS:
		ln = tls.NewListener(ln, cfg)
	case !o.NoSTARTTLS:
		s.srv.TLSConfig = cfg
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		// Close closes only the listeners Serve has registered: if Serve
		// has not started yet, closing ln is what makes it return.
		_ = ln.Close()
		<-done
	})
	return s
}

// selfSigned makes a certificate for 127.0.0.1, ::1 and localhost that is
// its own root.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Herald smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// CAFile is the PEM file of the server's certificate.
func (s *Server) CAFile() string { return s.caFile }

// Password is the AUTH PLAIN password the server accepts for User.
func (s *Server) Password() string { return s.password }

// Settings implements processortest.StandIn: the relay is this server,
// with smtp-tls=starttls (tls for Options.ImplicitTLS), AUTH PLAIN as User
// and the server's certificate as the only root.
func (s *Server) Settings() map[string]string {
	mode := heraldsmtp.TLSStartTLS
	if s.opts.ImplicitTLS {
		mode = heraldsmtp.TLSImplicit
	}
	return map[string]string{
		heraldsmtp.SettingAddr:     s.addr,
		heraldsmtp.SettingFrom:     From,
		heraldsmtp.SettingUser:     User,
		heraldsmtp.SettingPassword: s.password,
		heraldsmtp.SettingTLS:      mode,
		heraldsmtp.SettingCAFile:   s.caFile,
	}
}

// Message implements processortest.StandIn: an h:Email for Recipient.
func (s *Server) Message() string {
	return `<h:Email ` + h + `><h:Address>Ops Team &lt;` + Recipient + `&gt;</h:Address></h:Email>`
}

// Receive waits up to 10 s for the next mail the server accepted.
func (s *Server) Receive(t testing.TB) *Mail {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the SMTP server received no mail within 10s")
	}
	return nil
}

// Received returns a mail the server accepted if one is waiting, else nil.
func (s *Server) Received() *Mail {
	select {
	case m := <-s.got:
		return m
	default:
		return nil
	}
}

// Next implements processortest.StandIn: it waits for the next mail and
// returns its text/plain part, decoded.
func (s *Server) Next(t *testing.T, _ *eventing.Service, _ string) string {
	t.Helper()
	m := s.Receive(t)
	p, err := Parse(m.Data)
	if err != nil {
		t.Fatalf("the SMTP server received a mail it cannot read: %v\n%s", err, m.Data)
	}
	return p.Plain
}

// FailNext implements processortest.StandIn: the next n transactions are
// refused with 451 (try again later) at the end of DATA.
func (s *Server) FailNext(n int) bool {
	s.RefuseNext(n, 451)
	return true
}

// RefuseNext makes the server refuse the next n transactions at the end
// of DATA with reply code (4xx: temporary, 5xx: for good).
func (s *Server) RefuseNext(n, code int) {
	s.mu.Lock()
	s.fail, s.failCode = n, code
	s.mu.Unlock()
}

// RejectRecipient makes the server answer RCPT TO addr with 550 (no such
// user).
func (s *Server) RejectRecipient(addr string) {
	s.mu.Lock()
	s.reject[strings.ToLower(addr)] = true
	s.mu.Unlock()
}

// AuthFailures counts the failed AUTH attempts.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFail
}

func errAuthRequired() error {
	return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
}

// session is one SMTP connection; go-smtp calls its methods one at a time.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, password string) error {
		if (identity != "" && identity != user) || user != User || password != se.s.password {
			se.s.mu.Lock()
			se.s.authFail++
			se.s.mu.Unlock()
			return smtp.ErrAuthFailed
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if !se.authed {
		return errAuthRequired()
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !se.authed {
		return errAuthRequired()
	}
	se.s.mu.Lock()
	rejected := se.s.reject[strings.ToLower(to)]
	se.s.mu.Unlock()
	if rejected {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	code := 0
	if se.s.fail > 0 {
		se.s.fail--
		code = se.s.failCode
	}
	se.s.mu.Unlock()
	switch {
	case code >= 500:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message refused"}
	case code != 0:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	se.s.got <- &Mail{From: se.from, To: append([]string(nil), se.to...), Data: data}
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// A Parsed mail is a multipart/alternative message read back: its header
// and its two parts, decoded.
type Parsed struct {
	Header mail.Header
	// Plain and HTML are the decoded text/plain and text/html parts;
	// PlainHeader and HTMLHeader their headers as sent (with
	// Content-Transfer-Encoding).
	Plain, HTML             string
	PlainHeader, HTMLHeader textproto.MIMEHeader
}

// Parse reads a mail as Herald sends it: multipart/alternative with one
// text/plain and one text/html part, each UTF-8 and quoted-printable,
// base64, 7bit or 8bit. Anything else is an error.
func Parse(data []byte) (*Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("Content-Type: %w", err)
	}
	if mt != "multipart/alternative" || params["boundary"] == "" {
		return nil, fmt.Errorf("Content-Type %q, want multipart/alternative with a boundary", mt)
	}
	p := &Parsed{Header: m.Header}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return nil, fmt.Errorf("part Content-Type: %w", err)
		}
		if !strings.EqualFold(pp["charset"], "utf-8") {
			return nil, fmt.Errorf("%s part has charset %q, want utf-8", pt, pp["charset"])
		}
		var r io.Reader = part
		switch cte := strings.ToLower(part.Header.Get("Content-Transfer-Encoding")); cte {
		case "quoted-printable":
			r = quotedprintable.NewReader(part)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, part)
		case "", "7bit", "8bit":
		default:
			return nil, fmt.Errorf("%s part: Content-Transfer-Encoding %q", pt, cte)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("%s part: %w", pt, err)
		}
		switch pt {
		case "text/plain":
			p.Plain, p.PlainHeader = string(body), part.Header
		case "text/html":
			p.HTML, p.HTMLHeader = string(body), part.Header
		default:
			return nil, fmt.Errorf("unexpected %s part", pt)
		}
	}
	if p.PlainHeader == nil || p.HTMLHeader == nil {
		return nil, errors.New("the mail lacks its text/plain or its text/html part")
	}
	return p, nil
}

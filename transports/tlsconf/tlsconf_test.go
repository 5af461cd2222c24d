package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/herald-eventing/herald/transports/tlsconf"
	"github.com/herald-eventing/herald/transports/tlsconf/tlsconftest"
)

// newServerConfig returns ServerConfig for a certificate of ca for the
// loopback addresses.
func newServerConfig(t *testing.T, ca *tlsconftest.CA, clientCAFile string) *tls.Config {
	t.Helper()
	certFile, keyFile := ca.WriteFiles(t, t.TempDir(), "server", "herald.test", []string{"localhost"}, tlsconftest.Loopback())
	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsconf.ServerConfig(r, clientCAFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writeProto answers with the request's protocol.
func writeProto(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Proto) }

func TestServerConfig_HTTP2AndHTTP1(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	cfg := newServerConfig(t, ca, "")
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.NoClientCert {
		t.Fatalf("MinVersion %x ClientAuth %v", cfg.MinVersion, cfg.ClientAuth)
	}
	srv := serve(t, cfg, http.HandlerFunc(writeProto))

	proto, body, err := get(t, newClient(t, &tls.Config{RootCAs: ca.Pool()}, true), srv.url)
	if err != nil {
		t.Fatal(err)
	}
	if proto != "HTTP/2.0" || body != "HTTP/2.0" {
		t.Fatalf("HTTP/2 client: answer %s, request %s; want HTTP/2.0", proto, body)
	}
	// A client that offers only http/1.1 is served too.
	proto, body, err = get(t, newClient(t, &tls.Config{RootCAs: ca.Pool()}, false), srv.url)
	if err != nil {
		t.Fatal(err)
	}
	if proto != "HTTP/1.1" || body != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1 client: answer %s, request %s; want HTTP/1.1", proto, body)
	}
}

func TestServerConfig_RefusesTLS11(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	srv := serve(t, newServerConfig(t, ca, ""), http.HandlerFunc(writeProto))
	_, err := handshake(t, srv.addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	if _, err := handshake(t, srv.addr, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12}); err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
}

func TestServerConfig_ClientCertificates(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	cfg := newServerConfig(t, ca, ca.CertFile(t))
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven || cfg.ClientCAs == nil {
		t.Fatalf("ClientAuth %v ClientCAs %v", cfg.ClientAuth, cfg.ClientCAs)
	}
	var served atomic.Int32
	srv := serve(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		cn, ok := tlsconf.ClientSubject(r.TLS)
		fmt.Fprintf(w, "%q %v", cn, ok)
	}))

	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			clientCfg := func(certs ...tls.Certificate) *tls.Config {
				return &tls.Config{RootCAs: ca.Pool(), Certificates: certs, MinVersion: version, MaxVersion: version}
			}
			_, body, err := get(t, newClient(t, clientCfg(ca.KeyPair(t, "alice", nil, nil)), true), srv.url)
			if err != nil {
				t.Fatal(err)
			}
			if body != `"alice" true` {
				t.Errorf("client certificate alice: ClientSubject %s", body)
			}

			_, body, err = get(t, newClient(t, clientCfg(), true), srv.url)
			if err != nil {
				t.Fatalf("client without a certificate: %v", err)
			}
			if body != `"" false` {
				t.Errorf("client without a certificate: ClientSubject %s", body)
			}

			// A certificate without a Common Name verifies but names no one.
			_, body, err = get(t, newClient(t, clientCfg(ca.KeyPair(t, "", []string{"nameless.test"}, nil)), true), srv.url)
			if err != nil {
				t.Fatal(err)
			}
			if body != `"" false` {
				t.Errorf("client certificate without a CN: ClientSubject %s", body)
			}

			// A Go client withholds a certificate whose issuer is not among
			// the CAs the server names, and is served without one.
			other := tlsconftest.NewCA(t)
			mallory := other.KeyPair(t, "mallory", nil, nil)
			_, body, err = get(t, newClient(t, clientCfg(mallory), true), srv.url)
			if err != nil {
				t.Fatal(err)
			}
			if body != `"" false` {
				t.Errorf("client certificate of another CA withheld: ClientSubject %s", body)
			}

			// A client that presents it anyway is refused.
			insistent := clientCfg()
			insistent.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &mallory, nil }
			if err := firstRead(t, srv.addr, insistent); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
				t.Fatalf("client certificate of another CA: %v; want the server's unknown certificate authority alert", err)
			}
			before := served.Load()
			if _, _, err := get(t, newClient(t, insistent, true), srv.url); err == nil {
				t.Fatal("GET with a certificate of another CA succeeded")
			}
			if served.Load() != before {
				t.Fatal("the request with a certificate of another CA was served")
			}
		})
	}
}

func TestServerConfig_Errors(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, t.TempDir(), "server", "herald.test", []string{"localhost"}, nil)
	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconf.ServerConfig(nil, ""); err == nil {
		t.Error("nil Reloader accepted")
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := tlsconf.ServerConfig(r, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing client CA file: %v", err)
	}
	// A key is no certificate.
	if _, err := tlsconf.ServerConfig(r, keyFile); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("client CA file without a certificate: %v", err)
	}
}

func TestClientSubject(t *testing.T) {
	leaf := func(cn string) [][]*x509.Certificate {
		return [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn, Organization: []string{"Herald"}}}}}
	}
	for _, tc := range []struct {
		name  string
		state *tls.ConnectionState
		cn    string
		ok    bool
	}{
		{"nil state", nil, "", false},
		{"no certificate", &tls.ConnectionState{}, "", false},
		{"empty chain", &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{}}}, "", false},
		{"unverified only", &tls.ConnectionState{PeerCertificates: leaf("eve")[0]}, "", false},
		{"no Common Name", &tls.ConnectionState{VerifiedChains: leaf("")}, "", false},
		{"verified", &tls.ConnectionState{VerifiedChains: leaf("alice")}, "alice", true},
	} {
		if cn, ok := tlsconf.ClientSubject(tc.state); cn != tc.cn || ok != tc.ok {
			t.Errorf("%s: %q %v; want %q %v", tc.name, cn, ok, tc.cn, tc.ok)
		}
	}
}

// A delivery client verifies a receiver whose certificate a private CA
// issued with RootCAs of that CA's file, and not without it.
func TestRootCAs_VerifiesPrivateCA(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	srv := serve(t, newServerConfig(t, ca, ""), http.HandlerFunc(writeProto))
	pool, err := tlsconf.RootCAs(ca.CertFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, srv.addr, &tls.Config{RootCAs: pool}); err != nil {
		t.Fatalf("with RootCAs of the CA file: %v", err)
	}
	// The default client: the system roots.
	_, err = handshake(t, srv.addr, &tls.Config{})
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
		t.Fatalf("with the system roots: %v; want an x509.UnknownAuthorityError", err)
	}
	// Through HTTP, as a delivery posts.
	if _, _, err := get(t, newClient(t, &tls.Config{RootCAs: pool}, true), srv.url); err != nil {
		t.Fatalf("GET with RootCAs of the CA file: %v", err)
	}
}

// RootCAs adds the file's certificates to the system roots.
func TestRootCAs_SystemPlusFile(t *testing.T) {
	system, err := x509.SystemCertPool()
	if err != nil {
		t.Skipf("no system roots: %v", err)
	}
	got, err := tlsconf.RootCAs("")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(system) {
		t.Error(`RootCAs("") is not the system pool`)
	}
	ca := tlsconftest.NewCA(t)
	got, err = tlsconf.RootCAs(ca.CertFile(t))
	if err != nil {
		t.Fatal(err)
	}
	system.AddCert(ca.Certificate())
	if !got.Equal(system) {
		t.Error("RootCAs(caFile) is not the system pool plus the CA")
	}
}

func TestRootCAs_Errors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	if _, err := tlsconf.RootCAs(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("# no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconf.RootCAs(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("file without a certificate: %v", err)
	}
}

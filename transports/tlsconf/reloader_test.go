package tlsconf_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/transports/tlsconf"
	"github.com/herald-eventing/herald/transports/tlsconf/tlsconftest"
)

// rotated stamps rewritten files with the time of clk, as if written then.
// Two writes in a row may otherwise share a modification time (Linux stamps
// files with a coarse clock) and a renewed key has the size of the old one;
// real renewals are minutes apart. Each test rotates at distinct times of
// clk.
func rotated(t *testing.T, clk *clock, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := os.Chtimes(f, clk.Now(), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// current is the Common Name of the certificate r serves now.
func current(t *testing.T, r *tlsconf.Reloader) string {
	t.Helper()
	cert, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return cert.Leaf.Subject.CommonName
}

// The server presents a renewed certificate at the first handshake after
// the check interval, without a restart; a half-written file changes
// nothing and is reported once.
func TestReloader_RotationOverTLS(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.WriteFiles(t, dir, "server", "cert-a", nil, tlsconftest.Loopback())
	clk := newClock()
	logger, logs := newLogger()
	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsconf.ServerConfig(r, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, cfg, nil)
	client := func() *tls.Config { return &tls.Config{RootCAs: ca.Pool()} }
	stateA, err := handshake(t, srv.addr, client())
	if err != nil {
		t.Fatal(err)
	}
	if cn := stateA.PeerCertificates[0].Subject.CommonName; cn != "cert-a" {
		t.Fatalf("presented %q; want cert-a", cn)
	}

	// Rotation caught half-way: the new certificate is half written.
	certB, keyB := ca.Issue(t, "cert-b", nil, tlsconftest.Loopback())
	if err := os.WriteFile(certFile, certB[:len(certB)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	rotated(t, clk, certFile)
	for range 3 {
		clk.Advance(tlsconf.DefaultCheckInterval)
		if cn := presented(t, srv.addr, client()); cn != "cert-a" {
			t.Fatalf("with a half-written certificate file, presented %q; want cert-a", cn)
		}
	}
	if n := logs.count("level=WARN"); n != 1 {
		t.Fatalf("%d warnings for one failure; want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), certFile) {
		t.Fatalf("warning does not name %s:\n%s", certFile, logs)
	}

	// The rotation completes, and the clock has not yet reached the next
	// check: still A.
	if err := os.WriteFile(certFile, certB, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyB, 0o600); err != nil {
		t.Fatal(err)
	}
	rotated(t, clk, certFile, keyFile)
	clk.Advance(tlsconf.DefaultCheckInterval - time.Nanosecond)
	if cn := presented(t, srv.addr, client()); cn != "cert-a" {
		t.Fatalf("before the check interval passed, presented %q; want cert-a", cn)
	}
	clk.Advance(time.Nanosecond)
	stateB, err := handshake(t, srv.addr, client())
	if err != nil {
		t.Fatal(err)
	}
	a, b := stateA.PeerCertificates[0], stateB.PeerCertificates[0]
	if b.Subject.CommonName != "cert-b" || b.SerialNumber.Cmp(a.SerialNumber) == 0 {
		t.Fatalf("after the rotation, presented %q serial %x (A's serial %x); want cert-b", b.Subject.CommonName, b.SerialNumber, a.SerialNumber)
	}
	if n := logs.count("level=WARN"); n != 1 {
		t.Fatalf("%d warnings; want still 1:\n%s", n, logs)
	}
	if n := logs.count("level=INFO"); n != 1 {
		t.Fatalf("%d reload notes; want 1:\n%s", n, logs)
	}
}

// Between checks, GetCertificate does not look at the files: removing them
// goes unnoticed until the interval passes, and then is reported once.
func TestReloader_ChecksOncePerInterval(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	certFile, keyFile := ca.WriteFiles(t, t.TempDir(), "server", "cert-a", []string{"localhost"}, nil)
	clk := newClock()
	logger, logs := newLogger()
	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{CheckInterval: time.Minute, Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if cn := current(t, r); cn != "cert-a" {
			t.Fatalf("serving %q; want cert-a", cn)
		}
		clk.Advance(59 * time.Second / 5)
	}
	if s := logs.String(); s != "" {
		t.Fatalf("files looked at before the interval passed:\n%s", s)
	}
	clk.Advance(time.Minute)
	for range 3 {
		if cn := current(t, r); cn != "cert-a" {
			t.Fatalf("with the key file gone, serving %q; want cert-a", cn)
		}
		clk.Advance(time.Minute)
	}
	if n := logs.count("level=WARN"); n != 1 || !strings.Contains(logs.String(), keyFile) {
		t.Fatalf("want one warning naming %s:\n%s", keyFile, logs)
	}
}

// A certificate rewritten before its key is a mismatched pair: the old one
// is served until the key follows; each distinct failure is reported.
func TestReloader_CertificateBeforeKey(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.WriteFiles(t, dir, "server", "cert-a", []string{"localhost"}, nil)
	clk := newClock()
	logger, logs := newLogger()
	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	certB, keyB := ca.Issue(t, "cert-b", []string{"localhost"}, nil)
	if err := os.WriteFile(certFile, certB, 0o600); err != nil {
		t.Fatal(err)
	}
	rotated(t, clk, certFile)
	clk.Advance(time.Second)
	if cn := current(t, r); cn != "cert-a" {
		t.Fatalf("with a mismatched pair, serving %q; want cert-a", cn)
	}
	// The key file is rewritten with garbage: another failure.
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nMIGH"), 0o600); err != nil {
		t.Fatal(err)
	}
	rotated(t, clk, keyFile)
	clk.Advance(time.Second)
	if cn := current(t, r); cn != "cert-a" {
		t.Fatalf("with a garbage key, serving %q; want cert-a", cn)
	}
	if n := logs.count("level=WARN"); n != 2 {
		t.Fatalf("%d warnings for two failures; want 2:\n%s", n, logs)
	}
	if err := os.WriteFile(keyFile, keyB, 0o600); err != nil {
		t.Fatal(err)
	}
	rotated(t, clk, keyFile)
	clk.Advance(time.Second)
	if cn := current(t, r); cn != "cert-b" {
		t.Fatalf("after the key followed, serving %q; want cert-b", cn)
	}
}

// Reload reads the files at once; a failed Reload keeps the certificate
// and is not logged again by the next check.
func TestReloader_Reload(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.WriteFiles(t, dir, "server", "cert-a", []string{"localhost"}, nil)
	clk := newClock()
	logger, logs := newLogger()
	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ca.WriteFiles(t, dir, "server", "cert-b", []string{"localhost"}, nil)
	// No rotated: Reload does not depend on the files' stamps.
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if cn := current(t, r); cn != "cert-b" {
		t.Fatalf("after Reload, serving %q; want cert-b", cn)
	}

	if err := os.WriteFile(certFile, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = r.Reload()
	if err == nil || !strings.Contains(err.Error(), certFile) {
		t.Fatalf("Reload of a garbage certificate: %v; want an error naming %s", err, certFile)
	}
	clk.Advance(time.Second)
	if cn := current(t, r); cn != "cert-b" {
		t.Fatalf("after a failed Reload, serving %q; want cert-b", cn)
	}
	if n := logs.count("level=WARN"); n != 0 {
		t.Fatalf("the failure Reload returned was logged too:\n%s", logs)
	}
}

func TestNewReloader_Errors(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.WriteFiles(t, dir, "good", "good", []string{"localhost"}, nil)
	otherCert, _ := ca.WriteFiles(t, dir, "other", "other", []string{"localhost"}, nil)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name, cert, key string
		want            []string // in the error
	}{
		{"missing certificate", missing, keyFile, []string{missing}},
		{"missing key", certFile, missing, []string{missing}},
		{"garbage certificate", garbage, keyFile, []string{garbage, "no PEM certificate"}},
		{"garbage key", certFile, garbage, []string{garbage}},
		{"mismatched pair", otherCert, keyFile, []string{otherCert, keyFile, "does not match"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tlsconf.NewReloader(tc.cert, tc.key, tlsconf.ReloaderOptions{})
			if err == nil {
				t.Fatalf("no error; got %v", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not hold %q", err, w)
				}
			}
		})
	}
	if _, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{CheckInterval: -time.Second}); err == nil {
		t.Error("negative check interval accepted")
	}
}

// One file may hold both the certificate and its key.
func TestNewReloader_CombinedFile(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	certPEM, keyPEM := ca.Issue(t, "combined", []string{"localhost"}, nil)
	file := filepath.Join(t.TempDir(), "combined.pem")
	if err := os.WriteFile(file, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := tlsconf.NewReloader(file, file, tlsconf.ReloaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cn := current(t, r); cn != "combined" {
		t.Fatalf("serving %q; want combined", cn)
	}
}

// Handshakes and their checks race rotations and Reloads (for -race).
func TestReloader_Concurrent(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.WriteFiles(t, dir, "server", "cert-0", []string{"localhost"}, nil)
	clk := newClock()
	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cert, err := r.GetCertificate(&tls.ClientHelloInfo{})
				if err != nil || cert == nil || !strings.HasPrefix(cert.Leaf.Subject.CommonName, "cert-") {
					t.Errorf("GetCertificate: %v, %v", cert, err)
					return
				}
			}
		})
	}
	for i := range 20 {
		ca.WriteFiles(t, dir, "server", "cert-"+string(rune('a'+i)), []string{"localhost"}, nil)
		rotated(t, clk, certFile, keyFile)
		clk.Advance(time.Second)
		if i%5 == 0 {
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	clk.Advance(time.Second)
	if cn := current(t, r); cn != "cert-t" {
		t.Fatalf("serving %q; want cert-t, the last", cn)
	}
}

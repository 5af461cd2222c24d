// Package tlsconf is Herald's TLS: the server's configuration, with a
// certificate that is reloaded when its files are renewed and optional
// client certificates, and the roots that outgoing deliveries verify
// servers against.
//
// A server serves HTTP/2 and HTTP/1.1 over TLS 1.2 or later:
//
//	r, err := tlsconf.NewReloader(certFile, keyFile, tlsconf.ReloaderOptions{Logger: logger})
//	cfg, err := tlsconf.ServerConfig(r, clientCAFile)
//	srv := &http.Server{Handler: h, TLSConfig: cfg}
//	err = srv.ServeTLS(ln, "", "")
//
// With a client CA file, a client may present a certificate; if it does,
// the certificate must verify against that CA, and ClientSubject gives its
// Common Name, which Herald maps to a principal. A client without a
// certificate still connects and authenticates as before (by key).
//
// Deliveries verify the servers they post to against RootCAs: the system
// roots plus the private ones of --delivery-ca-file.
//
// Package tlsconftest makes a test CA and the certificates it issues.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ServerConfig returns the TLS configuration of a server that presents r's
// certificate: TLS 1.2 or later, ALPN h2 then http/1.1 (so that net/http
// serves HTTP/2). When clientCAFile is not empty, the server asks for a
// client certificate and, when one is given, verifies it against the PEM
// certificates in clientCAFile (tls.VerifyClientCertIfGiven): a client
// without a certificate is still served.
func ServerConfig(r *Reloader, clientCAFile string) (*tls.Config, error) {
	if r == nil {
		return nil, errors.New("tlsconf.ServerConfig: nil Reloader")
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if clientCAFile != "" {
		pool := x509.NewCertPool()
		if err := appendFile(pool, clientCAFile); err != nil {
			return nil, fmt.Errorf("client CA file: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// ClientSubject returns the Common Name of the subject of the client
// certificate that the server verified on the connection described by
// state (an http.Request's TLS). It returns false when state is nil, when
// no certificate was verified (none was given, or the server does not ask
// for one), or when the certificate has no Common Name.
func ClientSubject(state *tls.ConnectionState) (string, bool) {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return "", false
	}
	cn := state.VerifiedChains[0][0].Subject.CommonName
	return cn, cn != ""
}

// RootCAs returns the roots that outgoing connections verify servers
// against: the system roots plus the PEM certificates in caFile, for
// receivers whose certificates a private CA issued. An empty caFile gives
// the system roots alone. A caFile without a certificate is an error. When
// the system has no roots to load (a minimal container), the pool holds
// caFile's certificates alone; with an empty caFile that is an error.
func RootCAs(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if caFile == "" {
		if err != nil {
			return nil, fmt.Errorf("system root certificates: %w", err)
		}
		return pool, nil
	}
	if err != nil {
		pool = x509.NewCertPool()
	}
	if err := appendFile(pool, caFile); err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	return pool, nil
}

// appendFile adds the PEM certificates in file to pool.
func appendFile(pool *x509.CertPool, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	return nil
}

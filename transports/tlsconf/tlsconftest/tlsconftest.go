// Package tlsconftest makes an in-memory certificate authority for tests
// and the server and client certificates it issues, as PEM, as files or as
// a tls.Certificate. Keys are ECDSA P-256; certificates are valid from an
// hour ago for a day.
package tlsconftest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A CA is a test certificate authority: a self-signed root and its key.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// NewCA makes a CA whose Common Name is "Herald tlsconftest CA " followed
// by its serial number in hex, so that two CAs differ.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	serial := newSerial(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Herald tlsconftest CA " + serial.Text(16)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Certificate returns the CA's root certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA's root certificate in PEM.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a new pool that holds the CA's root alone.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// CertFile writes the CA's root in PEM to a file in a new t.TempDir and
// returns its path.
func (ca *CA) CertFile(t testing.TB) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(file, ca.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// Issue makes a certificate for commonName, dnsNames and ips, signed by
// the CA and good for both server and client authentication, with a new
// key and a random serial number. It returns the certificate and the key
// (PKCS #8) in PEM.
func (ca *CA) Issue(t testing.TB, commonName string, dnsNames []string, ips []net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     dnsNames,
		IPAddresses:  ips,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

// KeyPair issues a certificate as Issue does and returns it with its key as
// a tls.Certificate, for a client to present (tls.Config.Certificates).
func (ca *CA) KeyPair(t testing.TB, commonName string, dnsNames []string, ips []net.IP) tls.Certificate {
	t.Helper()
	certPEM, keyPEM := ca.Issue(t, commonName, dnsNames, ips)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// WriteFiles issues a certificate as Issue does and writes it and its key
// to dir/name.crt and dir/name.key, replacing files already there (as a
// certificate renewal does), and returns their paths.
func (ca *CA) WriteFiles(t testing.TB, dir, name, commonName string, dnsNames []string, ips []net.IP) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM := ca.Issue(t, commonName, dnsNames, ips)
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Loopback returns the loopback addresses 127.0.0.1 and ::1, the IP
// addresses of a certificate for a test server.
func Loopback() []net.IP {
	return []net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP("::1")}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return serial.Add(serial, big.NewInt(1)) // positive, as RFC 5280 asks
}

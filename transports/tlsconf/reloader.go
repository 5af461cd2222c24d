package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckInterval is how often a Reloader looks at its files when
// ReloaderOptions.CheckInterval is zero.
const DefaultCheckInterval = time.Second

// ReloaderOptions tunes a Reloader. The zero value is ready to use.
type ReloaderOptions struct {
	// CheckInterval is the least time between two looks at the files from
	// GetCertificate; zero means DefaultCheckInterval. It must not be
	// negative.
	CheckInterval time.Duration
	// Now is the clock that paces the checks; nil means time.Now.
	Now func() time.Time
	// Logger receives a warning for each distinct reload failure and a
	// note for each reload; nil discards them.
	Logger *slog.Logger
}

// A Reloader holds a server's certificate and key and reloads them when
// their files change, so that a certificate renewed on disk (by certbot,
// cert-manager, …) is served without a restart. It is safe for concurrent
// use.
//
// GetCertificate checks the files' modification times and sizes at most
// once per CheckInterval and reloads the pair when either file differs from
// what was loaded. A pair that fails to load (one file rewritten but not
// yet the other, a half-written file) leaves the current certificate in
// service; the failure is logged and the files are tried again at the next
// check. A file rewritten at its old size within the file system's
// timestamp granularity (a few milliseconds) of the previous write looks
// unchanged; Reload reads the files regardless.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	logger            *slog.Logger

	cert atomic.Pointer[tls.Certificate]
	// next is when GetCertificate looks at the files again.
	next atomic.Pointer[time.Time]

	// mu serialises looking at the files and loading them; it guards the
	// fields below. GetCertificate never waits for it.
	mu      sync.Mutex
	loaded  stamp   // the files as they were when cert was read
	failure failure // the last failure reported, zero after a success
}

// A stamp is what a check compares: both files' modification times (in
// nanoseconds since the Unix epoch) and sizes.
type stamp struct {
	certMod, certSize int64
	keyMod, keySize   int64
}

// A failure identifies a reload failure so that it is logged once: the same
// error on the same files is not logged again.
type failure struct {
	files stamp
	err   string
}

// NewReloader loads the PEM certificate chain in certFile and its private
// key in keyFile (which may be the same file) and returns a Reloader that
// serves them. The error names the file at fault.
func NewReloader(certFile, keyFile string, opts ReloaderOptions) (*Reloader, error) {
	if opts.CheckInterval < 0 {
		return nil, fmt.Errorf("TLS certificate check interval %v is negative", opts.CheckInterval)
	}
	r := &Reloader{
		certFile: certFile,
		keyFile:  keyFile,
		interval: opts.CheckInterval,
		now:      opts.Now,
		logger:   opts.Logger,
	}
	if r.interval == 0 {
		r.interval = DefaultCheckInterval
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	st, err := r.stat()
	if err == nil {
		err = r.load(st)
	}
	if err != nil {
		return nil, err
	}
	r.schedule(r.now())
	return r, nil
}

// GetCertificate returns the current certificate, first reloading it if a
// check is due and the files changed; it is meant for
// tls.Config.GetCertificate. It never fails: a pair that does not load
// keeps the current certificate (see Reloader). When another handshake or
// Reload is already looking at the files, it returns the current
// certificate without waiting.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := r.now()
	if now.Before(*r.next.Load()) || !r.mu.TryLock() {
		return r.cert.Load(), nil
	}
	defer r.mu.Unlock()
	// Another handshake may have checked between the two looks at next.
	if !now.Before(*r.next.Load()) {
		r.check(now)
	}
	return r.cert.Load(), nil
}

// Reload reads the files now, whether or not they changed, as on SIGHUP.
// On failure the current certificate stays in service and the error, which
// names the file at fault, is returned (and not logged).
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.stat()
	if err == nil {
		err = r.load(st)
	}
	if err != nil {
		// A check that meets the same failure need not log it.
		r.failure = failure{st, err.Error()}
		return err
	}
	r.logLoaded("TLS certificate reloaded")
	r.schedule(r.now())
	return nil
}

// check reloads the pair if the files changed since it was loaded. r.mu is
// held.
func (r *Reloader) check(now time.Time) {
	r.schedule(now)
	st, err := r.stat()
	if err == nil {
		if st == r.loaded {
			return
		}
		err = r.load(st)
	}
	if err != nil {
		if f := (failure{st, err.Error()}); f != r.failure {
			r.failure = f
			r.logger.Warn("TLS certificate not reloaded; still serving the previous one",
				slog.String("cert_file", r.certFile), slog.String("key_file", r.keyFile), slog.Any("err", err))
		}
		return
	}
	r.logLoaded("TLS certificate files changed; reloaded")
}

// schedule sets the next check one interval after now.
func (r *Reloader) schedule(now time.Time) {
	next := now.Add(r.interval)
	r.next.Store(&next)
}

// stat returns the files' stamp.
func (r *Reloader) stat() (stamp, error) {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{c.ModTime().UnixNano(), c.Size(), k.ModTime().UnixNano(), k.Size()}, nil
}

// load reads and parses the pair and, when it is good, serves it. st was
// taken before reading, so a file changed while being read shows as a
// change at the next check. r.mu is held, or r is not yet shared.
func (r *Reloader) load(st stamp) error {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return err
	}
	if !hasCertificate(certPEM) {
		return fmt.Errorf("TLS certificate file %s holds no PEM certificate", r.certFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("TLS key pair %s, %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil {
		// X509KeyPair fills Leaf unless GODEBUG x509keypairleaf=0.
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("TLS certificate file %s: %w", r.certFile, err)
		}
	}
	r.cert.Store(&cert)
	r.loaded = st
	r.failure = failure{}
	return nil
}

// logLoaded notes the certificate now served.
func (r *Reloader) logLoaded(msg string) {
	leaf := r.cert.Load().Leaf
	r.logger.Info(msg, slog.String("cert_file", r.certFile),
		slog.String("subject", leaf.Subject.CommonName), slog.String("serial", leaf.SerialNumber.Text(16)),
		slog.Time("not_after", leaf.NotAfter))
}

// hasCertificate reports whether data holds a PEM CERTIFICATE block.
func hasCertificate(data []byte) bool {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" {
			return true
		}
	}
}

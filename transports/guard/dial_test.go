package guard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// loopbackOnly keeps a test's dials on this machine: any address the guard
// lets through that is not loopback fails the test instead of leaving.
func loopbackOnly(t *testing.T, g *Guard) *Guard {
	g.beforeDial = func(network, address string) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			t.Errorf("the guard let a dial to %s %s through; tests dial loopback only", network, address)
			return errors.New("not a loopback address")
		}
		return nil
	}
	return g
}

// server is a real HTTP server on 127.0.0.1 that counts its requests.
func server(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "delivered")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func client(g *Guard) *http.Client {
	tr := g.Transport()
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) error {
	t.Helper()
	t.Cleanup(c.CloseIdleConnections)
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "delivered" {
		t.Fatalf("GET %s: %d %q", u, resp.StatusCode, b)
	}
	return nil
}

func wantDenied(t *testing.T, err error, reason string) *DeniedError {
	t.Helper()
	var de *DeniedError
	if !errors.As(err, &de) {
		t.Fatalf("error %v, want a *DeniedError", err)
	}
	if de.Reason != reason {
		t.Fatalf("reason %q, want %q (%v)", de.Reason, reason, err)
	}
	return de
}

func TestTransportLoopbackServer(t *testing.T) {
	srv, hits := server(t)

	denied := loopbackOnly(t, New(Options{Lookup: noLookup(t)}))
	err := get(t, client(denied), srv.URL+"/notify?token=hunter2")
	wantDenied(t, err, ReasonLoopback)
	// http.Client's *url.Error quotes the URL (httpsend strips it); what
	// the guard says does not.
	var op *net.OpError
	if !errors.As(err, &op) || strings.Contains(op.Error(), "hunter2") || strings.Contains(op.Error(), "notify") {
		t.Errorf("the dial error is %v", op)
	}
	if hits.Load() != 0 {
		t.Fatalf("the server got %d requests", hits.Load())
	}

	allowed := loopbackOnly(t, New(Options{Allow: prefixes(t, "127.0.0.0/8"), Lookup: noLookup(t)}))
	if err := get(t, client(allowed), srv.URL+"/notify"); err != nil {
		t.Fatalf("with 127.0.0.0/8 allowed: %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("the server got %d requests, want 1", hits.Load())
	}
}

func TestTransportSettings(t *testing.T) {
	tr := New(Options{}).Transport()
	if tr.Proxy != nil {
		t.Error("Transport has a proxy")
	}
	if tr.DialContext == nil || tr.MaxIdleConns != 4096 || tr.MaxIdleConnsPerHost != 1024 {
		t.Errorf("Transport: dial %v, idle %d, per host %d", tr.DialContext != nil, tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	}
	if tr == http.DefaultTransport {
		t.Error("Transport is http.DefaultTransport itself")
	}
}

// The environment's proxy is not used: with HTTP_PROXY pointing at a
// server that would answer for any host, the guard still refuses.
func TestTransportIgnoresEnvironmentProxy(t *testing.T) {
	proxy, proxied := server(t)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	g := loopbackOnly(t, New(Options{Lookup: noLookup(t)}))
	err := get(t, client(g), "http://169.254.169.254/latest/meta-data/")
	wantDenied(t, err, ReasonLinkLocal)
	if proxied.Load() != 0 {
		t.Fatal("the request went through the environment's proxy")
	}
}

func TestDialSpellings(t *testing.T) {
	srv, _ := server(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ctx := context.Background()

	g := loopbackOnly(t, New(Options{Lookup: noLookup(t)}))
	for _, host := range []string{"127.0.0.1", "0x7f000001", "2130706433", "127.1", "0177.0.0.1", "127.0.0.1.", "::ffff:127.0.0.1", "localhost", "LocalHost.", "１２７.０.０.１"} {
		_, err := g.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		wantDenied(t, err, ReasonLoopback)
	}
	_, err := g.DialContext(ctx, "tcp", ":"+port)
	wantDenied(t, err, ReasonUnspecified)
	_, err = g.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.256", port))
	wantDenied(t, err, ReasonBadHost)
	_, err = g.DialContext(ctx, "unix", "/run/docker.sock")
	wantDenied(t, err, ReasonNetwork)

	// Allowed, every spelling reaches the server at 127.0.0.1.
	a := loopbackOnly(t, New(Options{Allow: prefixes(t, "127.0.0.0/8"), Lookup: noLookup(t)}))
	for _, host := range []string{"0x7f000001", "127.1", "127.0.0.1.", "::ffff:127.0.0.1", "localhost"} {
		c, err := a.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		if err != nil {
			t.Fatalf("dial %s: %v", host, err)
		}
		if got := c.RemoteAddr().String(); got != srv.Listener.Addr().String() {
			t.Errorf("dial %s reached %s", host, got)
		}
		c.Close()
	}
	// localhost is 127.0.0.1 then ::1; on tcp6 only ::1 is left, and it is denied.
	_, err = a.DialContext(ctx, "tcp6", net.JoinHostPort("localhost", port))
	wantDenied(t, err, ReasonLoopback)
	_, err = a.DialContext(ctx, "tcp6", net.JoinHostPort("127.0.0.1", port))
	wantDenied(t, err, ReasonNoAddress)
}

func TestDialOrder(t *testing.T) {
	srv, _ := server(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// Nothing listens on 127.0.0.2 at the server's port: the guard dials
	// it, is refused, and goes on to 127.0.0.1. 10.0.0.5 is skipped, not
	// dialed (loopbackOnly would fail the test).
	dns := &fakeDNS{table: map[string][]string{
		"multi.test":  {"10.0.0.5", "127.0.0.2", "127.0.0.1"},
		"denied.test": {"10.0.0.5", "169.254.169.254"},
	}}
	g := loopbackOnly(t, New(Options{Allow: prefixes(t, "127.0.0.0/8"), Lookup: dns.lookup}))
	c, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort("multi.test", port))
	if err != nil {
		t.Fatalf("dial multi.test: %v", err)
	}
	c.Close()

	_, err = g.DialContext(context.Background(), "tcp", net.JoinHostPort("denied.test", port))
	de := wantDenied(t, err, ReasonPrivate)
	if de.Host != "denied.test" || de.Addr != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("denial %+v", de)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("error %T %v, want a *net.OpError", err, err)
	}

	_, err = g.DialContext(context.Background(), "tcp", net.JoinHostPort("nxdomain.test", port))
	if err == nil || IsDenied(err) {
		t.Errorf("dial of a name that does not resolve: %v", err)
	}
}

// Control on a dialer of one's own refuses the connection by the address
// the socket connects to.
func TestControl(t *testing.T) {
	srv, _ := server(t)
	addr := srv.Listener.Addr().String()
	ctx := context.Background()

	d := net.Dialer{Control: New(Options{}).Control}
	_, err := d.DialContext(ctx, "tcp", addr)
	wantDenied(t, err, ReasonLoopback)

	d = net.Dialer{Control: New(Options{Allow: prefixes(t, "127.0.0.0/8")}).Control}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	c.Close()

	err = New(Options{}).Control("tcp", "not an address", nil)
	wantDenied(t, err, ReasonBadHost)
}

// The dial-time check of DialContext and Control catches what an earlier
// CheckURL could not: the name now resolves elsewhere.
func TestDNSRebindingLookup(t *testing.T) {
	srv, hits := server(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	var calls atomic.Int32
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host != "rebind.test" {
			return nil, errors.New("no such host")
		}
		if calls.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	g := loopbackOnly(t, New(Options{Lookup: lookup}))
	u := "http://rebind.test:" + port + "/notify"
	if err := g.CheckURL(context.Background(), u); err != nil {
		t.Fatalf("CheckURL while the name is public: %v", err)
	}
	err := get(t, client(g), u)
	de := wantDenied(t, err, ReasonLoopback)
	if de.Host != "rebind.test" || de.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("denial %+v", de)
	}
	if calls.Load() != 2 || hits.Load() != 0 {
		t.Fatalf("lookups %d, requests served %d", calls.Load(), hits.Load())
	}
}

// dnsStub is a minimal DNS server on 127.0.0.1 answering A queries from
// answer (n counts the A queries for that name, from 1); AAAA and others
// get an empty answer.
type dnsStub struct {
	addr    string
	mu      sync.Mutex
	queries map[string]int
}

func startDNSStub(t *testing.T, answer func(name string, n int) (netip.Addr, bool)) *dnsStub {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsStub{addr: pc.LocalAddr().String(), queries: map[string]int{}}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, ok := s.reply(buf[:n], answer); ok {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return s
}

func (s *dnsStub) reply(msg []byte, answer func(string, int) (netip.Addr, bool)) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := strings.ToLower(q.Name.String())
	rcode := dnsmessage.RCodeSuccess
	var a netip.Addr
	if q.Type == dnsmessage.TypeA {
		s.mu.Lock()
		s.queries[name]++
		n := s.queries[name]
		s.mu.Unlock()
		var ok bool
		if a, ok = answer(name, n); !ok {
			rcode = dnsmessage.RCodeNameError
		}
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: rcode,
	})
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if a.IsValid() {
		hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
		if b.AResource(hdr, dnsmessage.AResource{A: a.As4()}) != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

func (s *dnsStub) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[name]
}

// resolver is Go's own resolver sending every query to the stub.
func (s *dnsStub) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			if !strings.HasPrefix(network, "udp") {
				return nil, errors.New("the stub answers on UDP only")
			}
			var d net.Dialer
			return d.DialContext(ctx, "udp", s.addr)
		},
	}
}

// The same rebinding through a real resolver talking DNS to a stub server.
func TestDNSRebindingRealResolver(t *testing.T) {
	srv, hits := server(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	// Trailing dots keep the resolver from trying the search domains.
	const rebind, local = "rebind.herald.test.", "local.herald.test."
	stub := startDNSStub(t, func(name string, n int) (netip.Addr, bool) {
		switch {
		case name == rebind && n == 1:
			return netip.MustParseAddr("93.184.216.34"), true
		case name == rebind, name == local:
			return netip.MustParseAddr("127.0.0.1"), true
		}
		return netip.Addr{}, false
	})
	r := stub.resolver()
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		return r.LookupNetIP(ctx, "ip", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The stub works: with loopback allowed, a name it maps to 127.0.0.1
	// reaches the server.
	open := loopbackOnly(t, New(Options{Allow: prefixes(t, "127.0.0.0/8"), Lookup: lookup}))
	if err := get(t, client(open), "http://"+net.JoinHostPort(local, port)+"/"); err != nil {
		t.Fatalf("through the stub with loopback allowed: %v", err)
	}
	if stub.count(local) == 0 || hits.Load() != 1 {
		t.Fatalf("stub queries %d, requests %d", stub.count(local), hits.Load())
	}

	g := loopbackOnly(t, New(Options{Lookup: lookup}))
	u := "http://" + net.JoinHostPort(rebind, port) + "/notify"
	if err := g.CheckURL(ctx, u); err != nil {
		t.Fatalf("CheckURL while the name is public: %v", err)
	}
	err := get(t, client(g), u)
	de := wantDenied(t, err, ReasonLoopback)
	if de.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("denied %s, want 127.0.0.1", de.Addr)
	}
	if n := stub.count(rebind); n < 2 {
		t.Errorf("the stub saw %d A queries for %s, want 2", n, rebind)
	}
	if hits.Load() != 1 {
		t.Errorf("the server got a request through the rebound name")
	}

	// A name the stub does not know: CheckURL accepts it, the dial fails.
	if err := g.CheckURL(ctx, "http://nx.herald.test./"); err != nil {
		t.Errorf("CheckURL of an unknown name: %v", err)
	}
}

func TestNilGuardDials(t *testing.T) {
	srv, _ := server(t)
	var g *Guard
	if err := g.Control("tcp4", "127.0.0.1:80", nil); err != nil {
		t.Errorf("nil Control: %v", err)
	}
	if tr := g.Transport(); tr.Proxy == nil || tr.MaxIdleConnsPerHost != 1024 {
		t.Errorf("nil Transport: proxy %v, idle per host %d", tr.Proxy != nil, tr.MaxIdleConnsPerHost)
	}
	c, err := g.DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("nil DialContext: %v", err)
	}
	c.Close()
	tr := g.Transport()
	tr.Proxy = nil // the test's environment may have one
	if err := get(t, &http.Client{Transport: tr}, srv.URL); err != nil {
		t.Fatalf("nil Transport: %v", err)
	}
}

func TestDialContextCanceled(t *testing.T) {
	g := New(Options{Allow: prefixes(t, "127.0.0.0/8"), Lookup: noLookup(t)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.DialContext(ctx, "tcp", "127.0.0.1:1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a done context: %v", err)
	}
}

func TestShareDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, _ := ctx.Deadline()
	c, cancel2 := shareDeadline(ctx, 3)
	defer cancel2()
	got, _ := c.Deadline()
	if share := time.Until(got); share > 21*time.Second || share < 15*time.Second || !got.Before(d) {
		t.Errorf("a third of a minute is %v", share)
	}
	if c, _ := shareDeadline(ctx, 1); c != ctx {
		t.Error("the last attempt should have all that is left")
	}
}

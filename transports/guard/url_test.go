package guard

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
)

// literalURLs are URLs whose host is an IP address in some spelling, with
// the address it means. CheckURL must deny them all without a lookup.
var literalURLs = []struct{ url, addr, reason string }{
	{"http://127.0.0.1/", "127.0.0.1", ReasonLoopback},
	{"http://127.0.0.1:8080/path?q=secret#frag", "127.0.0.1", ReasonLoopback},
	{"https://127.1/", "127.0.0.1", ReasonLoopback},
	{"http://127.0.1/", "127.0.0.1", ReasonLoopback},
	{"http://2130706433/", "127.0.0.1", ReasonLoopback},
	{"http://0x7f000001/", "127.0.0.1", ReasonLoopback},
	{"http://0X7F000001/", "127.0.0.1", ReasonLoopback},
	{"http://0x7f.0x0.0x0.0x1/", "127.0.0.1", ReasonLoopback},
	{"http://0x7f.1/", "127.0.0.1", ReasonLoopback},
	{"http://0177.0.0.1/", "127.0.0.1", ReasonLoopback},
	{"http://0177.1/", "127.0.0.1", ReasonLoopback},
	{"http://017700000001/", "127.0.0.1", ReasonLoopback},
	{"http://0x00000000007f000001/", "127.0.0.1", ReasonLoopback},
	{"http://127.0.0.1./", "127.0.0.1", ReasonLoopback},
	{"http://2130706433./", "127.0.0.1", ReasonLoopback},
	{"http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", ReasonLoopback},
	{"http://[::ffff:7f00:1]/", "::ffff:127.0.0.1", ReasonLoopback},
	{"http://[::1]/", "::1", ReasonLoopback},
	{"http://[::1]:8080/", "::1", ReasonLoopback},
	{"http://[0:0:0:0:0:0:0:1]/", "::1", ReasonLoopback},
	{"http://[0000:0000:0000:0000:0000:0000:0000:0001]/", "::1", ReasonLoopback},
	{"http://[::1%25lo]/", "::1%lo", ReasonLoopback},
	{"http://[fe80::1%25eth0]:80/", "fe80::1%eth0", ReasonLinkLocal},
	{"http://[::127.0.0.1]/", "::127.0.0.1", ReasonLoopback},
	{"http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1", ReasonLoopback},
	{"http://[2002:7f00:1::]/", "2002:7f00:1::", ReasonLoopback},
	{"http://0.0.0.0/", "0.0.0.0", ReasonUnspecified},
	{"http://0/", "0.0.0.0", ReasonUnspecified},
	{"http://0x/", "0.0.0.0", ReasonUnspecified},
	{"http://0.0/", "0.0.0.0", ReasonUnspecified},
	{"http://[::]/", "::", ReasonUnspecified},
	{"http://10.0.0.1/", "10.0.0.1", ReasonPrivate},
	{"http://012.0.0.1/", "10.0.0.1", ReasonPrivate},
	{"http://167772161/", "10.0.0.1", ReasonPrivate},
	{"http://192.168.257/", "192.168.1.1", ReasonPrivate},
	{"http://[fd00::1]/", "fd00::1", ReasonPrivate},
	{"http://169.254.169.254/latest/meta-data/", "169.254.169.254", ReasonLinkLocal},
	{"http://0xa9fea9fe/", "169.254.169.254", ReasonLinkLocal},
	{"http://0251.0376.0251.0376/", "169.254.169.254", ReasonLinkLocal},
	{"http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254", ReasonLinkLocal},
	{"http://224.0.0.1/", "224.0.0.1", ReasonMulticast},
	{"http://255.255.255.255/", "255.255.255.255", ReasonBroadcast},
	{"http://4294967295/", "255.255.255.255", ReasonBroadcast},
	{"http://100.64.0.1/", "100.64.0.1", ReasonShared},
	// Non-ASCII hosts as net/http dials them, after IDNA mapping.
	{"http://１２７.０.０.１/", "127.0.0.1", ReasonLoopback},
	{"http://１２７。０。０。１/", "127.0.0.1", ReasonLoopback},
	{"http://①②⑦.0.0.①/", "127.0.0.1", ReasonLoopback},
	{"http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1/", "127.0.0.1", ReasonLoopback},
}

func TestCheckURLLiterals(t *testing.T) {
	g := New(Options{Lookup: noLookup(t), LocalAddrs: noLocal})
	for _, c := range literalURLs {
		err := g.CheckURL(context.Background(), c.url)
		var de *DeniedError
		if !errors.As(err, &de) {
			t.Errorf("CheckURL(%q) = %v, want a *DeniedError", c.url, err)
			continue
		}
		if de.Reason != c.reason || de.Addr != netip.MustParseAddr(c.addr) {
			t.Errorf("CheckURL(%q): %s %s, want %s %s (%v)", c.url, de.Reason, de.Addr, c.reason, c.addr, err)
		}
	}
}

func TestCheckURLRefused(t *testing.T) {
	g := New(Options{Lookup: noLookup(t), LocalAddrs: noLocal})
	cases := []struct{ url, reason string }{
		{"http://localhost/", ReasonLoopback},
		{"http://localhost:8080/x", ReasonLoopback},
		{"http://LOCALHOST./", ReasonLoopback},
		{"http://foo.localhost/", ReasonLoopback},
		{"http://a.b.LocalHost./", ReasonLoopback},
		{"http://ｌｏｃａｌｈｏｓｔ/", ReasonLoopback},

		// Numeric hosts that are no address: never looked up.
		{"http://127.0.0.256/", ReasonBadHost},
		{"http://256.0.0.1/", ReasonBadHost},
		{"http://08.0.0.1/", ReasonBadHost},
		{"http://0x100000000/", ReasonBadHost},
		{"http://4294967296/", ReasonBadHost},
		{"http://1.2.3.4.5/", ReasonBadHost},
		{"http://example.0x10/", ReasonBadHost},
		{"http://example.123/", ReasonBadHost},
		{"http://1..1/", ReasonBadHost},
		{"http://127.0.0.1../", ReasonBadHost},
		{"http://.example/", ReasonBadHost},
		{"http://[::ffff:127.1]/", ReasonBadURL}, // url.Parse refuses it already

		{"ftp://93.184.216.34/", ReasonScheme},
		{"file:///etc/passwd", ReasonScheme},
		{"gopher://93.184.216.34:70/", ReasonScheme},
		{"javascript:alert(1)", ReasonScheme},
		{"//93.184.216.34/", ReasonScheme},
		{"93.184.216.34", ReasonScheme},
		{"http://user:pass@93.184.216.34/", ReasonUserinfo},
		{"http://user@93.184.216.34/", ReasonUserinfo},
		{"http://:@93.184.216.34/", ReasonUserinfo},
		{"http://@93.184.216.34/", ReasonUserinfo},
		{"http:///path", ReasonNoHost},
		{"http://:80/", ReasonNoHost},
		{"http:opaque", ReasonNoHost},
		{"http://[::1/", ReasonBadURL},
		{"http://a b/", ReasonBadURL},
		{"http://%31%32%37.0.0.1/", ReasonBadURL},
		{"http://93.184.216.34:port/", ReasonBadURL},
		{"http://127.0.0.1\\@93.184.216.34/", ReasonBadURL},
		{"http://93.184.216.34/\x7f", ReasonBadURL},
	}
	for _, c := range cases {
		err := g.CheckURL(context.Background(), c.url)
		var de *DeniedError
		if !errors.As(err, &de) || de.Reason != c.reason {
			t.Errorf("CheckURL(%q) = %v, want reason %q", c.url, err, c.reason)
		}
	}
}

func TestCheckURLAllowed(t *testing.T) {
	g := New(Options{Lookup: noLookup(t), LocalAddrs: noLocal})
	for _, u := range []string{
		"http://93.184.216.34/",
		"https://93.184.216.34:8443/notify?x=1#f",
		"HTTP://93.184.216.34/",
		"http://[2606:2800:220:1::]/",
		"http://[2606:2800:220:1::]:8080/x",
		"http://1572395042/",
		"http://0x5db8d822/",
		"http://93.184.216.34./",
		"http://[::ffff:93.184.216.34]/",
	} {
		if err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
}

func TestCheckURLAllowOverride(t *testing.T) {
	g := New(Options{Allow: prefixes(t, "127.0.0.2/32"), Lookup: noLookup(t), LocalAddrs: noLocal})
	ctx := context.Background()
	for _, u := range []string{"http://127.0.0.2/", "http://127.0.2/", "http://0x7f000002/", "http://[::ffff:127.0.0.2]/"} {
		if err := g.CheckURL(ctx, u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1/", "http://127.1/", "http://localhost/", "http://[::1]/"} {
		if err := g.CheckURL(ctx, u); err == nil {
			t.Errorf("CheckURL(%q) = nil, want a denial", u)
		}
	}

	// localhost is 127.0.0.1 and ::1: both must be allowed.
	both := New(Options{Allow: prefixes(t, "127.0.0.0/8", "::1/128"), Lookup: noLookup(t), LocalAddrs: noLocal})
	if err := both.CheckURL(ctx, "http://localhost:8080/"); err != nil {
		t.Errorf("localhost with loopback allowed: %v", err)
	}
	v4only := New(Options{Allow: prefixes(t, "127.0.0.0/8"), Lookup: noLookup(t), LocalAddrs: noLocal})
	var de *DeniedError
	if err := v4only.CheckURL(ctx, "http://localhost:8080/"); !errors.As(err, &de) || de.Addr != netip.IPv6Loopback() {
		t.Errorf("localhost with only 127.0.0.0/8 allowed = %v, want ::1 denied", err)
	}
}

// fakeDNS is a Lookup over a fixed table that records the names asked.
type fakeDNS struct {
	mu    sync.Mutex
	table map[string][]string
	asked []string
}

func (f *fakeDNS) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, host)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	as, ok := f.table[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURLNames(t *testing.T) {
	dns := &fakeDNS{table: map[string][]string{
		"public.example":        {"93.184.216.34", "2606:2800:220:1::"},
		"mapped.example":        {"::ffff:93.184.216.34"},
		"internal.example":      {"10.0.0.5"},
		"mixed.example":         {"93.184.216.34", "10.0.0.5"},
		"metadata.example":      {"169.254.169.254"},
		"rebind.example.":       {"127.0.0.1"},
		"empty.example":         {},
		"xn--bcher-kva.example": {"93.184.216.34"},
	}}
	g := New(Options{Lookup: dns.lookup, LocalAddrs: noLocal})
	ctx := context.Background()
	cases := []struct{ url, reason string }{
		{"http://public.example/", ""},
		{"http://mapped.example/", ""},
		{"http://internal.example/", ReasonPrivate},
		{"http://mixed.example/", ReasonPrivate},
		{"http://metadata.example/", ReasonLinkLocal},
		{"http://rebind.example./", ReasonLoopback},
		{"http://nxdomain.example/", ""}, // unresolvable: accepted
		{"http://empty.example/", ""},    // no addresses: as unresolvable
		{"http://bücher.example/", ""},
	}
	for _, c := range cases {
		err := g.CheckURL(ctx, c.url)
		var de *DeniedError
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", c.url, err)
		case c.reason != "" && (!errors.As(err, &de) || de.Reason != c.reason):
			t.Errorf("CheckURL(%q) = %v, want reason %q", c.url, err, c.reason)
		}
	}
	var de *DeniedError
	if err := g.CheckURL(ctx, "http://internal.example/x"); !errors.As(err, &de) ||
		err.Error() != "delivery target internal.example is a private address; Herald does not deliver there (see --allow-targets)" {
		t.Errorf("error text: %v", err)
	}
	if de.Host != "internal.example" || de.Addr.String() != "10.0.0.5" {
		t.Errorf("Host %q", de.Host)
	}

	dns.mu.Lock()
	asked := dns.asked
	dns.mu.Unlock()
	if !slices.Contains(asked, "xn--bcher-kva.example") || slices.Contains(asked, "bücher.example") {
		t.Errorf("names asked %q: want the ASCII form of bücher.example", asked)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.CheckURL(cctx, "http://public.example/"); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckURL with a done context = %v, want context.Canceled", err)
	}
}

func TestNilGuardChecks(t *testing.T) {
	var g *Guard
	if err := g.CheckURL(context.Background(), "http://127.0.0.1/"); err != nil {
		t.Errorf("nil CheckURL: %v", err)
	}
	if err := g.CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("nil CheckAddr: %v", err)
	}
}

func TestParseHost(t *testing.T) {
	cases := []struct {
		host string
		kind hostKind
		addr string // kindIP
		name string // kindName: what is looked up
	}{
		{"example.com", kindName, "", "example.com"},
		{"example.com.", kindName, "", "example.com."},
		{"Example.COM", kindName, "", "Example.COM"},
		{"127.0.0.0x1g", kindName, "", "127.0.0.0x1g"}, // ends in a label that is no number
		{"1.2.3.4x", kindName, "", "1.2.3.4x"},
		{"0x7f.example", kindName, "", "0x7f.example"},
		{"bücher.example", kindName, "", "xn--bcher-kva.example"},
		{"127.0.0.1", kindIP, "127.0.0.1", ""},
		{"0x7f000001", kindIP, "127.0.0.1", ""},
		{"0x7F.0X1", kindIP, "127.0.0.1", ""},
		{"0", kindIP, "0.0.0.0", ""},
		{"00", kindIP, "0.0.0.0", ""},
		{"1.2.3", kindIP, "1.2.0.3", ""},
		{"1.65536", kindIP, "1.1.0.0", ""},
		{"1.16777215", kindIP, "1.255.255.255", ""},
		{"255.255.65535", kindIP, "255.255.255.255", ""},
		{"::1", kindIP, "::1", ""},
		{"fe80::1%eth0", kindIP, "fe80::1%eth0", ""},
		{"localhost", kindLocalhost, "", ""},
		{"x.LOCALHOST.", kindLocalhost, "", ""},
		{"localhost.example", kindName, "", "localhost.example"},
		{"notlocalhost", kindName, "", "notlocalhost"},
		{"1.16777216", kindBad, "", ""},
		{"256.1", kindBad, "", ""},
		{"09", kindBad, "", ""},
		{"1.2.3.4.5", kindBad, "", ""},
		{"::ffff:127.1", kindBad, "", ""},
		{"1:2", kindBad, "", ""},
		{"", kindBad, "", ""},
		{".", kindBad, "", ""},
		{"a..b", kindBad, "", ""},
		{"a.b..", kindBad, "", ""},
		{"\u200d.example", kindBad, "", ""}, // IDNA refuses a lone joiner
	}
	for _, c := range cases {
		kind, addr, name := parseHost(c.host)
		if kind != c.kind || name != c.name || (c.kind == kindIP && addr != netip.MustParseAddr(c.addr)) {
			t.Errorf("parseHost(%q) = %d %s %q, want %d %s %q", c.host, kind, addr, name, c.kind, c.addr, c.name)
		}
	}
}

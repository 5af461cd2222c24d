package guard

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// noLookup fails the test if the guard asks to resolve a name.
func noLookup(t *testing.T) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		t.Errorf("Lookup(%q) called; the guard should not resolve this host", host)
		return nil, errors.New("no lookups in this test")
	}
}

func noLocal() ([]netip.Addr, error) { return nil, nil }

func prefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestCheckAddr(t *testing.T) {
	g := New(Options{Lookup: noLookup(t), LocalAddrs: noLocal})
	denied := []struct{ addr, reason, embedded string }{
		{"127.0.0.1", ReasonLoopback, ""},
		{"127.255.255.254", ReasonLoopback, ""},
		{"::1", ReasonLoopback, ""},
		{"::1%lo", ReasonLoopback, ""},
		{"10.1.2.3", ReasonPrivate, ""},
		{"172.16.0.1", ReasonPrivate, ""},
		{"172.31.255.255", ReasonPrivate, ""},
		{"192.168.1.1", ReasonPrivate, ""},
		{"fc00::1", ReasonPrivate, ""},
		{"fd12:3456::1", ReasonPrivate, ""},
		{"169.254.169.254", ReasonLinkLocal, ""},
		{"fe80::1", ReasonLinkLocal, ""},
		{"fe80::1%eth0", ReasonLinkLocal, ""},
		{"0.0.0.0", ReasonUnspecified, ""},
		{"::", ReasonUnspecified, ""},
		{"0.1.2.3", ReasonThisNetwork, ""},
		{"224.0.0.1", ReasonMulticast, ""},
		{"239.255.255.250", ReasonMulticast, ""},
		{"ff02::1", ReasonMulticast, ""},
		{"ff0e::1", ReasonMulticast, ""},
		{"255.255.255.255", ReasonBroadcast, ""},
		{"100.64.0.1", ReasonShared, ""},
		{"100.127.255.255", ReasonShared, ""},
		{"240.0.0.1", ReasonReserved, ""},
		{"198.18.0.1", ReasonBenchmarking, ""},
		{"192.0.0.170", ReasonSpecialPurpose, ""},
		{"192.0.2.1", ReasonDocumentation, ""},
		{"2001:db8::1", ReasonDocumentation, ""},
		{"fec0::1", ReasonSiteLocal, ""},
		{"64:ff9b:1::a00:1", ReasonNAT64LocalUse, ""},
		// IPv4-mapped: judged as the IPv4 address, reported as given.
		{"::ffff:127.0.0.1", ReasonLoopback, ""},
		{"::ffff:10.0.0.1", ReasonPrivate, ""},
		{"::ffff:169.254.169.254", ReasonLinkLocal, ""},
		{"::ffff:0.0.0.0", ReasonUnspecified, ""},
		// The other forms that carry an IPv4 address.
		{"::127.0.0.1", ReasonLoopback, "127.0.0.1"},                          // IPv4-compatible
		{"::10.0.0.1", ReasonPrivate, "10.0.0.1"},                             // IPv4-compatible
		{"::ffff:0:127.0.0.1", ReasonLoopback, "127.0.0.1"},                   // IPv4-translated
		{"64:ff9b::127.0.0.1", ReasonLoopback, "127.0.0.1"},                   // NAT64
		{"64:ff9b::a9fe:a9fe", ReasonLinkLocal, "169.254.169.254"},            // NAT64
		{"2002:7f00:1::", ReasonLoopback, "127.0.0.1"},                        // 6to4
		{"2002:c0a8:101::1", ReasonPrivate, "192.168.1.1"},                    // 6to4
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", ReasonLoopback, "127.0.0.1"}, // Teredo, client inverted
	}
	for _, c := range denied {
		err := g.CheckAddr(netip.MustParseAddr(c.addr))
		var de *DeniedError
		if !errors.As(err, &de) {
			t.Errorf("CheckAddr(%s) = %v, want a *DeniedError", c.addr, err)
			continue
		}
		if de.Reason != c.reason {
			t.Errorf("CheckAddr(%s): reason %q, want %q", c.addr, de.Reason, c.reason)
		}
		if de.Addr != netip.MustParseAddr(c.addr) {
			t.Errorf("CheckAddr(%s): Addr %s", c.addr, de.Addr)
		}
		if got := de.embedded.String(); c.embedded != "" && got != c.embedded {
			t.Errorf("CheckAddr(%s): embedded %s, want %s", c.addr, got, c.embedded)
		}
		if !strings.Contains(err.Error(), "see --allow-targets") {
			t.Errorf("CheckAddr(%s): %q does not point at --allow-targets", c.addr, err)
		}
	}

	allowed := []string{
		"93.184.216.34",
		"2606:2800:220:1::",
		"8.8.8.8",
		"1.1.1.1",
		"172.15.255.255",
		"172.32.0.1",
		"100.63.255.255",
		"100.128.0.1",
		"169.253.255.255",
		"223.255.255.255",
		"2a00:1450:4001::1",
		"::ffff:93.184.216.34",
		"64:ff9b::93.184.216.34", // NAT64 of a public address
		"2002:5db8:d822::1",      // 6to4 of a public address
		"::93.184.216.34",        // IPv4-compatible, public
	}
	for _, a := range allowed {
		if err := g.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("CheckAddr(%s) = %v, want nil", a, err)
		}
	}

	var de *DeniedError
	if err := g.CheckAddr(netip.Addr{}); !errors.As(err, &de) {
		t.Errorf("CheckAddr(invalid) = %v, want a *DeniedError", err)
	}
}

func TestCheckAddrAllow(t *testing.T) {
	cases := []struct {
		allow []string
		addr  string
		ok    bool
	}{
		{[]string{"127.0.0.2/32"}, "127.0.0.2", true},
		{[]string{"127.0.0.2/32"}, "::ffff:127.0.0.2", true}, // the unmapped form matches
		{[]string{"127.0.0.2/32"}, "127.0.0.1", false},
		{[]string{"127.0.0.2/32"}, "::1", false},
		{[]string{"127.0.0.0/8"}, "127.0.0.1", true},
		{[]string{"127.0.0.0/8"}, "127.99.0.1", true},
		{[]string{"127.0.0.0/8"}, "::1", false},
		{[]string{"127.0.0.0/8", "::1/128"}, "::1", true},
		{[]string{"::1/128"}, "::1%lo", true}, // the zone is ignored
		{[]string{"10.0.0.0/8"}, "10.1.1.1", true},
		{[]string{"10.0.0.0/8"}, "192.168.1.1", false},
		// An embedded address is not matched against Allow (doc.go).
		{[]string{"10.0.0.0/8"}, "2002:a01:101::", false},
		{[]string{"::ffff:127.0.0.0/104"}, "::ffff:127.0.0.1", true}, // the mapped form as given
		{[]string{"::ffff:127.0.0.0/104"}, "127.0.0.1", false},
		{[]string{"10.9.9.9/8"}, "10.0.0.1", true}, // host bits ignored
	}
	for _, c := range cases {
		g := New(Options{Allow: prefixes(t, c.allow...), Lookup: noLookup(t), LocalAddrs: noLocal})
		err := g.CheckAddr(netip.MustParseAddr(c.addr))
		if (err == nil) != c.ok {
			t.Errorf("Allow %v: CheckAddr(%s) = %v, want allowed %v", c.allow, c.addr, err, c.ok)
		}
	}
}

func TestCheckAddrOwnAddresses(t *testing.T) {
	own := []netip.Addr{
		netip.MustParseAddr("93.184.216.35"),
		netip.MustParseAddr("::ffff:93.184.216.36"), // as net.IP's 16-byte form gives it
		netip.MustParseAddr("2606:2800:220:1::5"),
	}
	g := New(Options{Lookup: noLookup(t), LocalAddrs: func() ([]netip.Addr, error) { return own, nil }})
	for _, a := range []string{"93.184.216.35", "::ffff:93.184.216.35", "93.184.216.36", "2606:2800:220:1::5", "2002:5db8:d823::"} {
		err := g.CheckAddr(netip.MustParseAddr(a))
		var de *DeniedError
		if !errors.As(err, &de) || de.Reason != ReasonOwnAddress {
			t.Errorf("CheckAddr(%s) = %v, want this host's own address", a, err)
		}
	}
	if err := g.CheckAddr(netip.MustParseAddr("93.184.216.34")); err != nil {
		t.Errorf("CheckAddr(93.184.216.34) = %v", err)
	}
	want := "delivery target 93.184.216.35 is this host's own address; Herald does not deliver there (see --allow-targets)"
	if err := g.CheckAddr(own[0]); err == nil || err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}

	allowed := New(Options{Allow: prefixes(t, "93.184.216.35/32"), LocalAddrs: func() ([]netip.Addr, error) { return own, nil }})
	if err := allowed.CheckAddr(own[0]); err != nil {
		t.Errorf("allowed own address: %v", err)
	}
}

func TestOwnAddressesCache(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	var fail error
	list := []netip.Addr{netip.MustParseAddr("93.184.216.35")}
	g := New(Options{LocalAddrs: func() ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if fail != nil {
			return nil, fail
		}
		return list, nil
	}})
	set := func(f func()) { mu.Lock(); defer mu.Unlock(); f() }
	count := func() int { mu.Lock(); defer mu.Unlock(); return calls }
	// expire does what the timer does LocalAddrsTTL after a listing.
	expire := func() { g.own.Load().stale.Store(true) }
	ownDenied := func() bool {
		var de *DeniedError
		return errors.As(g.CheckAddr(netip.MustParseAddr("93.184.216.35")), &de) && de.Reason == ReasonOwnAddress
	}

	// Concurrent first use lists once, and the list holds until it expires.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				_ = g.CheckAddr(netip.MustParseAddr("8.8.8.8"))
			}
		})
	}
	wg.Wait()
	set(func() { list = nil })
	if !ownDenied() || count() != 1 {
		t.Fatalf("before the TTL: calls %d, want 1", count())
	}

	// Past the TTL the guard lists again, once, even when many ask.
	expire()
	for range 16 {
		wg.Go(func() { _ = g.CheckAddr(netip.MustParseAddr("8.8.8.8")) })
	}
	wg.Wait()
	if ownDenied() || count() != 2 {
		t.Fatalf("past the TTL the new (empty) list should count: calls %d, want 2", count())
	}

	// A failed refresh keeps the list it had, until the next TTL.
	set(func() { list = []netip.Addr{netip.MustParseAddr("93.184.216.35")} })
	expire()
	if !ownDenied() || count() != 3 {
		t.Fatalf("refresh: calls %d", count())
	}
	set(func() { fail = errors.New("netlink says no") })
	expire()
	if !ownDenied() || count() != 4 {
		t.Fatalf("a failed refresh should keep the old list: calls %d", count())
	}
	if !ownDenied() || count() != 4 {
		t.Fatalf("a failed refresh is retried after a TTL, not at once: calls %d", count())
	}
}

func TestOwnAddressesUnknown(t *testing.T) {
	boom := errors.New("netlink says no")
	ok := false
	g := New(Options{LocalAddrs: func() ([]netip.Addr, error) {
		if !ok {
			return nil, boom
		}
		return nil, nil
	}})
	err := g.CheckAddr(netip.MustParseAddr("93.184.216.34"))
	var de *DeniedError
	if !errors.As(err, &de) || de.Reason != ReasonOwnUnknown || !errors.Is(err, boom) {
		t.Fatalf("CheckAddr with no list of own addresses = %v, want a denial wrapping the cause", err)
	}
	ok = true // the next call tries again
	if err := g.CheckAddr(netip.MustParseAddr("93.184.216.34")); err != nil {
		t.Fatalf("after LocalAddrs recovered: %v", err)
	}
}

func TestDefaultLocalAddrs(t *testing.T) {
	// The default lists the interfaces; this machine's loopback
	// interface has 127.0.0.1, which an allow of 127.0.0.2 alone must
	// still not let through.
	addrs, err := interfaceAddrs()
	if err != nil {
		t.Skipf("net.InterfaceAddrs: %v", err)
	}
	found := false
	for _, a := range addrs {
		if a.Unmap() == netip.MustParseAddr("127.0.0.1") {
			found = true
		}
	}
	if !found {
		t.Skipf("no 127.0.0.1 among %v", addrs)
	}
	g := New(Options{Allow: prefixes(t, "127.0.0.2/32")})
	if err := g.CheckAddr(netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Fatal("127.0.0.1 allowed")
	}
	if err := g.CheckAddr(netip.MustParseAddr("127.0.0.2")); err != nil {
		t.Fatalf("127.0.0.2: %v", err)
	}
}

func TestParseAllow(t *testing.T) {
	good := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"127.0.0.0/8,::1/128", []string{"127.0.0.0/8", "::1/128"}},
		{" 127.0.0.2 , ::1 ", []string{"127.0.0.2/32", "::1/128"}},
		{"10.0.0.0/8,", []string{"10.0.0.0/8"}},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}},
		{"::ffff:127.0.0.1", []string{"::ffff:127.0.0.1/128"}},
	}
	for _, c := range good {
		got, err := ParseAllow(c.in)
		if err != nil {
			t.Errorf("ParseAllow(%q): %v", c.in, err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if strings.Join(s, ",") != strings.Join(c.want, ",") {
			t.Errorf("ParseAllow(%q) = %v, want %v", c.in, s, c.want)
		}
	}
	for _, bad := range []string{"bogus", "127.0.0.0/33", "127.1", "fe80::1%eth0", "10.0.0.0/8,nope/8", "localhost", "0x7f000001"} {
		_, err := ParseAllow(bad)
		if err == nil {
			t.Errorf("ParseAllow(%q) accepted", bad)
			continue
		}
		item := bad
		if i := strings.LastIndexByte(bad, ','); i >= 0 {
			item = bad[i+1:]
		}
		if !strings.Contains(err.Error(), `"`+item+`"`) || !strings.Contains(err.Error(), "--allow-targets") {
			t.Errorf("ParseAllow(%q): %q does not name the item", bad, err)
		}
	}
}

func TestErrorText(t *testing.T) {
	g := New(Options{Lookup: noLookup(t), LocalAddrs: noLocal})
	ctx := context.Background()
	cases := []struct{ url, want string }{
		{"http://127.0.0.1/", "delivery target 127.0.0.1 is a loopback address; Herald does not deliver there (see --allow-targets)"},
		{"http://0x7f000001:8080/token?key=hunter2", "delivery target 0x7f000001 (127.0.0.1) is a loopback address; Herald does not deliver there (see --allow-targets)"},
		{"http://[2002:7f00:1::]/", "delivery target 2002:7f00:1:: embeds 127.0.0.1, which is a loopback address; Herald does not deliver there (see --allow-targets)"},
		{"http://169.254.169.254/latest/meta-data/", "delivery target 169.254.169.254 is a link-local address; Herald does not deliver there (see --allow-targets)"},
		{"ftp://93.184.216.34/pub", "delivery target 93.184.216.34 is refused: the URL's scheme is not http or https"},
		{"http://alice:hunter2@93.184.216.34/x?y=z", "delivery target 93.184.216.34 is refused: the URL carries credentials (user:password@)"},
		{"http://alice:hunter2@[::1/x?key=hunter2", "delivery target is refused: it is not a valid URL"},
	}
	// A name's resolved address stays inside: the requester learns the
	// class, not Herald's internal DNS.
	named := New(Options{Lookup: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.20.30.40")}, nil
	}, LocalAddrs: noLocal})
	if err := named.CheckURL(ctx, "http://internal.example/"); err == nil || strings.Contains(err.Error(), "10.20.30.40") ||
		err.Error() != "delivery target internal.example is a private address; Herald does not deliver there (see --allow-targets)" {
		t.Errorf("CheckURL of a name: %v", err)
	}
	for _, c := range cases {
		err := g.CheckURL(ctx, c.url)
		if err == nil || err.Error() != c.want {
			t.Errorf("CheckURL(%q):\n got %v\nwant %s", c.url, err, c.want)
		}
		for _, secret := range []string{"hunter2", "alice", "token", "meta-data", "pub"} {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("CheckURL(%q): error text %q holds %q", c.url, err, secret)
			}
		}
	}
	if got := (&DeniedError{Host: "a b\x00", Reason: ReasonBadHost}).Error(); !strings.Contains(got, `"a b\x00"`) {
		t.Errorf("a host that does not print is not quoted: %s", got)
	}
}

// classify's masks agree with netip.Prefix.Contains at the edges of every
// range.
func TestClassifyMatchesPrefixes(t *testing.T) {
	reference := func(a netip.Addr) string {
		if a.Is4() {
			for _, c := range ranges4 {
				if c.prefix.Contains(a) {
					return c.reason
				}
			}
			return ""
		}
		for _, c := range ranges6 {
			if c.prefix.Contains(a) {
				return c.reason
			}
		}
		for _, c := range carriers {
			if c.prefix.Contains(a) {
				return "carrier " + c.prefix.String()
			}
		}
		return ""
	}
	var edges []netip.Addr
	add := func(p netip.Prefix) {
		first := p.Masked().Addr()
		last := first
		for i := p.Bits(); i < first.BitLen(); i++ {
			b := last.AsSlice()
			b[i/8] |= 0x80 >> (i % 8)
			last, _ = netip.AddrFromSlice(b)
		}
		edges = append(edges, first, last, first.Next(), last.Prev())
		if a := first.Prev(); a.IsValid() {
			edges = append(edges, a)
		}
		if a := last.Next(); a.IsValid() {
			edges = append(edges, a)
		}
	}
	for _, c := range ranges4 {
		add(c.prefix)
	}
	for _, c := range ranges6 {
		add(c.prefix)
	}
	for _, c := range carriers {
		add(c.prefix)
	}
	for _, a := range edges {
		if !a.IsValid() {
			continue
		}
		want := reference(a)
		got, embedded := classify(a)
		if embedded.IsValid() {
			if !strings.HasPrefix(want, "carrier ") {
				t.Errorf("classify(%s) found %s embedded; reference says %q", a, embedded, want)
			}
			continue
		}
		if got != want {
			t.Errorf("classify(%s) = %q, reference %q", a, got, want)
		}
	}
}

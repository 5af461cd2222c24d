package guard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LocalAddrsTTL is how long the guard trusts its list of the host's own
// addresses before it asks [Options.LocalAddrs] again.
const LocalAddrsTTL = 30 * time.Second

// Options configure a [Guard]. The zero value is the strict default: only
// public addresses, names resolved by the system resolver.
type Options struct {
	// Allow lists prefixes allowed besides public addresses, e.g.
	// 127.0.0.0/8 and ::1/128 for a test setup (--allow-targets, see
	// [ParseAllow]). An address is allowed when it, or its unmapped IPv4
	// form, is in one of them.
	Allow []netip.Prefix
	// Lookup resolves a host name to its addresses; nil means
	// net.DefaultResolver.LookupNetIP(ctx, "ip", host). It is the only way
	// the guard resolves names, when checking a URL and when dialing.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// LocalAddrs lists the host's own addresses, which are denied unless
	// allowed; nil means the addresses of net.InterfaceAddrs. The guard
	// calls it on first use and then at most every [LocalAddrsTTL], so
	// that an address the host gains later (DHCP, a new interface) is
	// denied too; a failed refresh keeps the list it had.
	LocalAddrs func() ([]netip.Addr, error)
}

// A Guard checks delivery targets against the policy of the package
// documentation and dials only addresses that pass. It is safe for
// concurrent use. A nil *Guard is "no guard": it allows everything and
// dials plainly.
type Guard struct {
	allow      []netip.Prefix
	lookup     func(ctx context.Context, host string) ([]netip.Addr, error)
	localAddrs func() ([]netip.Addr, error)
	dialer     net.Dialer

	// own is the last list of the host's own addresses; refreshing holds
	// while one goroutine renews it.
	own        atomic.Pointer[ownAddrs]
	refreshing sync.Mutex

	// beforeDial is for tests: a look at every address just before it
	// is dialed.
	beforeDial func(network, address string) error
}

// ownAddrs is one listing of the host's own addresses.
type ownAddrs struct {
	set   map[netip.Addr]struct{}
	stale atomic.Bool
}

// New returns a Guard with the options o.
func New(o Options) *Guard {
	g := &Guard{
		allow:      append([]netip.Prefix(nil), o.Allow...),
		lookup:     o.Lookup,
		localAddrs: o.LocalAddrs,
	}
	for i, p := range g.allow {
		g.allow[i] = p.Masked()
	}
	if g.lookup == nil {
		g.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if g.localAddrs == nil {
		g.localAddrs = interfaceAddrs
	}
	// The dialer of http.DefaultTransport, plus the check of the address
	// each socket connects to.
	g.dialer = net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.Control}
	return g
}

// interfaceAddrs is the default LocalAddrs.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, addr)
		}
	}
	return out, nil
}

// ParseAllow parses the value of --allow-targets: CIDR prefixes separated
// by commas, where a bare IP address stands for itself (/32 or /128).
// Spaces around items and empty items are ignored; "" gives none. The
// error names the item that is neither.
func ParseAllow(csv string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(csv, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "%") {
			return nil, fmt.Errorf("--allow-targets: %q: an IPv6 zone is not allowed", item)
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("--allow-targets: %q is not a CIDR prefix such as 127.0.0.0/8 or ::1/128", item)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("--allow-targets: %q is neither an IP address nor a CIDR prefix", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// CheckAddr reports whether the guard lets Herald connect to addr: nil
// when addr is in Allow or is a public address that is not one of the
// host's own, else a *DeniedError whose Reason names the class. A nil
// Guard allows every address.
func (g *Guard) CheckAddr(addr netip.Addr) error {
	if g == nil {
		return nil
	}
	if !addr.IsValid() {
		return &DeniedError{Reason: ReasonBadHost}
	}
	a := addr.WithZone("")
	u := a.Unmap()
	for _, p := range g.allow {
		if p.Contains(a) || p.Contains(u) {
			return nil
		}
	}
	reason, embedded := classify(u)
	if reason != "" {
		return &DeniedError{Addr: addr, Reason: reason, embedded: embedded}
	}
	own, err := g.ownAddrs()
	if err != nil {
		return &DeniedError{Addr: addr, Reason: ReasonOwnUnknown, cause: err}
	}
	if _, ok := own.set[u]; ok {
		return &DeniedError{Addr: addr, Reason: ReasonOwnAddress}
	}
	if embedded.IsValid() {
		if _, ok := own.set[embedded]; ok {
			return &DeniedError{Addr: addr, Reason: ReasonOwnAddress, embedded: embedded}
		}
	}
	return nil
}

// ownAddrs returns the host's own addresses, listed at most LocalAddrsTTL
// ago. One caller refreshes a stale list while the others go on with it.
func (g *Guard) ownAddrs() (*ownAddrs, error) {
	cur := g.own.Load()
	if cur != nil && !cur.stale.Load() {
		return cur, nil
	}
	if cur != nil {
		if !g.refreshing.TryLock() {
			return cur, nil
		}
	} else {
		g.refreshing.Lock()
	}
	defer g.refreshing.Unlock()
	if c := g.own.Load(); c != cur {
		return c, nil // renewed while this caller waited
	}
	list, err := g.localAddrs()
	if err != nil {
		if cur == nil {
			return nil, fmt.Errorf("listing this host's addresses: %w", err)
		}
		// Keep the old list, and try again after another TTL.
		return g.storeOwn(cur.set), nil
	}
	set := make(map[netip.Addr]struct{}, len(list))
	for _, a := range list {
		set[a.WithZone("").Unmap()] = struct{}{}
	}
	return g.storeOwn(set), nil
}

// storeOwn makes set the list of own addresses for the next LocalAddrsTTL.
// A timer marks it stale then, which keeps the clock off the path of every
// check.
func (g *Guard) storeOwn(set map[netip.Addr]struct{}) *ownAddrs {
	o := &ownAddrs{set: set}
	g.own.Store(o)
	time.AfterFunc(LocalAddrsTTL, func() { o.stale.Store(true) })
	return o
}

// CheckURL checks a delivery URL when it is subscribed: the scheme must be
// http or https, the URL must have a host and no userinfo, and the host
// must be allowed. An IP address in any spelling (127.1, 0x7f000001,
// [::ffff:127.0.0.1], ...) is parsed here and checked, never looked up;
// localhost and names under .localhost are loopback; any other name is
// resolved with Lookup and every address it has must be allowed.
//
// A name that does not resolve is accepted (nil): the subscriber may
// publish it later, and the check that counts is the one at dial time
// ([Guard.DialContext]), which a name can also fail by being rebound to a
// denied address after this check. When ctx is done before the lookup
// ends, CheckURL returns ctx's error.
//
// Every other error is a *DeniedError. Its text never holds the URL's
// userinfo, path or query. A nil Guard accepts every URL.
func (g *Guard) CheckURL(ctx context.Context, rawURL string) error {
	if g == nil {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error quotes the whole URL; say no more than this.
		return &DeniedError{Reason: ReasonBadURL}
	}
	host := u.Hostname()
	if u.Scheme != "http" && u.Scheme != "https" {
		return &DeniedError{Host: host, Reason: ReasonScheme}
	}
	if u.User != nil {
		return &DeniedError{Host: host, Reason: ReasonUserinfo}
	}
	if host == "" {
		return &DeniedError{Reason: ReasonNoHost}
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		if _, ok := err.(*DeniedError); ok {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil // unresolvable: see the doc comment
	}
	for _, a := range addrs {
		if err := g.CheckAddr(a); err != nil {
			return withHost(err, host)
		}
	}
	return nil
}

// resolve returns the addresses of host (no brackets, no port): an IP
// literal's own, localhost's, or those Lookup gives. A malformed host is a
// *DeniedError; a lookup's failure is returned as it is.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	kind, addr, name := parseHost(host)
	switch kind {
	case kindIP:
		return []netip.Addr{addr}, nil
	case kindLocalhost:
		return localhostAddrs[:], nil
	case kindBad:
		return nil, &DeniedError{Host: host, Reason: ReasonBadHost}
	}
	addrs, err := g.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: name, IsNotFound: true}
	}
	return addrs, nil
}

// withHost sets the host spelling on a *DeniedError from CheckAddr.
func withHost(err error, host string) error {
	if de, ok := err.(*DeniedError); ok && de.Host == "" {
		de.Host = host
	}
	return err
}

package guard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// DialContext connects to address ("host:port") on network (tcp, tcp4,
// tcp6, udp, udp4 or udp6) if the guard allows the host: it resolves the
// host itself (an IP address in any spelling, localhost, or a name through
// Lookup), checks every address, and dials the allowed ones in order until
// one answers, each on a dialer whose [Guard.Control] checks again the
// address the socket connects to. Because the addresses dialed are the
// ones just checked, a name rebound to a denied address since
// [Guard.CheckURL] is refused here.
//
// When every address is denied the error is a *net.OpError wrapping the
// *DeniedError of the first (use errors.As). There is no Happy Eyeballs:
// the addresses are tried one after the other, each given its share of
// ctx's deadline. A nil Guard dials address as a plain net.Dialer does.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if g == nil {
		d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		return d.DialContext(ctx, network, address)
	}
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Err: err} }
	var want func(netip.Addr) bool
	switch network {
	case "tcp", "udp":
		want = func(netip.Addr) bool { return true }
	case "tcp4", "udp4":
		want = netip.Addr.Is4
	case "tcp6", "udp6":
		want = netip.Addr.Is6
	default:
		return nil, opErr(&DeniedError{Reason: ReasonNetwork})
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(err)
	}
	var addrs []netip.Addr
	if host == "" {
		// A plain dialer takes an empty host for this host.
		addrs = []netip.Addr{netip.IPv4Unspecified()}
	} else if addrs, err = g.resolve(ctx, host); err != nil {
		return nil, opErr(err)
	}

	var allowed []netip.Addr
	var denied error
	for _, a := range addrs {
		if a.Is4In6() {
			a = a.Unmap()
		}
		if !want(a) {
			continue
		}
		if err := g.CheckAddr(a); err != nil {
			if denied == nil {
				denied = withHost(err, host)
			}
			continue
		}
		allowed = append(allowed, a)
	}
	if len(allowed) == 0 {
		if denied == nil {
			denied = &DeniedError{Host: host, Reason: ReasonNoAddress}
		}
		return nil, opErr(denied)
	}

	var first error
	for i, a := range allowed {
		if err := ctx.Err(); err != nil {
			return nil, opErr(err)
		}
		target := net.JoinHostPort(a.String(), port)
		if g.beforeDial != nil {
			if err := g.beforeDial(network, target); err != nil {
				return nil, opErr(err)
			}
		}
		dctx, cancel := shareDeadline(ctx, len(allowed)-i)
		c, err := g.dialer.DialContext(dctx, network, target)
		cancel()
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// shareDeadline gives one of n remaining attempts its share of ctx's
// deadline, as net.Dialer does for the addresses of one name: at least 2 s
// (or all that is left) so that a slow first address does not starve
// those after it.
func shareDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return ctx, func() {}
	}
	left := time.Until(deadline)
	share := left / time.Duration(n)
	if share < 2*time.Second {
		share = min(2*time.Second, left)
	}
	return context.WithTimeout(ctx, share)
}

// Control checks the address a socket is about to connect to, with the
// signature of [net.Dialer.Control]: put it on a dialer of your own to have
// the guard's policy on every connection it makes, whatever resolved the
// name. It returns a *DeniedError when the address is denied or is no IP
// address and port. A nil Guard allows everything.
func (g *Guard) Control(network, address string, c syscall.RawConn) error {
	if g == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &DeniedError{Host: address, Reason: ReasonBadHost}
	}
	return g.CheckAddr(ap.Addr())
}

// Transport returns an *http.Transport that delivers only where the guard
// allows: a clone of http.DefaultTransport dialing with
// [Guard.DialContext], without a proxy (one from the environment would
// connect on Herald's behalf, unchecked), and pooling up to 4096 idle
// connections, 1024 per host. Set its TLSClientConfig as needed.
//
// A nil Guard's Transport is the same clone with the same pool sizes, but
// with http.DefaultTransport's dialer and proxy.
func (g *Guard) Transport() *http.Transport {
	var t *http.Transport
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		t = d.Clone()
	} else {
		// Someone replaced http.DefaultTransport: start from its
		// documented settings.
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ForceAttemptHTTP2:     true,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: 1 * time.Second,
		}
	}
	t.MaxIdleConns = 4096
	t.MaxIdleConnsPerHost = 1024
	if g != nil {
		t.DialContext = g.DialContext
		t.Proxy = nil
		// A TLS dialer set on the default transport would dial https
		// targets past the guard.
		t.DialTLSContext = nil
		t.DialTLS = nil //lint:ignore SA1019 cleared, not used: it would bypass DialContext
	}
	return t
}

// IsDenied reports whether err is, or wraps, a *DeniedError.
func IsDenied(err error) bool {
	var de *DeniedError
	return errors.As(err, &de)
}

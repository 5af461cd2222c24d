package guard

import (
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// hostKind is what parseHost makes of a host.
type hostKind int

const (
	// kindName is a host name, to resolve with Lookup.
	kindName hostKind = iota
	// kindIP is an IP address in one of its spellings.
	kindIP
	// kindLocalhost is localhost or a name under .localhost (RFC 6761),
	// loopback without a lookup.
	kindLocalhost
	// kindBad is a host that is neither: a numeric host that is no valid
	// address (1.2.3.256, 08.1), an IPv6 literal that does not parse, a
	// name IDNA refuses. It is never looked up.
	kindBad
)

// localhostAddrs are the addresses localhost stands for.
var localhostAddrs = [...]netip.Addr{
	netip.AddrFrom4([4]byte{127, 0, 0, 1}),
	netip.IPv6Loopback(),
}

// parseHost reads a host (without brackets or port) the way a browser or a
// C resolver would. For kindIP it returns the address; for kindName the name
// to look up: the ASCII (IDNA) form when host is not ASCII, as net/http
// dials it, else host itself.
func parseHost(host string) (hostKind, netip.Addr, string) {
	if !isASCII(host) {
		// net/http maps a non-ASCII host with IDNA's lookup profile
		// before it dials, and that mapping turns fullwidth digits and
		// dots, circled digits and the like into ASCII: "１２７．０．０．１"
		// is 127.0.0.1.
		a, err := idna.Lookup.ToASCII(host)
		if err != nil || !isASCII(a) {
			return kindBad, netip.Addr{}, ""
		}
		host = a
	}
	if strings.Contains(host, ":") {
		// Only an IPv6 literal holds a colon; a zone (fe80::1%eth0) is
		// kept for dialing and ignored by the check.
		a, err := netip.ParseAddr(host)
		if err != nil {
			return kindBad, netip.Addr{}, ""
		}
		return kindIP, a, ""
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return kindLocalhost, netip.Addr{}, ""
	}
	if a, ok := parseIPv4(host); ok {
		return kindIP, a, ""
	}
	if endsInNumber(host) {
		return kindBad, netip.Addr{}, ""
	}
	// No name has an empty label, except for the root's trailing dot.
	if t := strings.TrimSuffix(host, "."); t == "" || t[0] == '.' || t[len(t)-1] == '.' || strings.Contains(t, "..") {
		return kindBad, netip.Addr{}, ""
	}
	return kindName, netip.Addr{}, host
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// parseIPv4 parses the IPv4 spellings that inet_aton and the WHATWG URL
// standard accept: one to four parts separated by dots, each decimal, octal
// (a leading 0) or hexadecimal (0x); the last part fills the bytes left
// (127.1 is 127.0.0.1, 2130706433 is 127.0.0.1); and, as browsers do, one
// trailing dot.
func parseIPv4(s string) (netip.Addr, bool) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return netip.Addr{}, false
	}
	var parts [4]uint64
	n := 0
	for {
		i := strings.IndexByte(s, '.')
		part := s
		if i >= 0 {
			part = s[:i]
		}
		if n == len(parts) {
			return netip.Addr{}, false
		}
		v, ok := parseIPv4Number(part)
		if !ok {
			return netip.Addr{}, false
		}
		parts[n] = v
		n++
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	var v uint64
	for i := 0; i < n-1; i++ {
		if parts[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= parts[i] << (8 * (3 - i))
	}
	last := parts[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Number parses one part of an IPv4 spelling: 0x1f, 017, 31.
// "0x" alone is 0, as in inet_aton and the URL standard. Values beyond 32
// bits fail.
func parseIPv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d, ok := digit(s[i])
		if !ok || d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, false
		}
	}
	return v, true
}

func digit(c byte) (uint64, bool) {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// endsInNumber reports whether the last label of host (after one trailing
// dot) is numeric: all decimal digits, or 0x and hex digits. The URL
// standard then treats the host as an IPv4 address and refuses it if it is
// none; no DNS name ends so.
func endsInNumber(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		host = host[i+1:]
	}
	if host == "" {
		return false
	}
	if len(host) >= 2 && host[0] == '0' && (host[1] == 'x' || host[1] == 'X') {
		for i := 2; i < len(host); i++ {
			if _, ok := digit(host[i]); !ok {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(host); i++ {
		if host[i] < '0' || host[i] > '9' {
			return false
		}
	}
	return true
}

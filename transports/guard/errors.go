package guard

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// The reasons a [DeniedError] gives. The address classes are those of the
// package documentation; the others say what is wrong with a URL or a dial.
const (
	ReasonLoopback       = "loopback"
	ReasonPrivate        = "private"
	ReasonLinkLocal      = "link-local"
	ReasonUnspecified    = "unspecified"
	ReasonThisNetwork    = "this network"
	ReasonMulticast      = "multicast"
	ReasonBroadcast      = "broadcast"
	ReasonShared         = "shared address space"
	ReasonReserved       = "reserved"
	ReasonBenchmarking   = "benchmarking"
	ReasonSpecialPurpose = "special-purpose"
	ReasonDocumentation  = "documentation"
	ReasonSiteLocal      = "site-local"
	ReasonNAT64LocalUse  = "local-use NAT64"
	ReasonOwnAddress     = "this host's own address"
	// ReasonOwnUnknown: the host's own addresses could not be listed, so
	// no address can be told apart from them (the guard fails closed).
	ReasonOwnUnknown = "this host's addresses are unknown"

	ReasonScheme    = "not http or https"
	ReasonUserinfo  = "credentials in the URL"
	ReasonNoHost    = "no host"
	ReasonBadURL    = "not a valid URL"
	ReasonBadHost   = "malformed host"
	ReasonNetwork   = "not a TCP or UDP network"
	ReasonNoAddress = "no address of the network's family"
)

// phrases completes "delivery target X is ..." for the address classes.
var phrases = map[string]string{
	ReasonLoopback:       "a loopback address",
	ReasonPrivate:        "a private address",
	ReasonLinkLocal:      "a link-local address",
	ReasonUnspecified:    "an unspecified address",
	ReasonThisNetwork:    `a "this network" address (0.0.0.0/8)`,
	ReasonMulticast:      "a multicast address",
	ReasonBroadcast:      "the broadcast address",
	ReasonShared:         "in the shared address space (100.64.0.0/10)",
	ReasonReserved:       "a reserved address (240.0.0.0/4)",
	ReasonBenchmarking:   "a benchmarking address (198.18.0.0/15)",
	ReasonSpecialPurpose: "a special-purpose address (192.0.0.0/24)",
	ReasonDocumentation:  "a documentation address",
	ReasonSiteLocal:      "a site-local address",
	ReasonNAT64LocalUse:  "a local-use NAT64 address",
	ReasonOwnAddress:     "this host's own address",
}

// others completes "delivery target X is refused: ...".
var others = map[string]string{
	ReasonOwnUnknown: "this host's own addresses could not be listed",
	ReasonScheme:     "the URL's scheme is not http or https",
	ReasonUserinfo:   "the URL carries credentials (user:password@)",
	ReasonNoHost:     "the URL has no host",
	ReasonBadURL:     "it is not a valid URL",
	ReasonBadHost:    "its host is neither a valid IP address nor a host name",
	ReasonNetwork:    "the network is not tcp or udp",
	ReasonNoAddress:  "it has no address of the network's family",
}

// A DeniedError says that the guard refused a delivery target. Its text
// names the host and the reason, and the address only when the host spells
// one; it never holds the URL's userinfo, path or query, nor what a name
// resolved to.
type DeniedError struct {
	// Host is the host as the URL or the dial address spelled it; it may
	// be empty (CheckAddr, or a URL that does not parse).
	Host string
	// Addr is the address refused; it is invalid when the refusal is not
	// about an address (a scheme, userinfo, a malformed host).
	Addr netip.Addr
	// Reason is one of the Reason constants: "loopback", "private",
	// "link-local", "unspecified", "multicast", "this host's own address",
	// "not http or https", ...
	Reason string

	// embedded is the IPv4 address that Addr carries and that was judged
	// in its place (IPv4-mapped, NAT64, 6to4, ...).
	embedded netip.Addr
	// cause is why the host's own addresses are unknown.
	cause error
}

// Error says which target was refused and why, e.g. "delivery target
// 127.0.0.1 is a loopback address; Herald does not deliver there (see
// --allow-targets)".
func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString("delivery target")
	addr := ""
	if e.Addr.IsValid() {
		addr = e.Addr.String()
	}
	switch {
	case e.Host != "":
		b.WriteString(" ")
		b.WriteString(printable(e.Host))
		// The address is shown for a host that spells one (0x7f000001),
		// never for a name: what a name resolves to inside Herald's
		// network is no business of the requester's.
		if kind, _, _ := parseHost(strings.Trim(e.Host, "[]")); addr != "" && addr != e.Host && kind == kindIP {
			b.WriteString(" (" + addr + ")")
		}
	case addr != "":
		b.WriteString(" " + addr)
	}
	if p, ok := phrases[e.Reason]; ok {
		if e.embedded.IsValid() {
			b.WriteString(" embeds " + e.embedded.String() + ", which is ")
		} else {
			b.WriteString(" is ")
		}
		b.WriteString(p)
		b.WriteString("; Herald does not deliver there (see --allow-targets)")
		return b.String()
	}
	b.WriteString(" is refused: ")
	if p, ok := others[e.Reason]; ok {
		b.WriteString(p)
	} else {
		b.WriteString(e.Reason)
	}
	if e.cause != nil {
		b.WriteString(": " + e.cause.Error())
	}
	return b.String()
}

// Unwrap returns the error behind ReasonOwnUnknown, else nil.
func (e *DeniedError) Unwrap() error { return e.cause }

// printable returns s, or s quoted when it holds spaces or characters that
// do not print (a dial address can hold anything).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

package guard

import (
	"encoding/binary"
	"net/netip"
)

// A class is a denied range and the reason it gives.
type class struct {
	prefix netip.Prefix
	reason string
}

// ranges4 are the denied IPv4 ranges, the more specific first.
var ranges4 = [...]class{
	{netip.MustParsePrefix("0.0.0.0/32"), ReasonUnspecified},
	{netip.MustParsePrefix("0.0.0.0/8"), ReasonThisNetwork},
	{netip.MustParsePrefix("127.0.0.0/8"), ReasonLoopback},
	{netip.MustParsePrefix("10.0.0.0/8"), ReasonPrivate},
	{netip.MustParsePrefix("172.16.0.0/12"), ReasonPrivate},
	{netip.MustParsePrefix("192.168.0.0/16"), ReasonPrivate},
	{netip.MustParsePrefix("169.254.0.0/16"), ReasonLinkLocal},
	{netip.MustParsePrefix("100.64.0.0/10"), ReasonShared},
	{netip.MustParsePrefix("224.0.0.0/4"), ReasonMulticast},
	{netip.MustParsePrefix("255.255.255.255/32"), ReasonBroadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), ReasonReserved},
	{netip.MustParsePrefix("198.18.0.0/15"), ReasonBenchmarking},
	{netip.MustParsePrefix("192.0.0.0/24"), ReasonSpecialPurpose},
	{netip.MustParsePrefix("192.0.2.0/24"), ReasonDocumentation},
	{netip.MustParsePrefix("198.51.100.0/24"), ReasonDocumentation},
	{netip.MustParsePrefix("203.0.113.0/24"), ReasonDocumentation},
}

// A class4 is an IPv4 class as a mask and a value, for speed.
type class4 struct {
	mask, value uint32
	reason      string
}

// denied4 is ranges4 as masks.
var denied4 = func() (out [len(ranges4)]class4) {
	for i, c := range ranges4 {
		mask := ^uint32(0) << (32 - c.prefix.Bits())
		out[i] = class4{mask, u32(c.prefix.Addr()) & mask, c.reason}
	}
	return out
}()

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// ranges6 are the denied IPv6 ranges (IPv4-mapped addresses are unmapped
// before they get here).
var ranges6 = [...]class{
	{netip.MustParsePrefix("::/128"), ReasonUnspecified},
	{netip.MustParsePrefix("::1/128"), ReasonLoopback},
	{netip.MustParsePrefix("fe80::/10"), ReasonLinkLocal},
	{netip.MustParsePrefix("fc00::/7"), ReasonPrivate},
	{netip.MustParsePrefix("fec0::/10"), ReasonSiteLocal},
	{netip.MustParsePrefix("ff00::/8"), ReasonMulticast},
	{netip.MustParsePrefix("2001:db8::/32"), ReasonDocumentation},
	{netip.MustParsePrefix("64:ff9b:1::/48"), ReasonNAT64LocalUse},
}

// How an IPv6 range carries an IPv4 address.
const (
	lastBits     = iota // in the last 32 bits
	sixToFourV4         // in bits 16 to 47
	teredoClient        // in the last 32 bits, inverted (RFC 4380 section 4)
)

// carriers are the IPv6 ranges that carry an IPv4 address.
var carriers = [...]struct {
	prefix netip.Prefix
	where  int
}{
	{netip.MustParsePrefix("::/96"), lastBits},           // IPv4-compatible, deprecated
	{netip.MustParsePrefix("::ffff:0:0:0/96"), lastBits}, // IPv4-translated, RFC 2765
	{netip.MustParsePrefix("64:ff9b::/96"), lastBits},    // NAT64, RFC 6052
	{netip.MustParsePrefix("2002::/16"), sixToFourV4},    // 6to4, RFC 3056
	{netip.MustParsePrefix("2001::/32"), teredoClient},   // Teredo, RFC 4380
}

// A mask6 is an IPv6 prefix as masks and values of the two halves.
type mask6 struct{ hiMask, hiValue, loMask, loValue uint64 }

func toMask6(p netip.Prefix) mask6 {
	hi, lo := u64s(p.Addr())
	bits := p.Bits()
	var m mask6
	if bits >= 64 {
		m.hiMask = ^uint64(0)
		m.loMask = ^uint64(0) << (128 - bits)
	} else {
		m.hiMask = ^uint64(0) << (64 - bits)
	}
	m.hiValue, m.loValue = hi&m.hiMask, lo&m.loMask
	return m
}

func (m *mask6) contains(hi, lo uint64) bool {
	return hi&m.hiMask == m.hiValue && lo&m.loMask == m.loValue
}

func u64s(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// denied6 and carried are ranges6 and carriers as masks.
var (
	denied6 = func() (out [len(ranges6)]mask6) {
		for i, c := range ranges6 {
			out[i] = toMask6(c.prefix)
		}
		return out
	}()
	carried = func() (out [len(carriers)]mask6) {
		for i, c := range carriers {
			out[i] = toMask6(c.prefix)
		}
		return out
	}()
)

// classify returns the reason a (unmapped, without zone) is denied by
// class, or "" for a public address; and, for an IPv6 address that carries
// an IPv4 address, that IPv4 address, which was judged in its place.
func classify(a netip.Addr) (reason string, embedded netip.Addr) {
	if a.Is4() {
		return classify4(a), netip.Addr{}
	}
	hi, lo := u64s(a)
	for i := range denied6 {
		if denied6[i].contains(hi, lo) {
			return ranges6[i].reason, netip.Addr{}
		}
	}
	for i := range carried {
		if !carried[i].contains(hi, lo) {
			continue
		}
		var v4 uint32
		switch carriers[i].where {
		case lastBits:
			v4 = uint32(lo)
		case sixToFourV4:
			v4 = uint32(hi >> 16)
		case teredoClient:
			v4 = ^uint32(lo)
		}
		e := netip.AddrFrom4([4]byte{byte(v4 >> 24), byte(v4 >> 16), byte(v4 >> 8), byte(v4)})
		return classify4(e), e
	}
	return "", netip.Addr{}
}

// classify4 is classify for an IPv4 address.
func classify4(a netip.Addr) string {
	v := u32(a)
	for i := range denied4 {
		if v&denied4[i].mask == denied4[i].value {
			return denied4[i].reason
		}
	}
	return ""
}

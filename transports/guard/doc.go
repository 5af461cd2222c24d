// Package guard keeps Herald from delivering to addresses it must not
// reach: the delivery target guard, Herald's protection against
// server-side request forgery (SSRF).
//
// # The threat
//
// Herald POSTs to URLs that subscribers hand it (WS-Eventing NotifyTo and
// EndTo, webhook URLs). Without a guard, a subscriber can point Herald at
// http://127.0.0.1:8080/admin, at a cloud metadata service on 169.254.169.254,
// or at any host on the private network Herald runs in, and use Herald as a
// proxy into places the subscriber cannot reach itself. Two tricks defeat a
// naive check of the URL text:
//
//   - Alternative spellings of an IP address. A C resolver (inet_aton) and a
//     browser both read 127.1, 2130706433, 0x7f000001, 0177.0.0.1 and
//     127.0.0.1. as 127.0.0.1; [::ffff:127.0.0.1] and [0:0:0:0:0:0:0:1] are
//     loopback too, and so are fullwidth digits after IDNA mapping. The guard
//     parses every such spelling itself into the address it means, never
//     hands it to DNS, and refuses a host that looks numeric but is no valid
//     address.
//   - DNS rebinding. A name that resolves to a public address when the
//     subscription is checked can resolve to 127.0.0.1 a second later, when
//     Herald connects. A check at subscribe time is therefore only a
//     courtesy to the subscriber: the check that counts is made when
//     connecting. [Guard.DialContext] resolves the name itself, checks every
//     address and connects to the addresses it checked, and its dialer's
//     [Guard.Control] hook checks once more the address the socket is
//     actually connected to. [Guard.Transport] is an [net/http.Transport]
//     built on them; it has no proxy, since a proxy taken from the
//     environment would connect on Herald's behalf without the check.
//     Redirects, when a client follows them, dial through the same guard.
//
// # The policy
//
// [Guard.CheckAddr] allows public unicast addresses and denies, unless the
// address is in [Options.Allow]:
//
//   - loopback: 127.0.0.0/8, ::1
//   - private: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7
//   - link-local: 169.254.0.0/16 (cloud metadata services live here), fe80::/10
//   - unspecified: 0.0.0.0 and :: (connecting there reaches this host)
//   - "this network": the rest of 0.0.0.0/8
//   - multicast: 224.0.0.0/4, ff00::/8
//   - broadcast: 255.255.255.255
//   - shared address space (carrier-grade NAT): 100.64.0.0/10
//   - this host's own addresses, whatever their class ([Options.LocalAddrs])
//
// and also, beyond the minimum, the ranges that are no public unicast space
// either: reserved 240.0.0.0/4, benchmarking 198.18.0.0/15 (proxies with a
// "fake IP" DNS hand these out), IETF protocol assignments 192.0.0.0/24,
// the documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
// 2001:db8::/32, the deprecated site-local fec0::/10 and the local-use NAT64
// prefix 64:ff9b:1::/48.
//
// IPv6 addresses that carry an IPv4 address are judged by that IPv4
// address: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d),
// IPv4-translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4
// (2002:AABB:CCDD::/48) and Teredo (2001::/32, whose client address is the
// last 32 bits inverted). An IPv6 zone (%eth0) is ignored for the check.
//
// Allow overrides all of this: an address is allowed when it, or its
// unmapped IPv4 form, is in one of the allowed prefixes (--allow-targets,
// parsed by [ParseAllow]). The IPv4 address embedded in a NAT64, 6to4 or
// Teredo address is not matched against Allow: allowing 127.0.0.0/8 allows
// 127.0.0.1 and ::ffff:127.0.0.1, not 2002:7f00:1::.
//
// A nil *Guard is "no guard": every method is usable on it and lets
// everything through (see each method).
package guard

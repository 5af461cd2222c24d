package guard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// errorTexts holds every fixed phrase an error text can have, so that the
// fuzzer does not take a URL part that happens to be one for a leak.
var errorTexts = func() string {
	var b strings.Builder
	b.WriteString("delivery target is refused: embeds , which is ; Herald does not deliver there (see --allow-targets)")
	for _, p := range phrases {
		b.WriteString(p)
	}
	for _, p := range others {
		b.WriteString(p)
	}
	return b.String()
}()

// FuzzCheckURL checks that CheckURL does not panic, never accepts a URL
// whose host is an IP address (in the guard's reading, or in the standard
// library's) that CheckAddr denies, and never quotes userinfo, path or
// query in its errors.
func FuzzCheckURL(f *testing.F) {
	for _, c := range literalURLs {
		f.Add(c.url)
	}
	for _, s := range []string{
		"http://93.184.216.34/", "https://[2606:2800:220:1::]:443/x", "http://localhost/",
		"http://public.example/", "http://user:pass@host/", "http://127.0.0.256/",
		"http://[fe80::1%25en0]/", "http://0x/", "http://.../", "http://1.2.3.4.5/",
		"http://①②⑦.0.0.①/", "http://[::ffff:0:127.0.0.1]/", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
	} {
		f.Add(s)
	}
	g := New(Options{
		Lookup: func(context.Context, string) ([]netip.Addr, error) {
			return nil, errors.New("no lookups while fuzzing")
		},
		LocalAddrs: noLocal,
	})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		err := g.CheckURL(ctx, raw)
		u, perr := url.Parse(raw)
		if err != nil {
			var de *DeniedError
			if !errors.As(err, &de) {
				t.Fatalf("CheckURL(%q) = %T %v, want a *DeniedError", raw, err, err)
			}
			if perr == nil {
				// What is left of the text once the host and the
				// addresses are taken out must hold no URL part.
				text := err.Error()
				for _, part := range []string{printable(de.Host), de.Addr.String(), de.embedded.String()} {
					if part != "" {
						text = strings.ReplaceAll(text, part, "\x00")
					}
				}
				leaks := []string{u.RawQuery, u.EscapedPath(), u.Fragment}
				if p, ok := u.User.Password(); ok {
					leaks = append(leaks, p)
				}
				leaks = append(leaks, u.User.Username())
				for _, s := range leaks {
					if len(s) >= 4 && strings.Contains(text, s) && !strings.Contains(errorTexts, s) {
						t.Fatalf("CheckURL(%q): error %q quotes %q", raw, text, s)
					}
				}
			}
			return
		}
		if perr != nil {
			t.Fatalf("CheckURL(%q) accepted a URL url.Parse refuses: %v", raw, perr)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil {
			t.Fatalf("CheckURL(%q) accepted scheme %q, userinfo %v", raw, u.Scheme, u.User != nil)
		}
		host := u.Hostname()
		kind, addr, _ := parseHost(host)
		switch kind {
		case kindIP:
			if err := g.CheckAddr(addr); err != nil {
				t.Fatalf("CheckURL(%q) accepted, CheckAddr(%s): %v", raw, addr, err)
			}
		case kindLocalhost, kindBad:
			t.Fatalf("CheckURL(%q) accepted host %q of kind %d", raw, host, kind)
		}
		// Whatever the standard library reads as an address, the guard
		// read the same or checked it too.
		if a, err := netip.ParseAddr(host); err == nil {
			if err := g.CheckAddr(a); err != nil {
				t.Fatalf("CheckURL(%q) accepted; netip reads %s: %v", raw, a, err)
			}
		}
		if ip := net.ParseIP(host); ip != nil {
			a, _ := netip.AddrFromSlice(ip)
			if err := g.CheckAddr(a); err != nil {
				t.Fatalf("CheckURL(%q) accepted; net.ParseIP reads %s: %v", raw, a, err)
			}
		}
	})
}

func BenchmarkCheckAddr(b *testing.B) {
	g := New(Options{LocalAddrs: noLocal})
	addrs := []netip.Addr{
		netip.MustParseAddr("93.184.216.34"),
		netip.MustParseAddr("2606:2800:220:1::"),
		netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("2002:7f00:1::"),
	}
	for _, a := range addrs {
		b.Run(a.String(), func(b *testing.B) {
			b.ReportAllocs()
			want := g.CheckAddr(a) == nil
			for b.Loop() {
				if (g.CheckAddr(a) == nil) != want {
					b.Fatal("changed its mind")
				}
			}
		})
	}
}

func BenchmarkCheckURL(b *testing.B) {
	g := New(Options{LocalAddrs: noLocal})
	ctx := context.Background()
	for _, c := range []struct{ name, url string }{
		{"ipv4", "http://93.184.216.34:8080/notify?id=1"},
		{"ipv6", "http://[2606:2800:220:1::]/notify"},
		{"hex-loopback", "http://0x7f000001/"},
	} {
		u := c.url
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			want := g.CheckURL(ctx, u) == nil
			for b.Loop() {
				if (g.CheckURL(ctx, u) == nil) != want {
					b.Fatal("changed its mind")
				}
			}
		})
	}
}

// Package cors lets web pages on other origins read Herald's browser
// endpoints (the stream, pull by cursor) with an exact allow-list of
// origins, and tells the WebSocket endpoint which origins it may accept.
//
// An origin is a scheme, a host and a port, written as a browser sends it
// in the Origin header: https://app.example.org, http://127.0.0.1:3000.
// New normalizes the entries it is given (lower case, the scheme's default
// port dropped, one trailing slash tolerated) and refuses anything else (a
// path, a query, user information, a missing scheme, a scheme other than
// http and https, a non-ASCII host: give its punycode form). Requests are
// compared with the list exactly: no pattern, no suffix match, no
// reflection of whatever a page claims.
//
// For an origin on the list, Handler adds
//
//	Access-Control-Allow-Origin: <the origin>
//	Access-Control-Expose-Headers: Retry-After, WWW-Authenticate
//
// and answers a preflight (OPTIONS with Access-Control-Request-Method) with
// 204 and
//
//	Access-Control-Allow-Methods: GET
//	Access-Control-Allow-Headers: Authorization, Last-Event-ID, Content-Type
//	Access-Control-Max-Age: 600
//
// A request from any other origin gets no Access-Control-* header at all,
// so the browser keeps the answer from the page (a refused preflight is
// answered 403). Every answer of a non-empty policy carries Vary: Origin
// (and a preflight's Vary lists the request headers too), so that no cache
// serves one origin's answer to another.
//
// # Credentials
//
// Herald never sends Access-Control-Allow-Credentials. A page that holds a
// key sends it itself, as Authorization: Bearer KEY in fetch(); that header
// is allowed above and needs no credentials mode. Credentials mode would
// instead let every page of an allowed origin use what the browser holds on
// its own, without the page ever having a key: HTTP Basic credentials the
// user once typed, a TLS client certificate. Herald refuses to be that
// confused deputy. The consequence: EventSource, which cannot set headers,
// can read an authenticated stream from another origin only without auth
// (Herald on loopback); a page with a key reads /stream with fetch() and a
// streaming body, or uses the WebSocket (package transports/ws).
//
// # The wildcard
//
// The entry "*" allows every origin (the answer still names the request's
// origin, never "*"; the opaque origin "null" of sandboxed frames and files
// stays refused). It is DANGEROUS: every page any user of the browser
// visits may then read Herald's streams through that browser, which on
// loopback with auth off is every event, and the WebSocket endpoint then
// also accepts pages that ride on a TLS client certificate or on cached
// Basic credentials. Use it only on a test machine.
package cors

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Any is the allow-list entry that allows every origin. Dangerous: see the
// package documentation.
const Any = "*"

// Header values of an allowed request.
const (
	// AllowHeaders are the request headers a page may send.
	AllowHeaders = "Authorization, Last-Event-ID, Content-Type"
	// AllowMethods are the methods a page may use.
	AllowMethods = "GET"
	// ExposeHeaders are the answer headers beyond the CORS-safelisted
	// ones that a page may read: when to retry, and how to authenticate.
	ExposeHeaders = "Retry-After, WWW-Authenticate"
	// MaxAge is how long (seconds) a browser may keep a preflight's
	// answer.
	MaxAge = "600"
)

// A Policy is an allow-list of origins. The nil Policy allows no other
// origin; its methods may be called on it.
type Policy struct {
	origins []string // normalized, sorted, without Any
	any     bool
}

// New returns the policy for an allow-list, each entry an origin
// (https://app.example.org:8443) or Any. Empty entries are skipped; no
// entry at all gives the nil Policy.
func New(origins []string) (*Policy, error) {
	p := &Policy{}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		switch o {
		case "":
			continue
		case Any:
			p.any = true
			continue
		}
		n, err := Normalize(o)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(p.origins, n) {
			p.origins = append(p.origins, n)
		}
	}
	if !p.any && len(p.origins) == 0 {
		return nil, nil
	}
	slices.Sort(p.origins)
	return p, nil
}

// Normalize returns an origin as a browser serializes it in the Origin
// header, or an error that says what is wrong with it.
func Normalize(origin string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("origin %q: %s", origin, why)
	}
	if !strings.Contains(origin, "://") {
		return bad("give the scheme and the host, as https://app.example.org")
	}
	u, err := url.Parse(origin)
	if err != nil {
		return bad("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return bad("the scheme must be http or https")
	}
	switch {
	case u.User != nil:
		return bad("an origin has no user information")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.ForceQuery, u.Fragment != "", u.Opaque != "":
		return bad("an origin is only scheme://host[:port], without a path, query or fragment")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return bad("no host")
	}
	for _, r := range host {
		if r > 0x7e {
			return bad("give a non-ASCII host in its punycode (xn--) form, as browsers send it")
		}
	}
	if ip := net.ParseIP(host); ip == nil && strings.ContainsFunc(host, func(r rune) bool {
		return r != '.' && r != '-' && r != '_' && !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return bad("the host is a name or an IP address, not a pattern: list each origin")
	}
	if strings.HasSuffix(u.Host, ":") {
		return bad("empty port")
	}
	host = strings.ToLower(host)
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return bad("the port must be 1 to 65535")
		}
		port = strconv.FormatUint(n, 10)
	}
	if port == "80" && scheme == "http" || port == "443" && scheme == "https" {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]" // IPv6
	}
	return scheme + "://" + host, nil
}

// Origins returns the allowed origins, normalized, without Any.
func (p *Policy) Origins() []string {
	if p == nil {
		return nil
	}
	return slices.Clone(p.origins)
}

// AllowsAny reports whether the policy has the Any entry.
func (p *Policy) AllowsAny() bool { return p != nil && p.any }

// Allows reports whether a request's Origin header value is allowed: on
// the list exactly as a browser sends it, or any origin but "null" with
// the Any entry. An empty origin (no header) is not a cross-origin request
// and not allowed here.
func (p *Policy) Allows(origin string) bool {
	if p == nil || origin == "" || origin == "null" {
		return false
	}
	if p.any {
		return true
	}
	_, found := slices.BinarySearch(p.origins, origin)
	return found
}

// Handler adds the CORS headers to next's answers for allowed origins and
// answers preflights itself (before next, which may require a key: a
// preflight never carries one). A nil Policy adds nothing and refuses
// every preflight.
func (p *Policy) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			p.preflight(w, r, origin)
			return
		}
		if p != nil {
			w.Header().Add("Vary", "Origin")
		}
		if p.Allows(origin) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", ExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// Preflight answers OPTIONS requests: a preflight as Handler does, any
// other OPTIONS with 204 and Allow: GET, OPTIONS.
func (p *Policy) Preflight() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			p.preflight(w, r, origin)
			return
		}
		w.Header().Set("Allow", "GET, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
	})
}

func (p *Policy) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	if !p.Allows(origin) {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "origin %s is not allowed (--allow-origins)\n", sanitize(origin))
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", AllowMethods)
	h.Set("Access-Control-Allow-Headers", AllowHeaders)
	h.Set("Access-Control-Max-Age", MaxAge)
	w.WriteHeader(http.StatusNoContent)
}

// sanitize keeps an echoed header value printable and short.
func sanitize(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

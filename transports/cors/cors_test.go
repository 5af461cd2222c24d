package cors_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/transports/cors"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.org":       "https://app.example.org",
		"HTTPS://App.Example.ORG/":      "https://app.example.org",
		"https://app.example.org:443":   "https://app.example.org",
		"http://app.example.org:80":     "http://app.example.org",
		"http://app.example.org:443":    "http://app.example.org:443",
		"https://app.example.org:08443": "https://app.example.org:8443",
		"http://127.0.0.1:3000":         "http://127.0.0.1:3000",
		"http://[::1]:3000":             "http://[::1]:3000",
		"http://[::1]":                  "http://[::1]",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
	} {
		got, err := cors.Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"app.example.org", "//app.example.org", "ftp://app.example.org", "https://", "https://user@app.example.org",
		"https://app.example.org/path", "https://app.example.org?q", "https://app.example.org#f", "https://app.example.org:",
		"https://app.example.org:0", "https://app.example.org:70000", "https://bücher.example", "null", "https://*.example.org", "https://a*b.example.org", "https://a%20b.example",
	} {
		if got, err := cors.Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q; want an error", in, got)
		}
	}
}

func TestNew(t *testing.T) {
	p, err := cors.New(nil)
	if p != nil || err != nil {
		t.Fatalf("New(nil) = %v, %v; want nil, nil", p, err)
	}
	if p.Allows("https://a.example") || p.AllowsAny() || p.Origins() != nil {
		t.Error("the nil policy allows something")
	}
	if _, err := cors.New([]string{"https://a.example", "a.example"}); err == nil || !strings.Contains(err.Error(), "a.example") {
		t.Errorf("New with a bad entry: %v", err)
	}
	p, err = cors.New([]string{" https://B.example:443 ", "", "http://a.example:8080", "https://b.example"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Origins(); !slices.Equal(got, []string{"http://a.example:8080", "https://b.example"}) {
		t.Errorf("Origins = %v", got)
	}
	for origin, want := range map[string]bool{
		"https://b.example": true, "http://a.example:8080": true,
		"http://b.example": false, "https://b.example:8443": false, "https://sub.b.example": false, "https://b.example.evil": false,
		"http://a.example": false, "null": false, "": false, "*": false,
	} {
		if got := p.Allows(origin); got != want {
			t.Errorf("Allows(%q) = %v", origin, got)
		}
	}
	any, err := cors.New([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	if !any.AllowsAny() || !any.Allows("https://anything.example") || any.Allows("null") || any.Allows("") {
		t.Error("the wildcard policy does not allow every origin but null")
	}
}

func serve(h http.Handler, method, origin string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/stream?topic=t", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	return out
}

func TestHandler(t *testing.T) {
	p, err := cors.New([]string{"https://app.example"})
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := p.Handler(next)

	w := serve(h, http.MethodGet, "https://app.example")
	if w.Code != http.StatusTeapot || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
		w.Header().Get("Vary") != "Origin" || w.Header().Get("Access-Control-Allow-Credentials") != "" ||
		w.Header().Get("Access-Control-Expose-Headers") != cors.ExposeHeaders {
		t.Errorf("allowed origin: %d %v", w.Code, w.Header())
	}
	for _, origin := range []string{"https://evil.example", "null", ""} {
		w = serve(h, http.MethodGet, origin)
		if w.Code != http.StatusTeapot || len(corsHeaders(w.Header())) != 0 || w.Header().Get("Vary") != "Origin" {
			t.Errorf("origin %q: %d %v", origin, w.Code, w.Header())
		}
	}

	for _, h := range []http.Handler{h, p.Preflight()} {
		w = serve(h, http.MethodOptions, "https://app.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization,last-event-id")
		if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
			w.Header().Get("Access-Control-Allow-Methods") != "GET" || w.Header().Get("Access-Control-Allow-Headers") != cors.AllowHeaders ||
			w.Header().Get("Access-Control-Max-Age") != cors.MaxAge || !strings.Contains(w.Header().Get("Vary"), "Origin") ||
			w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight: %d %v", w.Code, w.Header())
		}
		w = serve(h, http.MethodOptions, "https://evil.example", "Access-Control-Request-Method", "GET")
		if w.Code != http.StatusForbidden || len(corsHeaders(w.Header())) != 0 {
			t.Errorf("refused preflight: %d %v", w.Code, w.Header())
		}
	}
	if w = serve(p.Preflight(), http.MethodOptions, ""); w.Code != http.StatusNoContent || w.Header().Get("Allow") != "GET, OPTIONS" {
		t.Errorf("plain OPTIONS: %d %v", w.Code, w.Header())
	}

	var none *cors.Policy
	w = serve(none.Handler(next), http.MethodGet, "https://app.example")
	if w.Code != http.StatusTeapot || len(w.Header()) != 0 {
		t.Errorf("nil policy: %d %v", w.Code, w.Header())
	}
	w = serve(none.Preflight(), http.MethodOptions, "https://app.example", "Access-Control-Request-Method", "GET")
	if w.Code != http.StatusForbidden || len(corsHeaders(w.Header())) != 0 {
		t.Errorf("nil policy preflight: %d %v", w.Code, w.Header())
	}
}

func TestHandler_Wildcard(t *testing.T) {
	p, err := cors.New([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(p.Handler(http.NotFoundHandler()), http.MethodGet, "https://any.example")
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://any.example" {
		t.Errorf("Access-Control-Allow-Origin = %q; want the origin itself, never *", got)
	}
}

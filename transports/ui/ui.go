// Package ui is Herald's operator page at /ui: server-rendered HTML (from
// templates embedded in the binary, html/template escaping everything)
// with a small vanilla script, no front-end build step.
//
//	GET  /ui/                              the subscriptions, filtered by topic, processor and state, in pages
//	GET  /ui/subscriptions/{id}            one subscription: lease, cursor and lag, recent attempts, dead letters
//	POST /ui/subscriptions/{id}/replay     send its dead letters back (all, or those that died since a time)
//	POST /ui/subscriptions/{id}/cancel     end it (SubscriptionEnd SourceCancelling)
//	GET  /ui/live                          events as they arrive (server-sent events from /ui/live/stream)
//	GET  /ui/presence                      instances' presence and the service levels, kept fresh
//
// With authorization on, the page is for admins only: every request must
// carry an admin's key (a browser sends it with HTTP Basic, any user name,
// the key as the password). Off (a loopback server), it is open. Every
// answer carries a strict Content-Security-Policy (scripts from 'self'
// only, no framing), X-Content-Type-Options and no caching; every POST
// is refused cross-origin (http.CrossOriginProtection) and without the
// page's CSRF token, a double-submit cookie signed for the principal.
package ui

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/eventing/presence"
	"github.com/herald-eventing/herald/transports/auth"
	"github.com/herald-eventing/herald/transports/httperror"
	"github.com/herald-eventing/herald/transports/stream"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is the policy of every answer under /ui.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// csrfCookie is the name of the double-submit cookie; the forms carry the
// same value in the field csrfField.
const (
	csrfCookie = "herald_ui_csrf"
	csrfField  = "csrf"
)

// Options configure New.
type Options struct {
	Service *eventing.Service
	// Presence is the presence tracker; nil shows presence as off.
	Presence *presence.Tracker
	// Auth authenticates every request, and then only admins pass; nil
	// when authorization is off (the page is open).
	Auth   *auth.Authenticator
	Logger *slog.Logger
}

// Handler serves /ui and everything under it.
type Handler struct {
	svc      *eventing.Service
	presence *presence.Tracker
	authOn   bool
	logger   *slog.Logger
	pages    map[string]*template.Template
	key      []byte // signs CSRF tokens
	root     http.Handler
	live     *stream.Handler
}

// New returns the handler of /ui and /ui/….
func New(o Options) (*Handler, error) {
	if o.Service == nil {
		return nil, errors.New("ui: Options.Service is nil")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: o.Service, presence: o.Presence, authOn: o.Auth != nil, logger: o.Logger, pages: map[string]*template.Template{}, key: make([]byte, 32)}
	rand.Read(h.key)
	for _, page := range []string{"subscriptions", "subscription", "live", "presence", "error"} {
		t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", page, err)
		}
		h.pages[page] = t
	}
	h.live = &stream.Handler{Service: o.Service, Logger: o.Logger}
	static, _ := fs.Sub(staticFS, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /ui/{$}", h.subscriptions)
	mux.HandleFunc("GET /ui/subscriptions/{id}", h.subscription)
	mux.HandleFunc("POST /ui/subscriptions/{id}/replay", h.checked(h.replay))
	mux.HandleFunc("POST /ui/subscriptions/{id}/cancel", h.checked(h.cancel))
	mux.HandleFunc("GET /ui/live", h.livePage)
	mux.HandleFunc("GET /ui/live/stream", h.liveStream)
	mux.HandleFunc("GET /ui/presence", h.presencePage)
	mux.HandleFunc("GET /ui/presence/fragment", h.presenceFragment)
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no page %s", r.URL.Path))
	})
	var root http.Handler = http.NewCrossOriginProtection().Handler(mux)
	root = h.admins(root)
	root = o.Auth.Require(root) // nil: passes every request through
	h.root = root
	return h, nil
}

// ServeHTTP sets the security headers and serves the page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	h.root.ServeHTTP(w, r)
}

// admins lets only admins through when authorization is on.
func (h *Handler) admins(next http.Handler) http.Handler {
	if !h.authOn {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := access.FromContext(r.Context())
		if !p.IsAdmin() {
			httperror.Write(w, access.Deny("ui", fmt.Sprintf("the operator page is for admins; the %s key %q may not", p.Role, p.Name)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// principal names the request's principal for CSRF tokens and logs ("" when
// authorization is off).
func principal(r *http.Request) string {
	if p := access.FromContext(r.Context()); p != nil {
		return p.Name
	}
	return ""
}

// token returns the request's CSRF token, setting the cookie when the
// request has no valid one: random bytes and their HMAC for the principal.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && h.valid(r, c.Value) {
		return c.Value
	}
	nonce := make([]byte, 18)
	rand.Read(nonce)
	v := base64.RawURLEncoding.EncodeToString(nonce) + "." + h.sign(nonce, principal(r))
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/ui/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return v
}

func (h *Handler) sign(nonce []byte, who string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write(nonce)
	m.Write([]byte{0})
	m.Write([]byte(who))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid checks a token's signature for the request's principal.
func (h *Handler) valid(r *http.Request, v string) bool {
	n, sig, ok := strings.Cut(v, ".")
	nonce, err := base64.RawURLEncoding.DecodeString(n)
	if !ok || err != nil || len(nonce) != 18 {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(h.sign(nonce, principal(r))))
}

// checked refuses a POST whose form does not carry the cookie's token.
func (h *Handler) checked(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		c, err := r.Cookie(csrfCookie)
		field := r.PostFormValue(csrfField)
		if err != nil || field == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(field)) != 1 || !h.valid(r, field) {
			h.fail(w, r, http.StatusForbidden, "the form's CSRF token is missing or does not match: reload the page and try again")
			return
		}
		fn(w, r)
	}
}

// view is what every page's layout gets.
type view struct {
	Title     string
	Nav       string
	CSRF      string
	Now       time.Time
	Principal string
	AuthOn    bool
	Data      any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	v := view{Title: title, Nav: page, CSRF: h.token(w, r), Now: h.svc.Clock().Now(), Principal: principal(r), AuthOn: h.authOn, Data: data}
	h.execute(w, status, page, "layout", v)
}

func (h *Handler) execute(w http.ResponseWriter, status int, page, name string, v any) {
	var b bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&b, name, v); err != nil {
		h.logger.Error("ui: cannot render a page", slog.String("page", page), slog.Any("err", err))
		http.Error(w, "the page cannot be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fail renders the error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", http.StatusText(status), msg)
}

// failErr renders the error page for a Service error.
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := httperror.Status(err)
	if status == http.StatusUnauthorized {
		httperror.Write(w, err)
		return
	}
	h.fail(w, r, status, httperror.Message(err))
}

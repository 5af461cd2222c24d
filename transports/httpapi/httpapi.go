// Package httpapi assembles every URL Herald serves into one http.Handler:
// the SOAP front end (POST /eventing, POST /subscriptions, GET
// /eventing?wsdl), the schemas (GET /xsd/{name}), pull by cursor (GET
// /subscriptions/{id}/events), the browser stream (GET /stream), the
// WebSocket (GET /ws), the operator page (/ui, package ui), the metrics,
// the health checks and the message endpoint, whose path is a setting and
// so is served from the root. The stream and the pull reads answer other
// origins' pages by the AllowOrigins list (transports/cors); the WebSocket
// accepts them by the same list.
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/eventing/presence"
	"github.com/herald-eventing/herald/transports/auth"
	"github.com/herald-eventing/herald/transports/cors"
	"github.com/herald-eventing/herald/transports/httperror"
	"github.com/herald-eventing/herald/transports/keyapi"
	"github.com/herald-eventing/herald/transports/messages"
	"github.com/herald-eventing/herald/transports/metrics"
	"github.com/herald-eventing/herald/transports/pull"
	"github.com/herald-eventing/herald/transports/ratelimit"
	"github.com/herald-eventing/herald/transports/soap"
	"github.com/herald-eventing/herald/transports/stream"
	"github.com/herald-eventing/herald/transports/ui"
	"github.com/herald-eventing/herald/transports/ws"
	"github.com/herald-eventing/herald/xsd"
)

// Options configure New.
type Options struct {
	Service *eventing.Service
	Logger  *slog.Logger
	// MaxSOAPBody and MaxMessageBody cap request sizes (package defaults
	// when zero).
	MaxSOAPBody    int64
	MaxMessageBody int64
	// Keyring holds the API keys; /keys manages them (admins only). Nil
	// serves no /keys.
	Keyring *access.Keyring
	// Authorize requires a valid key on every request but the WSDL, the
	// schemas and /healthz (the Service must authorize too).
	Authorize bool
	// ClientSubject maps a verified TLS client certificate to a key name
	// (tlsconf.ClientSubject); nil when client certificates are off.
	ClientSubject func(r *http.Request) (string, bool)
	// ManagementLimiter and PublishLimiter limit the SOAP operations and
	// the publishing of each non-admin key (nil: no limit).
	ManagementLimiter, PublishLimiter *ratelimit.Limiter
	// Metrics serves GET /metrics (admins only when Authorize is on) and
	// counts the message endpoint's events; nil serves none.
	Metrics *metrics.Metrics
	// Ready says whether Herald can serve (the store open, the dispatcher
	// running) for GET /readyz; nil checks only the Service's dispatcher.
	Ready func() error
	// Presence is the presence tracker the operator page (/ui) shows;
	// nil shows presence as off.
	Presence *presence.Tracker
	// AllowOrigins lists the web origins (https://app.example.org:8443)
	// whose pages may read /stream and GET /subscriptions/{id}/events
	// (CORS) and open /ws; "*" allows every origin and is dangerous (see
	// package transports/cors). Empty: no other origin.
	AllowOrigins []string
}

// New returns the handler for every Herald URL.
func New(o Options) (http.Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var keys, required *auth.Authenticator
	if o.Keyring != nil {
		keys = &auth.Authenticator{Keyring: o.Keyring, ClientSubject: o.ClientSubject}
	}
	if o.Authorize {
		if keys == nil {
			return nil, errors.New("httpapi: Authorize needs a Keyring")
		}
		required = keys
	}
	soapServer, err := soap.NewServer(soap.Options{Service: o.Service, Logger: o.Logger, MaxBody: o.MaxSOAPBody, Auth: required, Limiter: o.ManagementLimiter})
	if err != nil {
		return nil, err
	}
	origins, err := cors.New(o.AllowOrigins)
	if err != nil {
		return nil, fmt.Errorf("httpapi: AllowOrigins: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/eventing", soapServer)
	mux.Handle(soap.ManagerPath, soapServer)
	// CORS outside the key check: a preflight carries no key, and a page
	// may read a 401 or 429.
	mux.Handle("GET "+soap.ManagerPath+"/{id}/events", origins.Handler(required.Require(&pull.Handler{Service: o.Service})))
	mux.Handle("OPTIONS "+soap.ManagerPath+"/{id}/events", origins.Preflight())
	mux.Handle("GET /stream", origins.Handler(required.Require(&stream.Handler{Service: o.Service, Logger: o.Logger})))
	mux.Handle("OPTIONS /stream", origins.Preflight())
	// A WebSocket handshake is not subject to CORS: the handler checks
	// the origin itself, before the key.
	socket := &ws.Handler{Service: o.Service, Origins: origins, Logger: o.Logger}
	mux.Handle("GET /ws", socket.CheckOrigin(ws.Credential(required.Require(socket))))
	if keys != nil {
		(&keyapi.Handler{Keyring: o.Keyring, Auth: keys, Logger: o.Logger}).Register(mux)
	}
	page, err := ui.New(ui.Options{Service: o.Service, Presence: o.Presence, Auth: required, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	mux.Handle("/ui", page)
	mux.Handle("/ui/", page)
	mux.HandleFunc("GET /xsd/{name}", func(w http.ResponseWriter, r *http.Request) {
		doc, ok := xsd.Document(r.PathValue("name"), soap.Base(r))
		if !ok {
			http.Error(w, fmt.Sprintf("no schema %q", r.PathValue("name")), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(doc)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	ready := o.Ready
	if ready == nil {
		ready = func() error {
			if !o.Service.Dispatcher().Running() {
				return errors.New("delivery is not running")
			}
			return nil
		}
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(); err != nil {
			httperror.Plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		fmt.Fprintln(w, "ready")
	})
	var observer messages.Observer
	if o.Metrics != nil {
		observer = o.Metrics
		mux.Handle("GET /metrics", required.Require(adminOnly(o.Metrics.Handler())))
	}
	mux.Handle("/", required.Require(&messages.Handler{Service: o.Service, Logger: o.Logger, MaxBody: o.MaxMessageBody, Limiter: o.PublishLimiter, Observer: observer}))
	return mux, nil
}

// adminOnly lets only admins through (everyone when authorization is off:
// no principal in the context).
func adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := access.FromContext(r.Context()); p != nil && !p.IsAdmin() {
			httperror.Write(w, access.Deny("metrics", "operator reads are for admins"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

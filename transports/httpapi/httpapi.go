// Package httpapi assembles every URL Herald serves into one http.Handler:
// the SOAP front end (POST /eventing, POST /subscriptions, GET
// /eventing?wsdl), the schemas (GET /xsd/{name}), pull by cursor (GET
// /subscriptions/{id}/events), the browser stream (GET /stream), the
// WebSocket (GET /ws), the health check and the message endpoint, whose
// path is a setting and so is served from the root. The stream and the
// pull reads answer other origins' pages by the AllowOrigins list
// (transports/cors); the WebSocket accepts them by the same list.
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/auth"
	"github.com/herald-eventing/herald/transports/cors"
	"github.com/herald-eventing/herald/transports/keyapi"
	"github.com/herald-eventing/herald/transports/messages"
	"github.com/herald-eventing/herald/transports/pull"
	"github.com/herald-eventing/herald/transports/ratelimit"
	"github.com/herald-eventing/herald/transports/soap"
	"github.com/herald-eventing/herald/transports/stream"
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
	mux.Handle("/", required.Require(&messages.Handler{Service: o.Service, Logger: o.Logger, MaxBody: o.MaxMessageBody, Limiter: o.PublishLimiter}))
	return mux, nil
}

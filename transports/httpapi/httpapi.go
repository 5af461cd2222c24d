// Package httpapi assembles every URL Herald serves into one http.Handler:
// the SOAP front end (POST /eventing, POST /subscriptions, GET
// /eventing?wsdl), the schemas (GET /xsd/{name}), pull by cursor (GET
// /subscriptions/{id}/events), the browser stream (GET /stream), the
// health check and the message endpoint, whose path is a setting and so is
// served from the root.
package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/messages"
	"github.com/herald-eventing/herald/transports/pull"
	"github.com/herald-eventing/herald/transports/soap"
	"github.com/herald-eventing/herald/transports/stream"
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
}

// New returns the handler for every Herald URL.
func New(o Options) (http.Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	soapServer, err := soap.NewServer(soap.Options{Service: o.Service, Logger: o.Logger, MaxBody: o.MaxSOAPBody})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/eventing", soapServer)
	mux.Handle(soap.ManagerPath, soapServer)
	mux.Handle("GET "+soap.ManagerPath+"/{id}/events", &pull.Handler{Service: o.Service})
	mux.Handle("GET /stream", &stream.Handler{Service: o.Service, Logger: o.Logger})
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
	mux.Handle("/", &messages.Handler{Service: o.Service, Logger: o.Logger, MaxBody: o.MaxMessageBody})
	return mux, nil
}

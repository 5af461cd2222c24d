// Package keyapi is Herald's key management over HTTP, for admins only
// (whether or not authorization is on for the rest):
//
//	POST   /keys         {"role": "publisher", "topics": ["acc.*"], "name": "ci"}
//	                     → 201 {"name": …, "role": …, "topics": […], "created": …, "key": "hk_…"}
//	GET    /keys         → 200 [{"name": …, "role": …, "topics": […], "created": …}]
//	DELETE /keys/{name}  → 204
//
// The key is in the answer to POST and nowhere else, ever: Herald keeps
// only its hash.
package keyapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/auth"
	"github.com/herald-eventing/herald/transports/httperror"
)

// maxBody caps a request body.
const maxBody = 16 << 10

// Handler serves /keys and /keys/{name}.
type Handler struct {
	Keyring *access.Keyring
	Auth    *auth.Authenticator
	Logger  *slog.Logger
}

// A Key is a key as the API shows it.
type Key struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Topics  []string  `json:"topics"`
	Created time.Time `json:"created"`
	// Key is the secret, only in the answer that created it.
	Key string `json:"key,omitempty"`
}

// CreateRequest is the body of POST /keys.
type CreateRequest struct {
	Name   string   `json:"name"`
	Role   string   `json:"role"`
	Topics []string `json:"topics"`
}

func view(k *access.Key) Key {
	v := Key{Name: k.Name, Role: string(k.Role), Topics: []string{}, Created: k.Created}
	for _, t := range k.Topics {
		v.Topics = append(v.Topics, string(t))
	}
	return v
}

// Register adds the handler's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /keys", h.admin(h.create))
	mux.Handle("GET /keys", h.admin(h.list))
	mux.Handle("DELETE /keys/{name}", h.admin(h.revoke))
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// admin authenticates the request and lets only admins through.
func (h *Handler) admin(fn http.HandlerFunc) http.Handler {
	return h.Auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := access.FromContext(r.Context())
		if !p.IsAdmin() {
			httperror.Write(w, access.Deny("keys", fmt.Sprintf("key management is for admins; the %s key %q may not", p.Role, p.Name)))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		fn(w, r)
	}))
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(data, &req)
	}
	if err != nil {
		httperror.Plain(w, http.StatusBadRequest, "the body is not a JSON key request: "+err.Error())
		return
	}
	role, err := access.ParseRole(req.Role)
	if err != nil {
		httperror.Plain(w, http.StatusBadRequest, err.Error())
		return
	}
	var topics []access.Pattern
	for _, t := range req.Topics {
		p, err := access.ParsePattern(t)
		if err != nil {
			httperror.Plain(w, http.StatusBadRequest, err.Error())
			return
		}
		topics = append(topics, p)
	}
	k, secret, err := h.Keyring.Create(r.Context(), req.Name, role, topics)
	switch {
	case errors.Is(err, access.ErrKeyExists):
		httperror.Plain(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		httperror.Plain(w, http.StatusBadRequest, err.Error())
		return
	}
	h.logger().Info("key created", slog.String("principal", access.FromContext(r.Context()).Name),
		slog.String("key_name", k.Name), slog.String("role", string(k.Role)), slog.Any("topics", k.Topics))
	v := view(k)
	v.Key = secret
	writeJSON(w, http.StatusCreated, v)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	out := []Key{}
	for _, k := range h.Keyring.Keys() {
		out = append(out, view(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := h.Keyring.Revoke(r.Context(), name)
	switch {
	case errors.Is(err, access.ErrNoKey):
		httperror.Plain(w, http.StatusNotFound, fmt.Sprintf("no key named %q", name))
		return
	case err != nil:
		httperror.Plain(w, http.StatusInternalServerError, "cannot revoke the key: "+err.Error())
		return
	}
	h.logger().Info("key revoked", slog.String("principal", access.FromContext(r.Context()).Name), slog.String("key_name", name))
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

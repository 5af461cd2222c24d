// Package messages is the message endpoint: publishers POST a Cloud42
// <message> (text/xml or application/xml) to it; it is validated against
// Herald's message schema and, once durable, answered 202 Accepted. Bad
// input gets a 4xx status with one line that says exactly what is wrong.
//
// The endpoint's path is a setting (setEndpointAddress moves it), so the
// handler is mounted at the root and answers 404 for any other path.
package messages

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/httperror"
	"github.com/herald-eventing/herald/transports/ratelimit"
	"github.com/herald-eventing/herald/xsd"
)

// DefaultMaxBody is the largest message accepted (64 KiB): event messages
// are small.
const DefaultMaxBody = 64 << 10

// Handler serves the message endpoint.
type Handler struct {
	Service *eventing.Service
	// MaxBody caps a message's size (DefaultMaxBody).
	MaxBody int64
	Logger  *slog.Logger
	// Limiter limits each publisher key's rate (admins and requests
	// without a key are not limited); nil for no limit.
	Limiter *ratelimit.Limiter
	// Observer counts accepted and refused events (metrics); nil for none.
	Observer Observer
}

// An Observer is told of every event the endpoint accepts or refuses. It
// must be quick and must not block.
type Observer interface {
	Accepted()
	// Rejected names the reason: method, unsupported_media_type,
	// too_large, bad_request, invalid, rate_limited, unauthenticated,
	// forbidden or store_error.
	Rejected(reason string)
}

func (h *Handler) rejected(reason string) {
	if h.Observer != nil {
		h.Observer.Rejected(reason)
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := h.Service.MessagePath()
	if r.URL.Path != path {
		httperror.Plain(w, http.StatusNotFound, fmt.Sprintf("no endpoint at %s (messages go to %s)", r.URL.Path, path))
		return
	}
	if r.Method != http.MethodPost {
		h.rejected("method")
		w.Header().Set("Allow", "POST")
		httperror.Plain(w, http.StatusMethodNotAllowed, "POST a <message> (Content-Type: text/xml) to this endpoint")
		return
	}
	ct := r.Header.Get("Content-Type")
	typ, charset, ok := mediaType(ct)
	if !ok || (typ != "text/xml" && typ != "application/xml") {
		h.rejected("unsupported_media_type")
		httperror.Plain(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not accepted: send text/xml or application/xml", ct))
		return
	}
	if charset != "" && charset != "utf-8" && charset != "us-ascii" {
		h.rejected("unsupported_media_type")
		httperror.Plain(w, http.StatusUnsupportedMediaType, fmt.Sprintf("charset %q is not accepted: send UTF-8", charset))
		return
	}
	max := h.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	data, err := readBody(w, r, max)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.rejected("too_large")
			httperror.Plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("message larger than %d bytes", max))
			return
		}
		h.rejected("bad_request")
		httperror.Plain(w, http.StatusBadRequest, "cannot read the message: "+err.Error())
		return
	}
	m, err := xsd.ParseMessage(data)
	if err != nil {
		h.rejected("invalid")
		httperror.Plain(w, http.StatusBadRequest, err.Error())
		return
	}
	if p := access.FromContext(r.Context()); p != nil && !p.IsAdmin() {
		if ok, wait := h.Limiter.Allow(p.Name); !ok {
			h.rejected("rate_limited")
			httperror.Write(w, &httperror.RateLimited{RetryAfter: wait, What: "the publishing rate of this key"})
			return
		}
	}
	ev, err := h.Service.Publish(r.Context(), &eventing.Message{
		Topic: m.Topic, InstanceID: m.InstanceID, Timestamp: m.Timestamp, Text: m.Text, Info: m.Info,
	})
	if err != nil {
		if r.Context().Err() != nil {
			return // the publisher went away
		}
		if st := httperror.Status(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
			if st == http.StatusUnauthorized {
				h.rejected("unauthenticated")
			} else {
				h.rejected("forbidden")
			}
			httperror.Write(w, err)
			return
		}
		if h.Logger != nil {
			h.Logger.Error("cannot store an event", slog.Any("err", err))
		}
		h.rejected("store_error")
		httperror.Plain(w, http.StatusServiceUnavailable, "the event could not be stored; try again")
		return
	}
	if h.Observer != nil {
		h.Observer.Accepted()
	}
	hdr := w.Header()
	hdr["Content-Type"] = textPlain
	hdr["Herald-Sequence"] = []string{strconv.FormatUint(ev.Seq, 10)}
	w.WriteHeader(http.StatusAccepted)
	w.Write(accepted)
}

var (
	textPlain = []string{"text/plain; charset=utf-8"}
	accepted  = []byte("accepted\n")
)

// mediaType reads the type and charset of a Content-Type, lower-cased; it
// is lenient with parameter syntax but not with a missing type.
func mediaType(ct string) (typ, charset string, ok bool) {
	typ, params, _ := strings.Cut(ct, ";")
	typ = strings.ToLower(strings.TrimSpace(typ))
	if typ == "" || !strings.Contains(typ, "/") {
		return "", "", false
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "charset") {
			charset = strings.ToLower(strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	return typ, charset, true
}

// readBody reads the request body up to max bytes, in one allocation when
// the client sent a Content-Length.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, max)
	if n := r.ContentLength; n >= 0 && n <= max {
		data := make([]byte, n)
		if _, err := io.ReadFull(body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return io.ReadAll(body)
}

package pull

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httperror"
)

// Handler serves GET /subscriptions/{id}/events?cursor=C&max=N&wait=30s:
// a long poll that answers JSON (the default) or XML (Accept:
// application/xml or text/xml, the PullResponse element of Herald's
// schema).
type Handler struct {
	Service *eventing.Service
}

// Event is one event in a JSON pull response (and the browser stream).
type Event struct {
	Seq        uint64    `json:"seq"`
	Received   time.Time `json:"received"`
	Topic      string    `json:"topic"`
	InstanceID string    `json:"instanceId,omitempty"`
	Timestamp  string    `json:"timestamp,omitempty"`
	Text       string    `json:"text,omitempty"`
	Info       string    `json:"info,omitempty"`
}

// NewEvent converts an event for JSON.
func NewEvent(ev *eventing.Event) Event {
	return Event{Seq: ev.Seq, Received: ev.Received.UTC(), Topic: ev.Topic, InstanceID: ev.InstanceID, Timestamp: ev.Timestamp, Text: ev.Text, Info: ev.Info}
}

// Response is a JSON pull response.
type Response struct {
	Subscription string  `json:"subscription"`
	Events       []Event `json:"events"`
	// Cursor is what to send next time to acknowledge these events and
	// read on.
	Cursor string `json:"cursor"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	cursor, err := eventing.ParseCursor(q.Get("cursor"))
	if err != nil {
		httperror.Plain(w, http.StatusBadRequest, fmt.Sprintf("cursor %q is not a cursor Herald handed out", q.Get("cursor")))
		return
	}
	max := 0
	if v := q.Get("max"); v != "" {
		if max, err = strconv.Atoi(v); err != nil || max < 1 {
			httperror.Plain(w, http.StatusBadRequest, fmt.Sprintf("max %q is not a positive integer", v))
			return
		}
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 {
			httperror.Plain(w, http.StatusBadRequest, fmt.Sprintf("wait %q is not a duration such as 30s", v))
			return
		}
	}
	// A long poll outlasts the server's write timeout: it sets its own.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(min(wait, eventing.MaxPullWait) + 30*time.Second))
	p, err := h.Service.Pull(r.Context(), id, cursor, max, wait)
	if err != nil {
		if httperror.Status(err) == http.StatusInternalServerError {
			err = fmt.Errorf("cannot read the events: %w", err)
		}
		httperror.Write(w, err)
		return
	}
	if wantsXML(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		doc := etree.NewDocument()
		doc.SetRoot(p.Element())
		doc.WriteTo(w)
		return
	}
	resp := Response{Subscription: id, Events: []Event{}, Cursor: strconv.FormatUint(p.Cursor, 10)}
	for _, ev := range p.Events {
		resp.Events = append(resp.Events, NewEvent(ev))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// wantsXML reports whether an Accept header prefers XML over JSON.
func wantsXML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch mt {
		case "application/json":
			return false
		case "application/xml", "text/xml":
			return true
		}
	}
	return false
}

// Package stream pushes events to browsers as server-sent events:
// GET /stream?topic=T (or ?filter=XPATH, the prefix m bound to the message
// namespace). Each event's id is its log position, so an EventSource that
// reconnects with Last-Event-ID resumes without loss (within the log's
// retention). Comment lines keep proxies from closing an idle stream;
// Service.Drain (server shutdown) ends the streams.
package stream

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httperror"
	"github.com/herald-eventing/herald/transports/pull"
)

// Handler serves the stream.
type Handler struct {
	Service *eventing.Service
	// Heartbeat is the interval of keep-alive comments (15 s).
	Heartbeat time.Duration
	// WriteTimeout bounds each write to the client (30 s); the server's
	// own WriteTimeout does not apply to a stream.
	WriteTimeout time.Duration
	// Stop ends every open stream (server shutdown); nil for never.
	Stop   <-chan struct{}
	Logger *slog.Logger
}

func bad(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintln(w, msg)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	topic, expr := strings.TrimSpace(q.Get("topic")), strings.TrimSpace(q.Get("filter"))
	var spec *eventing.FilterSpec
	switch {
	case topic != "" && expr != "":
		bad(w, "give topic or filter, not both")
		return
	case topic != "":
		spec = eventing.TopicFilter(topic)
	case expr != "":
		spec = &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: expr, Namespaces: map[string]string{"m": eventing.MessageNS}}
	default:
		bad(w, "give a topic (?topic=T) or an XPath filter (?filter=/m:message[m:topic='T'])")
		return
	}
	if err := h.Service.CanRead(r.Context(), topic); err != nil {
		httperror.Write(w, err)
		return
	}
	filter, err := eventing.CompileFilter(spec)
	if err == nil {
		err = eventing.ProbeFilter(filter) // refused here, not evaluated per event
	}
	if err != nil {
		httperror.Write(w, err)
		return
	}
	pos := h.Service.Head()
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("lastEventId")
	}
	if last != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
		if err != nil {
			bad(w, fmt.Sprintf("Last-Event-ID %q is not an event id from this stream", last))
			return
		}
		pos = n
	}
	// The server's write timeout would end the stream: each write gets
	// its own deadline instead, so a client that stops reading is
	// dropped within WriteTimeout while a reading one stays.
	rc := http.NewResponseController(w)
	grace := h.WriteTimeout
	if grace <= 0 {
		grace = 30 * time.Second
	}
	flush := func() bool {
		return rc.Flush() == nil
	}
	deadline := func() { rc.SetWriteDeadline(time.Now().Add(grace)) }
	deadline()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if !flush() {
		return
	}

	beat := h.Heartbeat
	if beat <= 0 {
		beat = 15 * time.Second
	}
	ticker := time.NewTicker(beat)
	defer ticker.Stop()
	topicIndex := ""
	if spec.Dialect == eventing.DialectTopic {
		topicIndex = topic
	}
	for {
		_, changed := h.Service.Dispatcher().Matched()
		// TODO(budget): ReadMatching counts an event whose filter was stopped
		// (eventing.ErrFilterBudget) as no match; tell the client instead.
		evs, through, err := h.Service.ReadMatching(r.Context(), pos, 256, topicIndex, filter)
		if err != nil {
			if r.Context().Err() == nil && h.Logger != nil {
				h.Logger.Error("stream cannot read the log", slog.Any("err", err))
			}
			return
		}
		if len(evs) > 0 {
			deadline()
		}
		for _, ev := range evs {
			data, _ := json.Marshal(pull.NewEvent(ev))
			fmt.Fprintf(w, "id: %d\nevent: message\ndata: %s\n\n", ev.Seq, data)
		}
		if len(evs) > 0 && !flush() {
			return
		}
		pos = through
		if len(evs) == 256 || through < h.Service.Head() {
			continue // more to read before waiting
		}
		select {
		case <-changed:
		case <-ticker.C:
			deadline()
			fmt.Fprint(w, ": heartbeat\n\n")
			if !flush() {
				return
			}
		case <-r.Context().Done():
			return
		case <-h.Service.Draining():
			return // the server is shutting down
		}
	}
}

// Package ws pushes events over a WebSocket (GET /ws): what package
// transports/stream does with server-sent events, for clients that prefer
// a socket, and for browsers that must send a key (an EventSource cannot).
//
// # Frames
//
// Every frame is a JSON text message. The client sends one, first:
//
//	{"subscribe": {"topic": "disk"}}
//	{"subscribe": {"filter": "/m:message[m:topic='disk']", "cursor": 41}}
//
// a topic or an XPath 1.0 filter (the prefix m bound to the message
// namespace, as for the stream), and optionally the cursor to resume
// after: the log position of the last event the client received, as a
// JSON number or a string of digits ("41"), the Last-Event-ID of the
// stream. Herald answers with
//
//	{"subscribed": {"topic": "disk"}, "cursor": 41}
//
// whose cursor is the position the events follow (the client's cursor, or
// the log's head when it gave none: resuming from it loses nothing), then
// one frame per event, in log order:
//
//	{"cursor": 42, "event": {"seq": 42, "received": "2026-11-22T10:00:00Z", "topic": "disk", "instanceId": "i-38e24051", "text": "disk full"}}
//
// event has the fields of a JSON pull response's events (pull.Event);
// cursor is its log position (the same as event.seq). Positions are always
// sent as JSON numbers: they stay far below 2^53, where JavaScript's
// numbers are exact. A client that reconnects with the last cursor it
// received gets exactly the events after it (none lost while the log
// retains them, none twice). A cursor ahead of the log is refused. The
// client sends nothing else: a second data message ends the connection.
//
// # Ends
//
// Before closing for a reason the client should read in full, Herald sends
// {"error": "…"}; the close frame repeats it (cut to 123 bytes). Close
// statuses:
//
//	1001 going away        Herald is shutting down (Service.Drain)
//	1003 unsupported data  a binary message
//	1008 policy violation  a bad or missing subscribe message (10 s to send
//	                       it, 16 KiB at most), a topic the key may not
//	                       read, a filter that cannot be compiled or that
//	                       exceeded its evaluation budget
//	                       (eventing.ErrFilterBudget) on an event, a data
//	                       message after the subscription, no pong to
//	                       Herald's ping in time
//	1009 message too big   a message over 16 KiB
//	1011 internal error    the log cannot be read
//
// A client that does not read is disconnected once one write has waited
// WriteTimeout (10 s): Herald buffers at most one batch of events read
// from the log per connection, and a full TCP window lets no close frame
// through either, so such a client sees the connection end without one
// (1006 abnormal closure in the browser). Herald pings every PingInterval
// (15 s) and closes a peer that does not answer within PongTimeout (10 s);
// it answers the client's pings.
//
// # Origins
//
// Browsers send Origin on a WebSocket handshake and apply no CORS to it: the
// server must check it, or any page could use the browser's ambient
// credentials (a TLS client certificate, cached Basic credentials, a
// loopback Herald without auth). Without an allow-list Herald accepts only
// requests without Origin (other clients than browsers) and same-origin
// ones (the Origin's scheme, host and port those of the request: https when
// it came over TLS; behind a TLS-terminating proxy, list the public origin);
// with one (Origins, the --allow-origins list of package transports/cors)
// also the origins on it, exactly. Any other origin is answered 403.
//
// # Keys
//
// The stream's rules apply: with auth on, the handshake needs a key, and the
// key must be allowed to read the topic (an XPath filter needs an
// unrestricted key). A browser cannot set Authorization on a WebSocket, so
// Credential also takes the key from a subprotocol entry:
//
//	new WebSocket("wss://herald.example.org/ws", ["herald.v1", "herald.key." + key])
//
// Herald selects herald.v1 (the browser fails a handshake that offered
// subprotocols and got none back) and never echoes the key entry. The key
// travels in a request header, as Authorization would; unlike a query
// parameter, it stays out of access logs, the Referer and the browser's
// history. Keys from herald keys create (hk_ and base64url) are valid
// subprotocol tokens; a bootstrap admin key with other characters cannot be
// sent this way, and a web page should hold a subscriber key anyway. Over
// anything but loopback, use TLS (wss://): otherwise the key crosses the
// network in clear, as it would in any header.
package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/cors"
	"github.com/herald-eventing/herald/transports/httperror"
	"github.com/herald-eventing/herald/transports/pull"
)

// Subprotocol is the subprotocol Herald selects when the client offers it.
const Subprotocol = "herald.v1"

// KeyPrefix starts a subprotocol entry that carries an API key
// (herald.key.KEY), for browsers, which cannot set Authorization.
const KeyPrefix = "herald.key."

// MaxMessage is the largest message a client may send (the subscribe
// message; a filter is at most eventing.MaxFilterLength bytes).
const MaxMessage = 16 << 10

// batch is how many matching events one read of the log returns: what a
// connection holds in memory at most.
const batch = 64

// Handler serves GET /ws.
type Handler struct {
	Service *eventing.Service
	// Origins are the other origins allowed besides the same origin (nil:
	// none).
	Origins *cors.Policy
	// PingInterval is how often Herald pings (15 s); PongTimeout how long
	// it waits for the pong (10 s).
	PingInterval, PongTimeout time.Duration
	// WriteTimeout bounds each write (10 s): a client that takes longer
	// to make room for one frame is disconnected.
	WriteTimeout time.Duration
	// SubscribeTimeout is how long a client has to send its subscribe
	// message (10 s).
	SubscribeTimeout time.Duration
	// Logger gets the disconnections of slow and dead clients (nil:
	// discarded).
	Logger *slog.Logger
}

// Subscribe is the client's message.
type Subscribe struct {
	Subscribe *Selector `json:"subscribe"`
	// Cursor is the position to resume after; nil for the log's head.
	Cursor *Cursor `json:"cursor,omitempty"`
}

// A Selector chooses the events: a topic or an XPath filter.
type Selector struct {
	Topic  string `json:"topic,omitempty"`
	Filter string `json:"filter,omitempty"`
	// Cursor is the position to resume after, as the issue writes it
	// inside the subscribe object; the top-level cursor is accepted too.
	Cursor *Cursor `json:"cursor,omitempty"`
}

// Subscribed is Herald's answer to Subscribe.
type Subscribed struct {
	Subscribed Selector `json:"subscribed"`
	// Cursor is the position the events follow.
	Cursor Cursor `json:"cursor"`
}

// Frame carries one event.
type Frame struct {
	// Cursor is the event's log position.
	Cursor Cursor     `json:"cursor"`
	Event  pull.Event `json:"event"`
}

// ErrorFrame says why Herald is about to close the connection.
type ErrorFrame struct {
	Error string `json:"error"`
}

// A Cursor is a log position: written as a JSON number, read from a number
// or a string of digits.
type Cursor uint64

// UnmarshalJSON reads 42 or "42".
func (c *Cursor) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("cursor %s is not a log position (a whole number, as Herald sends them)", truncate(string(b), 40))
	}
	*c = Cursor(n)
	return nil
}

func (h *Handler) durations() (ping, pong, write, subscribe time.Duration) {
	def := func(d, v time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return v
	}
	return def(h.PingInterval, 15*time.Second), def(h.PongTimeout, 10*time.Second),
		def(h.WriteTimeout, 10*time.Second), def(h.SubscribeTimeout, 10*time.Second)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// originAllowed applies the origin rules of the package documentation.
func (h *Handler) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || h.Origins.Allows(origin) {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return origin == scheme+"://"+strings.ToLower(r.Host)
}

// originPatterns maps exact origins to coder/websocket's patterns: with
// "://" a pattern is matched against scheme://host of the Origin with
// path.Match, so the pattern characters of an origin (an IPv6 host's
// brackets) are escaped.
func originPatterns(p *cors.Policy) []string {
	var out []string
	esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	for _, o := range p.Origins() {
		out = append(out, esc.Replace(o))
	}
	return out
}

func refuseOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, "origin %s may not open a WebSocket here (--allow-origins)\n", truncate(strconv.Quote(r.Header.Get("Origin")), 200))
}

// CheckOrigin answers a request from a refused origin with 403 before
// next (the key check) sees it; ServeHTTP checks again.
func (h *Handler) CheckOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.originAllowed(r) {
			refuseOrigin(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP checks the origin, upgrades the connection and serves the
// subscription until the client leaves, fails or Herald drains.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.originAllowed(r) {
		refuseOrigin(w, r)
		return
	}
	// Herald checked the origin, exactly; coder/websocket checks it again
	// with the same list (its own rule also accepts the request's host).
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{Subprotocol},
		OriginPatterns:     originPatterns(h.Origins),
		InsecureSkipVerify: h.Origins.AllowsAny(), // "*": documented as dangerous
	})
	if err != nil {
		return // Accept answered
	}
	defer conn.CloseNow()
	conn.SetReadLimit(MaxMessage)
	// The request's context carries the principal; after the hijack the
	// connection's own life is what counts.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	s := &session{h: h, conn: conn, log: h.logger().With(slog.String("remote", r.RemoteAddr))}
	s.ping, s.pong, s.write, s.subscribe = h.durations()
	s.run(ctx)
}

type session struct {
	h                            *Handler
	conn                         *websocket.Conn
	log                          *slog.Logger
	ping, pong, write, subscribe time.Duration
}

// end sends an Error frame (when the writer is free within a short time)
// and closes with code and the reason cut to what a close frame holds.
func (s *session) end(ctx context.Context, code websocket.StatusCode, msg string) {
	s.send(ctx, ErrorFrame{Error: msg})
	s.conn.Close(code, truncate(msg, 123))
}

// send writes one frame within the write timeout; an error means the
// connection is gone (coder/websocket closes it when a write times out).
func (s *session) send(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.write)
	defer cancel()
	err = s.conn.Write(wctx, websocket.MessageText, data)
	if err != nil && errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		s.log.Warn("websocket client too slow: disconnected", slog.Duration("write_timeout", s.write))
	}
	return err
}

// readSubscribe waits for the subscribe message.
func (s *session) readSubscribe(ctx context.Context) (*Subscribe, bool) {
	type result struct {
		typ  websocket.MessageType
		data []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		typ, data, err := s.conn.Read(ctx)
		got <- result{typ, data, err}
	}()
	timer := time.NewTimer(s.subscribe)
	defer timer.Stop()
	var res result
	select {
	case res = <-got:
	case <-timer.C:
		s.end(ctx, websocket.StatusPolicyViolation, fmt.Sprintf("no subscribe message within %s", s.subscribe))
		return nil, false
	case <-s.h.Service.Draining():
		s.conn.Close(websocket.StatusGoingAway, "Herald is shutting down")
		return nil, false
	}
	switch {
	case res.err != nil:
		return nil, false // gone, or closed by coder/websocket (too big)
	case res.typ != websocket.MessageText:
		s.end(ctx, websocket.StatusUnsupportedData, `send JSON text messages: {"subscribe": {"topic": "T"}}`)
		return nil, false
	}
	var sub Subscribe
	dec := json.NewDecoder(strings.NewReader(string(res.data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		s.end(ctx, websocket.StatusPolicyViolation, "the subscribe message is not valid: "+err.Error())
		return nil, false
	}
	if dec.More() {
		s.end(ctx, websocket.StatusPolicyViolation, "the subscribe message is not valid: data after the JSON object")
		return nil, false
	}
	return &sub, true
}

func (s *session) run(ctx context.Context) {
	svc := s.h.Service
	sub, ok := s.readSubscribe(ctx)
	if !ok {
		return
	}
	var sel Selector
	if sub.Subscribe != nil {
		sel = Selector{Topic: strings.TrimSpace(sub.Subscribe.Topic), Filter: strings.TrimSpace(sub.Subscribe.Filter)}
		switch {
		case sub.Cursor != nil && sub.Subscribe.Cursor != nil:
			s.end(ctx, websocket.StatusPolicyViolation, "give the cursor once, inside subscribe")
			return
		case sub.Cursor == nil:
			sub.Cursor = sub.Subscribe.Cursor
		}
	}
	var spec *eventing.FilterSpec
	switch {
	case sel.Topic != "" && sel.Filter != "":
		s.end(ctx, websocket.StatusPolicyViolation, "give a topic or a filter, not both")
		return
	case sel.Topic != "":
		spec = eventing.TopicFilter(sel.Topic)
	case sel.Filter != "":
		spec = &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: sel.Filter, Namespaces: map[string]string{"m": eventing.MessageNS}}
	default:
		s.end(ctx, websocket.StatusPolicyViolation, `give a topic or an XPath filter: {"subscribe": {"topic": "T"}} or {"subscribe": {"filter": "/m:message[m:topic='T']"}}`)
		return
	}
	if err := svc.CanRead(ctx, sel.Topic); err != nil {
		s.end(ctx, websocket.StatusPolicyViolation, httperror.Message(err))
		return
	}
	filter, err := eventing.CompileFilter(spec)
	if err == nil {
		err = eventing.ProbeFilter(filter) // refused here, not evaluated per event
	}
	if err != nil {
		s.end(ctx, websocket.StatusPolicyViolation, httperror.Message(err))
		return
	}
	pos := svc.Head()
	if sub.Cursor != nil {
		c := uint64(*sub.Cursor)
		if c > pos {
			s.end(ctx, websocket.StatusPolicyViolation, fmt.Sprintf("cursor %d is ahead of the log (at %d): not a position from this Herald", c, pos))
			return
		}
		pos = c
	}
	if s.send(ctx, Subscribed{Subscribed: sel, Cursor: Cursor(pos)}) != nil {
		return
	}

	// From here on the client only answers pings: CloseRead reads
	// control frames (pongs, the client's pings and close) and closes on
	// a data message; its context ends with the connection.
	ctx = s.conn.CloseRead(ctx)
	var wg sync.WaitGroup
	defer func() {
		s.conn.CloseNow() // a no-op after a Close
		wg.Wait()
	}()
	wg.Go(func() { s.keepalive(ctx) })

	topicIndex := ""
	if spec.Dialect == eventing.DialectTopic {
		topicIndex = sel.Topic
	}
	watch := &watchedFilter{Filter: filter}
	for {
		select {
		case <-svc.Draining():
			s.conn.Close(websocket.StatusGoingAway, "Herald is shutting down")
			return
		default:
		}
		_, changed := svc.Dispatcher().Matched()
		evs, through, err := svc.ReadMatching(ctx, pos, batch, topicIndex, watch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("websocket cannot read the log", slog.Any("err", err))
				s.end(ctx, websocket.StatusInternalError, "Herald cannot read its log")
			}
			return
		}
		for _, ev := range evs {
			if s.send(ctx, Frame{Cursor: Cursor(ev.Seq), Event: pull.NewEvent(ev)}) != nil {
				return
			}
		}
		if watch.err != nil {
			s.log.Info("websocket filter stopped", slog.Uint64("seq", watch.seq), slog.Any("err", watch.err))
			what, detail := "the filter failed", strings.TrimPrefix(watch.err.Error(), "eventing: ")
			for _, e := range []error{eventing.ErrFilterBudget, eventing.ErrFilterPanic} {
				if errors.Is(watch.err, e) {
					detail = strings.TrimPrefix(watch.err.Error(), e.Error()+": ")
				}
			}
			if errors.Is(watch.err, eventing.ErrFilterBudget) {
				what = "the filter exceeded its evaluation budget"
			}
			short := fmt.Sprintf("%s on event %d", what, watch.seq)
			s.send(ctx, ErrorFrame{Error: short + ": " + detail})
			s.conn.Close(websocket.StatusPolicyViolation, short)
			return
		}
		pos = through
		if len(evs) == batch || through < svc.Head() {
			continue // more to read before waiting
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-svc.Draining():
			s.conn.Close(websocket.StatusGoingAway, "Herald is shutting down")
			return
		}
	}
}

// keepalive pings until ctx ends and closes a peer that does not answer.
func (s *session) keepalive(ctx context.Context) {
	t := time.NewTicker(s.ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.pong)
		err := s.conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Info("websocket peer did not answer a ping: closed", slog.Duration("pong_timeout", s.pong))
				s.conn.Close(websocket.StatusPolicyViolation, fmt.Sprintf("no pong within %s", s.pong))
			}
			return
		}
	}
}

// watchedFilter records the first evaluation error (ReadMatching counts
// it as no match) and matches nothing after it, so that the events sent
// are exactly those before the failing one.
type watchedFilter struct {
	eventing.Filter
	err error
	seq uint64
}

func (w *watchedFilter) Match(e *eventing.Event) (bool, error) {
	if w.err != nil {
		return false, w.err
	}
	ok, err := w.Filter.Match(e)
	if err != nil {
		w.err, w.seq = err, e.Seq
		return false, err
	}
	return ok, nil
}

// Credential moves a key offered as a subprotocol entry (KeyPrefix+KEY)
// into an Authorization: Bearer header for the authenticator that next
// applies, and removes the entry from the request. A request with two
// credentials (Authorization and a key entry, or two key entries) is
// refused with 400.
func Credential(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var keys, rest []string
		for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
			for p := range strings.SplitSeq(v, ",") {
				p = strings.TrimSpace(p)
				if k, ok := strings.CutPrefix(p, KeyPrefix); ok {
					keys = append(keys, k)
				} else if p != "" {
					rest = append(rest, p)
				}
			}
		}
		if len(keys) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if len(keys) > 1 || r.Header.Get("Authorization") != "" {
			http.Error(w, "give one key: an Authorization header or one "+KeyPrefix+" subprotocol entry", http.StatusBadRequest)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Del("Sec-WebSocket-Protocol")
		if len(rest) > 0 {
			r.Header.Set("Sec-WebSocket-Protocol", strings.Join(rest, ", "))
		}
		r.Header.Set("Authorization", "Bearer "+keys[0])
		next.ServeHTTP(w, r)
	})
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

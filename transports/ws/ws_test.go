package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/cors"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/ws"
)

// wait bounds every wait for an outcome.
const wait = 60 * time.Second

// server serves hd (its Service set to a real Herald's) on its own
// listener, whose connections get wrap.
func server(t *testing.T, hd *ws.Handler, wrap func(net.Conn)) (*httpapitest.Herald, string) {
	t.Helper()
	h := httpapitest.Start(t, "", eventing.Options{})
	hd.Service = h.Service
	srv := httptest.NewUnstartedServer(hd)
	if wrap != nil {
		srv.Listener = &wrapListener{srv.Listener, wrap}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

type wrapListener struct {
	net.Listener
	wrap func(net.Conn)
}

func (l *wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.wrap(c)
	}
	return c, err
}

func publish(t *testing.T, h *httpapitest.Herald, topic, text string) {
	t.Helper()
	resp, err := http.Post(h.URL+"/messages", "text/xml", strings.NewReader(
		`<message xmlns="http://cloud42.jw.de/message"><topic>`+topic+`</topic><text>`+text+`</text></message>`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
}

func dial(t *testing.T, url string, o *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, o)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, c *websocket.Conn, v any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return nil
}

// closed reads until the server closes the connection and returns the
// last Error frame and the close error.
func closed(t *testing.T, c *websocket.Conn) (string, error) {
	t.Helper()
	var last string
	for {
		var m map[string]any
		if err := read(t, c, &m); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the connection stayed open for %s", wait)
			}
			return last, err
		}
		if e, ok := m["error"].(string); ok {
			last = e
		}
	}
}

func subscribe(t *testing.T, c *websocket.Conn, msg string) ws.Subscribed {
	t.Helper()
	send(t, c, msg)
	var s ws.Subscribed
	if err := read(t, c, &s); err != nil {
		t.Fatalf("no subscribed frame: %v", err)
	}
	return s
}

// logged returns a logger that sends the messages of its records to ch.
func logged(ch chan<- string) *slog.Logger { return slog.New(chanHandler(ch)) }

type chanHandler chan<- string

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Message:
	default:
	}
	return nil
}
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chanHandler) WithGroup(string) slog.Handler      { return h }

func await(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case m := <-ch:
			if strings.Contains(m, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within %s", want, wait)
		}
	}
}

// A client that stops reading while events keep coming is disconnected:
// Herald does not buffer for it.
func TestSlowClientDisconnected(t *testing.T) {
	logs := make(chan string, 100)
	// Small socket buffers on both sides, so that a few events fill them.
	h, url := server(t, &ws.Handler{WriteTimeout: 100 * time.Millisecond, PingInterval: time.Hour, Logger: logged(logs)},
		func(c net.Conn) { c.(*net.TCPConn).SetWriteBuffer(4096) })
	d := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}}
	c := dial(t, url, &websocket.DialOptions{HTTPClient: client})
	subscribe(t, c, `{"subscribe": {"topic": "slow"}}`)

	const n = 100 // 400 KB of frames: far more than the buffers hold
	text := strings.Repeat("x", 4000)
	for range n {
		publish(t, h, "slow", text)
	}
	await(t, logs, "too slow")

	// What was in the buffers arrives, then the end; never all n.
	got := 0
	for {
		var f ws.Frame
		err := read(t, c, &f)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("the connection is still open")
			}
			break
		}
		got++
	}
	if got >= n {
		t.Fatalf("the client received all %d events", n)
	}
}

func TestKeepalive(t *testing.T) {
	_, url := server(t, &ws.Handler{PingInterval: 20 * time.Millisecond, PongTimeout: wait}, nil)

	// A live client answers (coder/websocket does while it reads).
	pings := make(chan string, 100)
	c := dial(t, url, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
		select {
		case pings <- "ping":
		default:
		}
		return true
	}})
	subscribe(t, c, `{"subscribe": {"topic": "t"}}`)
	ctx := c.CloseRead(t.Context())
	for range 3 {
		await(t, pings, "ping")
	}
	select {
	case <-ctx.Done():
		t.Fatal("the server closed a client that answers its pings")
	default:
	}
	pctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		t.Fatalf("the server does not answer a ping: %v", err)
	}

	// A dead one (no pong) is closed.
	logs := make(chan string, 100)
	_, url = server(t, &ws.Handler{PingInterval: 20 * time.Millisecond, PongTimeout: 50 * time.Millisecond, Logger: logged(logs)}, nil)
	dead := dial(t, url, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool { return false }})
	subscribe(t, dead, `{"subscribe": {"topic": "t"}}`)
	_, err := closed(t, dead)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "no pong") {
		t.Fatalf("dead peer: %v", err)
	}
	await(t, logs, "did not answer a ping")
}

func TestSubscribeTimeout(t *testing.T) {
	_, url := server(t, &ws.Handler{SubscribeTimeout: 20 * time.Millisecond}, nil)
	c := dial(t, url, nil)
	msg, err := closed(t, c)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(msg, "no subscribe message") {
		t.Fatalf("%q, %v", msg, err)
	}
}

func TestProtocolErrors(t *testing.T) {
	h, url := server(t, &ws.Handler{}, nil)
	publish(t, h, "t", "one")
	for _, tc := range []struct {
		name, msg string
		binary    bool
		status    websocket.StatusCode
		want      string
	}{
		{"binary", `{"subscribe": {"topic": "t"}}`, true, websocket.StatusUnsupportedData, "JSON text"},
		{"not JSON", `subscribe t`, false, websocket.StatusPolicyViolation, "not valid"},
		{"trailing data", `{"subscribe": {"topic": "t"}} {}`, false, websocket.StatusPolicyViolation, "data after"},
		{"unknown field", `{"subscribe": {"topics": "t"}}`, false, websocket.StatusPolicyViolation, "unknown field"},
		{"neither", `{"subscribe": {}}`, false, websocket.StatusPolicyViolation, "give a topic or an XPath filter"},
		{"no subscribe", `{"cursor": 1}`, false, websocket.StatusPolicyViolation, "give a topic or an XPath filter"},
		{"both", `{"subscribe": {"topic": "t", "filter": "true()"}}`, false, websocket.StatusPolicyViolation, "not both"},
		{"bad filter", `{"subscribe": {"filter": "/m:message["}}`, false, websocket.StatusPolicyViolation, "does not compile"},
		{"cursor not a number", `{"subscribe": {"topic": "t"}, "cursor": "x1"}`, false, websocket.StatusPolicyViolation, "not a log position"},
		{"negative cursor", `{"subscribe": {"topic": "t"}, "cursor": -1}`, false, websocket.StatusPolicyViolation, "not a log position"},
		{"fractional cursor", `{"subscribe": {"topic": "t"}, "cursor": 1.5}`, false, websocket.StatusPolicyViolation, "not a log position"},
		{"cursor ahead", `{"subscribe": {"topic": "t"}, "cursor": 99}`, false, websocket.StatusPolicyViolation, "ahead of the log"},
		{"too big", `{"subscribe": {"topic": "` + strings.Repeat("t", ws.MaxMessage) + `"}}`, false, websocket.StatusMessageTooBig, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, url, nil)
			typ := websocket.MessageText
			if tc.binary {
				typ = websocket.MessageBinary
			}
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			defer cancel()
			if err := c.Write(ctx, typ, []byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			msg, err := closed(t, c)
			if websocket.CloseStatus(err) != tc.status || !strings.Contains(msg, tc.want) {
				t.Fatalf("got %q, %v; want %d and %q", msg, err, tc.status, tc.want)
			}
		})
	}

	// After the subscription the client sends nothing but control frames.
	c := dial(t, url, nil)
	subscribe(t, c, `{"subscribe": {"topic": "t"}, "cursor": "0"}`)
	var f ws.Frame
	if err := read(t, c, &f); err != nil || f.Event.Text != "one" || f.Cursor != 1 {
		t.Fatalf("%+v, %v", f, err)
	}
	send(t, c, `{"subscribe": {"topic": "u"}}`)
	if _, err := closed(t, c); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("a second message: %v", err)
	}
}

func TestCursor(t *testing.T) {
	for in, want := range map[string]ws.Cursor{`42`: 42, `"42"`: 42, `0`: 0, `"18446744073709551615"`: 1<<64 - 1} {
		var c ws.Cursor
		if err := json.Unmarshal([]byte(in), &c); err != nil || c != want {
			t.Errorf("%s: %d, %v", in, c, err)
		}
	}
	for _, in := range []string{`-1`, `1e3`, `"x"`, `""`, `true`, `{}`, `"18446744073709551616"`} {
		var c ws.Cursor
		if err := json.Unmarshal([]byte(in), &c); err == nil {
			t.Errorf("%s: %d; want an error", in, c)
		}
	}
	b, _ := json.Marshal(ws.Frame{Cursor: 42})
	if !strings.HasPrefix(string(b), `{"cursor":42,`) {
		t.Errorf("a frame's cursor is not a number: %s", b)
	}
}

// An allowed origin with pattern characters (an IPv6 host's brackets)
// passes coder/websocket's check too; its other spellings do not.
func TestOrigins_IPv6(t *testing.T) {
	p, err := cors.New([]string{"http://[::1]:3000"})
	if err != nil {
		t.Fatal(err)
	}
	_, url := server(t, &ws.Handler{Origins: p}, nil)
	for origin, ok := range map[string]bool{"http://[::1]:3000": true, "http://[::2]:3000": false, "https://[::1]:3000": false, "http://[::1]:3001": false} {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		cancel()
		if ok && err != nil {
			t.Errorf("%s refused: %v", origin, err)
		}
		if !ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("%s: %v, %v; want 403", origin, resp, err)
		}
		if c != nil {
			c.CloseNow()
		}
	}
}

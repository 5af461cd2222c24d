package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/cors"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/ws"
)

// wsWait bounds every wait for an outcome.
const wsWait = 10 * time.Second

const appOrigin = "https://app.example.org"

func wsURL(h *herald) string { return "ws" + strings.TrimPrefix(h.URL, "http") + "/ws" }

// startOrigins starts a Herald whose AllowOrigins is origins.
func startOrigins(t *testing.T, origins ...string) *herald {
	t.Helper()
	h := httpapitest.StartOptions(t, "", eventing.Options{}, httpapi.Options{AllowOrigins: origins})
	return &herald{Herald: h, svc: h.Service, db: h.DB, dir: h.Dir}
}

// wsDialErr dials /ws and returns the handshake's answer.
func wsDialErr(t *testing.T, h *herald, o *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, wsURL(h), o)
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func wsDial(t *testing.T, h *herald, o *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	c, resp, err := wsDialErr(t, h, o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	return c
}

func wsRead(t *testing.T, c *websocket.Conn, v any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("nothing within %s", wsWait)
		}
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return nil
}

func wsSubscribe(t *testing.T, c *websocket.Conn, msg string) ws.Subscribed {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	var s ws.Subscribed
	if err := wsRead(t, c, &s); err != nil {
		t.Fatalf("no subscribed frame: %v", err)
	}
	return s
}

// wsFrames reads n event frames.
func wsFrames(t *testing.T, c *websocket.Conn, n int) []ws.Frame {
	t.Helper()
	var out []ws.Frame
	for len(out) < n {
		var f ws.Frame
		if err := wsRead(t, c, &f); err != nil {
			t.Fatalf("after %d frames: %v", len(out), err)
		}
		if f.Cursor != ws.Cursor(f.Event.Seq) {
			t.Fatalf("frame cursor %d, event seq %d", f.Cursor, f.Event.Seq)
		}
		out = append(out, f)
	}
	return out
}

func frameTexts(fs []ws.Frame) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Event.Text)
	}
	return strings.Join(out, ",")
}

// wsClosed reads until the server closes and returns the last error
// frame's text and the close error.
func wsClosed(t *testing.T, c *websocket.Conn) (string, error) {
	t.Helper()
	var last string
	for {
		var m map[string]any
		if err := wsRead(t, c, &m); err != nil {
			return last, err
		}
		if e, ok := m["error"].(string); ok {
			last = e
		}
	}
}

// A WebSocket subscriber receives the events of its topic with increasing
// positions, and one that reconnects with the last position it received
// gets exactly what it missed.
func TestWS_SubscribeAndResume(t *testing.T) {
	h := start(t, "", eventing.Options{})
	c := wsDial(t, h, nil)
	if s := wsSubscribe(t, c, `{"subscribe": {"topic": "live"}}`); s.Subscribed.Topic != "live" || s.Cursor != 0 {
		t.Fatalf("subscribed: %+v", s)
	}
	publishText(t, h, "live", "a")
	publishText(t, h, "other", "x")
	publishText(t, h, "live", "b")
	publishText(t, h, "live", "c")
	fs := wsFrames(t, c, 3)
	if frameTexts(fs) != "a,b,c" || !(fs[0].Cursor < fs[1].Cursor && fs[1].Cursor < fs[2].Cursor) || fs[0].Event.Topic != "live" {
		t.Fatalf("frames %+v", fs)
	}
	last := fs[2].Cursor
	c.Close(websocket.StatusNormalClosure, "")

	publishText(t, h, "live", "d")
	publishText(t, h, "live", "e")
	c = wsDial(t, h, nil)
	if s := wsSubscribe(t, c, `{"subscribe": {"topic": "live", "cursor": `+strconv.FormatUint(uint64(last), 10)+`}}`); s.Cursor != last {
		t.Fatalf("resumed: %+v; want cursor %d", s, last)
	}
	if got := frameTexts(wsFrames(t, c, 2)); got != "d,e" {
		t.Fatalf("after reconnecting: %s; want d,e", got)
	}
	publishText(t, h, "live", "f") // nothing else came before it
	if got := frameTexts(wsFrames(t, c, 1)); got != "f" {
		t.Fatalf("then %s; want f", got)
	}

	// The cursor as a string, as a Last-Event-ID.
	c = wsDial(t, h, nil)
	wsSubscribe(t, c, `{"subscribe": {"topic": "live"}, "cursor": "`+strconv.FormatUint(uint64(last), 10)+`"}`)
	if got := frameTexts(wsFrames(t, c, 3)); got != "d,e,f" {
		t.Fatalf("string cursor: %s", got)
	}

	// An XPath filter, from the start of the log.
	c = wsDial(t, h, nil)
	wsSubscribe(t, c, `{"subscribe": {"filter": "/m:message[m:text='x' or m:text='e']"}, "cursor": 0}`)
	if got := frameTexts(wsFrames(t, c, 2)); got != "x,e" {
		t.Fatalf("filter: %s", got)
	}
}

func TestWS_Ping(t *testing.T) {
	h := start(t, "", eventing.Options{})
	c := wsDial(t, h, nil)
	wsSubscribe(t, c, `{"subscribe": {"topic": "t"}}`)
	c.CloseRead(t.Context()) // reads the pong
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// Service.Drain (shutdown) closes the sockets with 1001.
func TestWS_Drain(t *testing.T) {
	h := start(t, "", eventing.Options{})
	c := wsDial(t, h, nil)
	wsSubscribe(t, c, `{"subscribe": {"topic": "t"}}`)
	h.svc.Drain()
	if _, err := wsClosed(t, c); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after Drain: %v", err)
	}
}

// A filter over its evaluation budget on the fullest message is refused
// when subscribing: 1008, and an error frame that names the budget.
func TestWS_FilterBudget(t *testing.T) {
	h := start(t, "", eventing.Options{})
	c := wsDial(t, h, nil)
	const expensive = "count(//node()[count(//node()[count(//node()[count(//node())+count(//node())+count(//node())>0])>0])>0])>0"
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"subscribe": {"filter": "m:text='cheap' or `+expensive+`"}}`)); err != nil {
		t.Fatal(err)
	}
	msg, err := wsClosed(t, c)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(msg, "budget") {
		t.Fatalf("got %q, %v; want 1008 and the budget", msg, err)
	}
}

func TestWS_Origins(t *testing.T) {
	dial := func(h *herald, origin string) int {
		t.Helper()
		o := &websocket.DialOptions{}
		if origin != "" {
			o.HTTPHeader = http.Header{"Origin": {origin}}
		}
		c, resp, err := wsDialErr(t, h, o)
		if err == nil {
			c.CloseNow()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("%s: %v", origin, err)
		}
		return resp.StatusCode
	}
	// Without a list: no Origin (not a browser) and the same origin only.
	h := start(t, "", eventing.Options{})
	same := h.URL
	for origin, want := range map[string]int{
		"": 101, same: 101,
		"https" + strings.TrimPrefix(same, "http"): 403, // the same host over another scheme
		appOrigin: 403, "null": 403, "http://127.0.0.1": 403,
	} {
		if got := dial(h, origin); got != want {
			t.Errorf("no list, Origin %q: %d; want %d", origin, got, want)
		}
	}
	// With one: those origins too, exactly.
	h = startOrigins(t, appOrigin, "http://localhost:3000")
	for origin, want := range map[string]int{
		"": 101, h.URL: 101, appOrigin: 101, "http://localhost:3000": 101,
		"http://app.example.org": 403, "https://app.example.org:8443": 403, "https://evil.example.org": 403,
		"https://app.example.org.evil.example": 403, "http://localhost:3001": 403, "null": 403,
	} {
		if got := dial(h, origin); got != want {
			t.Errorf("list, Origin %q: %d; want %d", origin, got, want)
		}
	}
}

func corsOf(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = strings.Join(v, ", ")
		}
	}
	return out
}

func request(t *testing.T, method, url string, hdr ...string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wsWait)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the stream ends here: its headers are what counts
	return resp
}

// The stream and the pull reads answer an allowed origin's page with
// CORS headers and another's with none.
func TestCORS_StreamAndPull(t *testing.T) {
	h := startOrigins(t, appOrigin)
	id := subscribePull(t, h, "t")
	for _, path := range []string{"/stream?topic=t", "/subscriptions/" + id + "/events"} {
		resp := request(t, http.MethodGet, h.URL+path, "Origin", appOrigin)
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != appOrigin ||
			resp.Header.Get("Vary") != "Origin" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s from %s: %d %v", path, appOrigin, resp.StatusCode, resp.Header)
		}
		for _, origin := range []string{"https://evil.example.org", "http://app.example.org", ""} {
			resp = request(t, http.MethodGet, h.URL+path, "Origin", origin)
			if resp.StatusCode != 200 || len(corsOf(resp.Header)) != 0 {
				t.Errorf("%s from %q: %d %v", path, origin, resp.StatusCode, corsOf(resp.Header))
			}
		}

		resp = request(t, http.MethodOptions, h.URL+path, "Origin", appOrigin,
			"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization, last-event-id")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != appOrigin ||
			resp.Header.Get("Access-Control-Allow-Headers") != cors.AllowHeaders || resp.Header.Get("Access-Control-Allow-Methods") != "GET" ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, resp.Header)
		}
		resp = request(t, http.MethodOptions, h.URL+path, "Origin", "https://evil.example.org", "Access-Control-Request-Method", "GET")
		if resp.StatusCode != http.StatusForbidden || len(corsOf(resp.Header)) != 0 {
			t.Errorf("refused preflight %s: %d %v", path, resp.StatusCode, corsOf(resp.Header))
		}
	}

	// Without a list nobody else's page gets CORS headers.
	h = start(t, "", eventing.Options{})
	resp := request(t, http.MethodGet, h.URL+"/stream?topic=t", "Origin", appOrigin)
	if resp.StatusCode != 200 || len(corsOf(resp.Header)) != 0 {
		t.Errorf("no list: %d %v", resp.StatusCode, corsOf(resp.Header))
	}
	resp = request(t, http.MethodOptions, h.URL+"/stream", "Origin", appOrigin, "Access-Control-Request-Method", "GET")
	if resp.StatusCode != http.StatusForbidden || len(corsOf(resp.Header)) != 0 {
		t.Errorf("no list, preflight: %d %v", resp.StatusCode, corsOf(resp.Header))
	}
}

// With auth on, a preflight needs no key and a page can read the 401.
func TestCORS_Auth(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{AllowOrigins: []string{appOrigin}})
	resp := request(t, http.MethodOptions, a.URL+"/stream", "Origin", appOrigin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp = request(t, http.MethodGet, a.URL+"/stream?topic=t", "Origin", appOrigin)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != appOrigin ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("no key: %d %v", resp.StatusCode, resp.Header)
	}
	resp = request(t, http.MethodGet, a.URL+"/stream?topic=t", "Origin", appOrigin, "Authorization", "Bearer "+a.keys["sub1"])
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Errorf("with a key: %d %v", resp.StatusCode, resp.Header)
	}
}

// The WebSocket takes a key from Authorization or, for browsers, from a
// subprotocol entry, and applies the stream's rules.
func TestWS_Keys(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{AllowOrigins: []string{appOrigin}})
	h := a.herald
	status := func(o *websocket.DialOptions) int {
		t.Helper()
		c, resp, err := wsDialErr(t, h, o)
		if err == nil {
			c.CloseNow()
			return 101
		}
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	for name, tc := range map[string]struct {
		o    *websocket.DialOptions
		want int
	}{
		"no key":                  {&websocket.DialOptions{}, 401},
		"bad key":                 {&websocket.DialOptions{Subprotocols: []string{ws.Subprotocol, ws.KeyPrefix + "hk_nope"}}, 401},
		"bearer":                  {&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + a.keys["sub1"]}}}, 101},
		"subprotocol":             {&websocket.DialOptions{Subprotocols: []string{ws.Subprotocol, ws.KeyPrefix + a.keys["sub1"]}}, 101},
		"two keys":                {&websocket.DialOptions{Subprotocols: []string{ws.KeyPrefix + a.keys["sub1"], ws.KeyPrefix + a.keys["sub2"]}}, 400},
		"bearer and subprotocol":  {&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + a.keys["sub1"]}}, Subprotocols: []string{ws.KeyPrefix + a.keys["sub1"]}}, 400},
		"publisher key, no topic": {&websocket.DialOptions{Subprotocols: []string{ws.Subprotocol, ws.KeyPrefix + a.keys["pub"]}}, 101},
		"a page of an allowed origin": {&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {appOrigin}},
			Subprotocols: []string{ws.Subprotocol, ws.KeyPrefix + a.keys["sub1"]}}, 101},
		// The origin is refused before the key is looked at.
		"another origin, no key": {&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example.org"}}}, 403},
		"another origin, a key": {&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example.org"}},
			Subprotocols: []string{ws.Subprotocol, ws.KeyPrefix + a.keys["sub1"]}}, 403},
	} {
		if got := status(tc.o); got != tc.want {
			t.Errorf("%s: %d; want %d", name, got, tc.want)
		}
	}

	// The subprotocol Herald selects is herald.v1, never the key.
	key := a.keys["subacc"]
	c, resp, err := wsDialErr(t, h, &websocket.DialOptions{Subprotocols: []string{ws.Subprotocol, ws.KeyPrefix + key}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != ws.Subprotocol || strings.Contains(strings.Join(resp.Header.Values("Sec-WebSocket-Protocol"), ","), key) {
		t.Fatalf("selected %q, answered %v", c.Subprotocol(), resp.Header.Values("Sec-WebSocket-Protocol"))
	}
	wsSubscribe(t, c, `{"subscribe": {"topic": "acc.x"}}`)
	r := a.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>acc.x</topic><text>hi</text></message>`, bearerHeader(a.keys["pubacc"])...)
	if r.status != 202 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if got := frameTexts(wsFrames(t, c, 1)); got != "hi" {
		t.Fatalf("got %s", got)
	}

	// A topic outside the key's patterns, an XPath filter with a
	// restricted key, any topic with a publisher key: refused.
	for _, tc := range []struct{ key, msg string }{
		{"subacc", `{"subscribe": {"topic": "other"}}`},
		{"subacc", `{"subscribe": {"filter": "true()"}}`},
		{"pub", `{"subscribe": {"topic": "acc.x"}}`},
	} {
		c := wsDial(t, h, &websocket.DialOptions{Subprotocols: []string{ws.Subprotocol, ws.KeyPrefix + a.keys[tc.key]}})
		ctx, cancel := context.WithTimeout(t.Context(), wsWait)
		if err := c.Write(ctx, websocket.MessageText, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		cancel()
		msg, err := wsClosed(t, c)
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(msg, "not allowed") {
			t.Errorf("%s %s: %q, %v; want 1008 not allowed", tc.key, tc.msg, msg, err)
		}
	}
}

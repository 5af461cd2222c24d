package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/soap"
)

// sink is a NotifyTo endpoint that answers status (400 makes every event
// a dead letter at once) and records the text of what it acknowledged (the
// first 100 not read).
type sink struct {
	*httptest.Server
	status atomic.Int32
	got    chan string
}

func newSink(t *testing.T, status int) *sink {
	s := &sink{got: make(chan string, 100)}
	s.status.Store(int32(status))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		code := int(s.status.Load())
		w.WriteHeader(code)
		if code/100 != 2 {
			return
		}
		if env, err := soap.Parse(body, 0); err == nil {
			select {
			case s.got <- addressing.Text(addressing.Child(env.Payload(), eventing.MessageNS, "text")):
			default: // nobody reads this sink's deliveries
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) next(t *testing.T) string {
	t.Helper()
	select {
	case text := <-s.got:
		return text
	case <-time.After(10 * time.Second):
		t.Fatal("the sink received nothing within 10s")
	}
	return ""
}

var admin = &access.Principal{Name: "root", Role: access.Admin}

// subscribe makes a soap subscription to topic for the sink.
func subscribe(t *testing.T, h *httpapitest.Herald, s *sink, path, topic string) *eventing.Subscription {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">` + s.URL + path + `</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`); err != nil {
		t.Fatal(err)
	}
	g, err := h.Service.Subscribe(access.WithPrincipal(t.Context(), admin), &eventing.SubscribeRequest{Processor: "soap", Message: doc.Root(), Filter: eventing.TopicFilter(topic)})
	if err != nil {
		t.Fatal(err)
	}
	return g.Subscription
}

func publish(t *testing.T, h *httpapitest.Herald, instance, topic, text string) *eventing.Event {
	t.Helper()
	ev, err := h.Service.Publish(access.WithPrincipal(t.Context(), admin), &eventing.Message{Topic: topic, InstanceID: instance, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deadLetters waits until subscription id has n dead letters.
func deadLetters(t *testing.T, h *httpapitest.Herald, id string, n int) {
	t.Helper()
	waitFor(t, "the dead letters", func() bool {
		dls, err := h.Service.DeadLetters(access.WithPrincipal(context.Background(), admin), id)
		return err == nil && len(dls) == n
	})
}

// browser is an HTTP client with cookies, optionally with a key (Basic).
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	key  string
}

func newBrowser(t *testing.T, base, key string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, key: key, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.key != "" {
		req.SetBasicAuth("ops", b.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(data)}
}

func (b *browser) get(path string) response { b.t.Helper(); return b.do(http.MethodGet, path, nil) }

var reCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the token of a page's forms.
func csrf(t *testing.T, p response) string {
	t.Helper()
	m := reCSRF.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return m[1]
}

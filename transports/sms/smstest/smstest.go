// Package smstest is the stand-in for the sms processor: an SMS gateway
// that speaks Twilio's Messages API and checks every request field, for
// processortest and the sms tests.
package smstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/sms"
)

// The account, token and sender the gateway expects.
const (
	Account = "AC0123456789abcdef0123456789abcdef"
	Token   = "gateway-token-3f9a"
	From    = "+15550001111"
)

// Fixture describes the sms processor to the shared suite.
func Fixture() processortest.Fixture {
	return processortest.Fixture{
		Processor: sms.Name,
		Valid: []string{
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>
               408 726 4390
             </tb:Number></tb:Entry>`,
			`<Number>+49 (171) 123-4567</Number>`,
			`<x:Contact xmlns:x="urn:x"><x:Name>Ops</x:Name><x:Number>0044 20 7946 0958</x:Number></x:Contact>`,
		},
		Invalid: []string{
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Name>no number</tb:Name></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>call me</tb:Number></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>12</tb:Number></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>+1234567890123456</tb:Number></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number> </tb:Number></tb:Entry>`,
		},
		StandIn: func(t *testing.T) processortest.StandIn { return Start(t) },
	}
}

// A Message is one text message the gateway accepted.
type Message struct {
	To, From, Body string
	Path           string
}

// Gateway is a Twilio-shaped SMS gateway. A request that does not follow
// the API (method, path, Basic auth, form fields, content type) is refused
// with a Twilio-style error and recorded in Problems.
type Gateway struct {
	*httptest.Server
	mu       sync.Mutex
	accepted []Message
	problems []string
	fail     int
	got      chan Message
}

// Start starts a gateway, closed in t.Cleanup.
func Start(t *testing.T) *Gateway {
	g := &Gateway{got: make(chan Message, 100)}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

func (g *Gateway) refuse(w http.ResponseWriter, status, code int, msg string) {
	g.mu.Lock()
	g.problems = append(g.problems, msg)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status})
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	fail := g.fail > 0
	if fail {
		g.fail--
	}
	g.mu.Unlock()
	if fail {
		g.refuse(w, http.StatusServiceUnavailable, 20503, "service unavailable (on purpose)")
		return
	}
	want := "/2010-04-01/Accounts/" + Account + "/Messages.json"
	switch {
	case r.Method != http.MethodPost:
		g.refuse(w, http.StatusMethodNotAllowed, 20004, "method "+r.Method)
		return
	case r.URL.Path != want:
		g.refuse(w, http.StatusNotFound, 20404, "path "+r.URL.Path)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != Account || pass != Token {
		g.refuse(w, http.StatusUnauthorized, 20003, "authentication failed")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		g.refuse(w, http.StatusBadRequest, 21601, "content type "+ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		g.refuse(w, http.StatusBadRequest, 21601, "form: "+err.Error())
		return
	}
	m := Message{To: r.PostForm.Get("To"), From: r.PostForm.Get("From"), Body: r.PostForm.Get("Body"), Path: r.URL.Path}
	for k := range r.PostForm {
		if k != "To" && k != "From" && k != "Body" {
			g.refuse(w, http.StatusBadRequest, 21601, "unexpected field "+k)
			return
		}
	}
	switch {
	case !e164.MatchString(m.To):
		g.refuse(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", m.To))
		return
	case m.From != From:
		g.refuse(w, http.StatusBadRequest, 21212, "From "+m.From)
		return
	case strings.TrimSpace(m.Body) == "" || sms.Segments(m.Body) > 10:
		g.refuse(w, http.StatusBadRequest, 21617, "body empty or too long")
		return
	}
	g.mu.Lock()
	g.accepted = append(g.accepted, m)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + fmt.Sprint(time.Now().UnixNano()), "status": "queued", "to": m.To, "from": m.From, "body": m.Body})
	g.got <- m
}

// Settings implements processortest.StandIn.
func (g *Gateway) Settings() map[string]string {
	return map[string]string{sms.SettingURL: g.URL, sms.SettingAccount: Account, sms.SettingToken: Token, sms.SettingFrom: From}
}

// Message implements processortest.StandIn.
func (g *Gateway) Message() string {
	return `<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>408 726 4390</tb:Number></tb:Entry>`
}

// Next implements processortest.StandIn: the body of the next accepted
// message.
func (g *Gateway) Next(t *testing.T, _ *eventing.Service, _ string) string {
	t.Helper()
	return g.NextMessage(t).Body
}

// NextMessage waits for the next accepted message.
func (g *Gateway) NextMessage(t *testing.T) Message {
	t.Helper()
	select {
	case m := <-g.got:
		return m
	case <-time.After(10 * time.Second):
		g.mu.Lock()
		defer g.mu.Unlock()
		t.Fatalf("the gateway accepted nothing within 10s (refused: %v)", g.problems)
	}
	return Message{}
}

// FailNext implements processortest.StandIn (503 for the next n).
func (g *Gateway) FailNext(n int) bool {
	g.mu.Lock()
	g.fail = n
	g.mu.Unlock()
	return true
}

// Accepted returns the messages accepted so far.
func (g *Gateway) Accepted() []Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Message(nil), g.accepted...)
}

// Problems returns the reasons of the requests refused so far.
func (g *Gateway) Problems() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.problems...)
}

// Values returns the settings as url.Values, for flags in tests.
func (g *Gateway) Values() url.Values {
	v := url.Values{}
	for k, s := range g.Settings() {
		v.Set(k, s)
	}
	return v
}

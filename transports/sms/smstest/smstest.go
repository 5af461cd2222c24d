// Package smstest is the stand-in for the sms processor: an SMS gateway
// that speaks Twilio's Messages API and checks every request field, for
// processortest and the sms tests.
package smstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/sms"
)

// The account, token and sender the gateway expects, and the longest
// text message (in segments) it accepts: the processor's settings point at
// them (Gateway.Settings).
const (
	Account  = "AC0123456789abcdef0123456789abcdef"
	Token    = "gateway-token-3f9a"
	From     = "+15550001111"
	Segments = 3
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
			`<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery Mode="` + eventing.DeliveryModePrefix + sms.Name + `">` +
				`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>408 726 4390</tb:Number></tb:Entry></wse:Delivery></wse:Subscribe>`,
		},
		Invalid: []string{
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Name>no number</tb:Name></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>call me</tb:Number></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>12</tb:Number></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>+1234567890123456</tb:Number></tb:Entry>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number> </tb:Number></tb:Entry>`,
			`<web:subscriptionMessage xmlns:web="` + eventing.ManagementNS + `"/>`,
			`<wse:Subscribe xmlns:wse="` + eventing.NS + `"><wse:Delivery Mode="` + eventing.DeliveryModePrefix + sms.Name + `"/></wse:Subscribe>`,
		},
		StandIn: func(t *testing.T) processortest.StandIn { return Start(t) },
	}
}

// A Message is one text message the gateway accepted.
type Message struct {
	// To, From and Body are the form fields.
	To, From, Body string
	// Path is the request's path.
	Path string
}

// Gateway is a Twilio-shaped SMS gateway. A request that does not follow
// the API (method, path, Basic auth, content type, form fields To, From
// and Body: an E.164 To, From, a body of at most Segments segments) is
// refused with a Twilio-style JSON error ({"code", "message", "status"})
// and recorded in Problems.
type Gateway struct {
	*httptest.Server
	mu       sync.Mutex
	accepted []Message
	next     int // accepted[next] is what NextMessage returns
	problems []string
	fail     int
	arrived  chan struct{} // signalled when a message is accepted
}

// Start starts a gateway, closed in t.Cleanup.
func Start(t *testing.T) *Gateway {
	g := &Gateway{arrived: make(chan struct{}, 1)}
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
		// Not a problem of the request: FailNext asked for it.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]any{"code": 20503, "message": "Service unavailable (FailNext)", "status": 503})
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
	for k, vs := range r.PostForm {
		if k != "To" && k != "From" && k != "Body" {
			g.refuse(w, http.StatusBadRequest, 21601, "unexpected field "+k)
			return
		}
		if len(vs) != 1 {
			g.refuse(w, http.StatusBadRequest, 21601, fmt.Sprintf("field %s given %d times", k, len(vs)))
			return
		}
	}
	if r.URL.RawQuery != "" {
		g.refuse(w, http.StatusBadRequest, 21601, "unexpected query "+r.URL.RawQuery)
		return
	}
	switch {
	case !e164.MatchString(m.To):
		g.refuse(w, http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", m.To))
		return
	case m.From != From:
		g.refuse(w, http.StatusBadRequest, 21212, "From "+m.From)
		return
	case strings.TrimSpace(m.Body) == "":
		g.refuse(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case sms.Segments(m.Body) > Segments:
		g.refuse(w, http.StatusBadRequest, 21617, fmt.Sprintf("The concatenated message body exceeds %d segments (%d).", Segments, sms.Segments(m.Body)))
		return
	}
	g.mu.Lock()
	g.accepted = append(g.accepted, m)
	g.mu.Unlock()
	select {
	case g.arrived <- struct{}{}:
	default: // already signalled
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + fmt.Sprint(time.Now().UnixNano()), "status": "queued", "to": m.To, "from": m.From, "body": m.Body})
}

// Settings implements processortest.StandIn.
func (g *Gateway) Settings() map[string]string {
	return map[string]string{
		sms.SettingURL: g.URL, sms.SettingAccount: Account, sms.SettingToken: Token, sms.SettingFrom: From,
		sms.SettingSegments: strconv.Itoa(Segments),
	}
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

// NextMessage waits (up to 10 s) for the next accepted message, in the
// order they were accepted.
func (g *Gateway) NextMessage(t *testing.T) Message {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		if g.next < len(g.accepted) {
			m := g.accepted[g.next]
			g.next++
			g.mu.Unlock()
			return m
		}
		g.mu.Unlock()
		select {
		case <-g.arrived:
		case <-timeout:
			t.Fatalf("the gateway accepted nothing within 10s (refused: %q)", g.Problems())
			return Message{}
		}
	}
}

// FailNext implements processortest.StandIn: the next n requests are
// answered 503 with a Twilio-style error and no Retry-After.
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

// Problems returns why the requests refused so far were wrong (not the
// failures FailNext asked for).
func (g *Gateway) Problems() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.problems...)
}

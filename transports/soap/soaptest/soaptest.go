// Package soaptest is the stand-in for the soap processor: an HTTP server
// that takes SOAP 1.2 notifications like a WS-Eventing event sink, for
// processortest.
package soaptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/soap"
)

// Fixture describes the soap processor to the shared suite.
func Fixture() processortest.Fixture {
	return processortest.Fixture{
		Processor: soap.ProcessorName,
		Valid: []string{
			`<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"> http://sink.example/monitor </wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`,
			`<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://www.w3.org/2005/08/addressing">https://sink.example/</wsa:Address><wsa:ReferenceParameters xmlns:wsa="http://www.w3.org/2005/08/addressing"><x:Id xmlns:x="urn:x">1</x:Id></wsa:ReferenceParameters></wse:NotifyTo></wse:Delivery></wse:Subscribe>`,
		},
		Invalid: []string{
			`<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery/></wse:Subscribe>`,
			`<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"/>`,
			`<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">mailto:x@example.org</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>408 726 4390</tb:Number></tb:Entry>`,
		},
		StandIn: func(t *testing.T) processortest.StandIn { return NewSink(t) },
	}
}

// Sink is an event sink that records the text of each notification it
// acknowledges.
type Sink struct {
	*httptest.Server
	mu   sync.Mutex
	fail int
	got  chan string
}

// NewSink starts a sink, closed in t.Cleanup.
func NewSink(t *testing.T) *Sink {
	s := &Sink{got: make(chan string, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	fail := s.fail > 0
	if fail {
		s.fail--
	}
	s.mu.Unlock()
	if fail {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	env, err := soap.Parse(body, 0)
	if err != nil || env.Version != soap.V12 {
		http.Error(w, "not a SOAP 1.2 envelope", http.StatusBadRequest)
		return
	}
	m := env.Payload()
	if !addressing.Is(m, eventing.MessageNS, "message") {
		http.Error(w, "the body is not a message", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	s.got <- addressing.Text(addressing.Child(m, eventing.MessageNS, "text"))
}

// Settings implements processortest.StandIn: the soap processor needs none.
func (s *Sink) Settings() map[string]string { return nil }

// Message implements processortest.StandIn.
func (s *Sink) Message() string {
	return `<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">` + s.URL + `/sink</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`
}

// Next implements processortest.StandIn.
func (s *Sink) Next(t *testing.T, _ *eventing.Service, _ string) string {
	t.Helper()
	select {
	case text := <-s.got:
		return text
	case <-time.After(10 * time.Second):
		t.Fatal("the SOAP sink received nothing within 10s")
	}
	return ""
}

// FailNext implements processortest.StandIn.
func (s *Sink) FailNext(n int) bool {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
	return true
}

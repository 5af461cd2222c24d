// Package processortest is the suite every subscription processor passes:
// valid and invalid subscription messages, a persistence round trip across
// a restart, delivery to the processor's stand-in (a local server speaking
// the real protocol: SOAP over HTTP, an SMS gateway API, SMTP, …) and a
// retry after a failed delivery.
//
// A processor package provides a Fixture, usually from a small test-helper
// package beside it (for example transports/sms/smstest), and calls Run
// from its tests; transports/all runs the suite for every registered
// processor and fails for one without a fixture.
package processortest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// A Fixture describes one processor to the suite.
type Fixture struct {
	// Processor is the registered name.
	Processor string
	// Valid are subscriptionMessage contents (one XML element each) the
	// processor must accept; Invalid, ones it must refuse with a Sender
	// fault. Valid messages may point anywhere: they are parsed, not
	// delivered to.
	Valid, Invalid []string
	// StandIn starts the processor's stand-in for one test (stopped in
	// t.Cleanup).
	StandIn func(t *testing.T) StandIn
}

// A StandIn is a local server that plays the processor's far end.
type StandIn interface {
	// Settings are the processor settings that point it at the stand-in.
	Settings() map[string]string
	// Message is a subscriptionMessage content whose endpoint is the
	// stand-in.
	Message() string
	// Next waits (up to 10 s) for the next event the stand-in received
	// and acknowledged
	// for subscription id and returns the event's text field. svc lets
	// stand-ins of processors nobody can reach (pull) fetch it.
	Next(t *testing.T, svc *eventing.Service, id string) string
	// FailNext makes the next n deliveries fail at the far end (an error
	// status); it reports false if the stand-in cannot fail (pull).
	FailNext(n int) bool
}

// Run runs the suite for f.
func Run(t *testing.T, f Fixture) {
	t.Run("Messages", func(t *testing.T) { testMessages(t, f) })
	t.Run("DeliveryAndRestart", func(t *testing.T) { testDeliveryAndRestart(t, f) })
	t.Run("RetryAfterFailure", func(t *testing.T) { testRetry(t, f) })
}

// Element parses one XML element.
func Element(t testing.TB, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil || doc.Root() == nil {
		t.Fatalf("not XML: %v\n%s", err, s)
	}
	return doc.Root()
}

func open(t *testing.T, f Fixture, settings map[string]string) eventing.Processor {
	t.Helper()
	d, err := eventing.LookupDriver(f.Processor)
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Open(eventing.Config{Get: func(n string) string { return settings[n] }, HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatalf("open %s: %v", f.Processor, err)
	}
	return p
}

// Request returns the processor request Herald makes of the subscription
// message m (a wse:Subscribe of either version, or the processor's own
// element).
func Request(t testing.TB, m string) *eventing.EndpointRequest {
	t.Helper()
	req, err := eventing.NewEndpointRequest(Element(t, m), "")
	if err != nil {
		t.Fatalf("%v\n%s", err, m)
	}
	return req
}

// Endpoint asks p for the endpoint of the subscription message m, as
// Herald does (see Request); a message Herald cannot read is the error.
func Endpoint(t testing.TB, p eventing.Processor, m string) (eventing.Endpoint, error) {
	t.Helper()
	req, err := eventing.NewEndpointRequest(Element(t, m), "")
	if err != nil {
		return nil, err
	}
	return p.Endpoint(t.Context(), req)
}

func testMessages(t *testing.T, f Fixture) {
	s := f.StandIn(t)
	p := open(t, f, s.Settings())
	for _, m := range append([]string{s.Message()}, f.Valid...) {
		if _, err := p.Endpoint(t.Context(), Request(t, m)); err != nil {
			t.Errorf("valid message refused: %v\n%s", err, m)
		}
	}
	if len(f.Invalid) == 0 {
		t.Error("the fixture names no invalid message")
	}
	for _, m := range f.Invalid {
		req, err := eventing.NewEndpointRequest(Element(t, m), "")
		if err == nil {
			_, err = p.Endpoint(t.Context(), req)
		}
		var e *eventing.Error
		if !errors.As(err, &e) || e.Reason == "" || e.Kind == eventing.ErrUnableToProcess {
			t.Errorf("invalid message: err = %v; want an error for the subscriber that says why\n%s", err, m)
		}
	}
}

// herald is a Service on a real bbolt file in dir.
type herald struct {
	svc *eventing.Service
	db  *store.DB
}

func start(t *testing.T, dir string, settings map[string]string, schedule []time.Duration) *herald {
	t.Helper()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := eventing.NewService(t.Context(), eventing.Options{
		Store:      db,
		Setting:    func(n string) string { return settings[n] },
		Dispatcher: eventing.DispatcherOptions{Schedule: schedule, Jitter: -1, FlushInterval: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := &herald{svc: svc, db: db}
	t.Cleanup(h.stop)
	return h
}

func (h *herald) stop() {
	if h.db == nil {
		return
	}
	h.svc.Shutdown(context.Background())
	h.db.Close()
	h.db = nil
}

func subscribe(t *testing.T, h *herald, f Fixture, s StandIn, topic string) string {
	t.Helper()
	g, err := h.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{
		Processor: f.Processor, Message: Element(t, s.Message()), Filter: eventing.TopicFilter(topic), Management: true,
	})
	if err != nil {
		t.Fatalf("subscribe with %s: %v", f.Processor, err)
	}
	return g.Subscription.ID
}

func publish(t *testing.T, h *herald, topic, text string) {
	t.Helper()
	if _, err := h.svc.Publish(t.Context(), &eventing.Message{Topic: topic, InstanceID: "i-suite", Timestamp: "2026-11-22 10:00:00 GMT", Text: text, Info: "suite"}); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("the stand-in received %q; want %q", got, want)
	}
}

func testDeliveryAndRestart(t *testing.T, f Fixture) {
	s := f.StandIn(t)
	dir := t.TempDir()
	h := start(t, dir, s.Settings(), nil)
	id := subscribe(t, h, f, s, "suite")
	publish(t, h, "suite", "before restart")
	expect(t, s.Next(t, h.svc, id), "before restart")
	h.stop()

	// The subscription is rebuilt from what was stored.
	h = start(t, dir, s.Settings(), nil)
	publish(t, h, "suite", "after restart")
	expect(t, s.Next(t, h.svc, id), "after restart")
}

func testRetry(t *testing.T, f Fixture) {
	s := f.StandIn(t)
	if !s.FailNext(0) {
		t.Skip("the stand-in cannot fail: nothing is delivered to it")
	}
	h := start(t, t.TempDir(), s.Settings(), []time.Duration{10 * time.Millisecond})
	id := subscribe(t, h, f, s, "retry")
	s.FailNext(1)
	publish(t, h, "retry", "second time lucky")
	expect(t, s.Next(t, h.svc, id), "second time lucky")
	waitFor(t, func() bool {
		d, err := h.svc.Describe(t.Context(), id)
		return err == nil && len(d.State.Log) == 2 && !d.State.Log[0].OK && d.State.Log[1].OK
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the delivery log does not show a failure followed by a success")
		}
	}
}

// Package webhooktest is the stand-in for the webhook processor: an HTTP
// server that receives webhook deliveries like a subscriber's endpoint
// would, records every request, can fail on purpose (503, optionally with
// Retry-After) and can verify Standard Webhooks signatures. Fixture
// describes the processor to processortest.
package webhooktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpsend"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/webhook"
)

// Fixture describes the webhook processor to the shared suite. Its
// stand-in is a Receiver, subscribed to in the cloudevents format.
func Fixture() processortest.Fixture {
	h := `xmlns:h="` + eventing.HeraldNS + `"`
	return processortest.Fixture{
		Processor: webhook.Name,
		Valid: []string{
			`<h:Webhook ` + h + `><h:URL>https://hooks.example.org/herald</h:URL><h:Format>cloudevents</h:Format></h:Webhook>`,
			`<h:Webhook ` + h + `><h:URL> http://hooks.example.org:8080/x?y=1 </h:URL></h:Webhook>`,
			`<h:Webhook ` + h + `><h:URL>https://hooks.example.org/</h:URL><h:Format> xml </h:Format></h:Webhook>`,
		},
		Invalid: []string{
			`<h:Webhook ` + h + `/>`,
			`<h:Webhook ` + h + `><h:URL>/relative/path</h:URL></h:Webhook>`,
			`<h:Webhook ` + h + `><h:URL>ftp://hooks.example.org/</h:URL></h:Webhook>`,
			`<h:Webhook ` + h + `><h:URL>https://user:pw@hooks.example.org/</h:URL></h:Webhook>`,
			`<h:Webhook ` + h + `><h:URL>https://hooks.example.org/</h:URL><h:Format>json</h:Format></h:Webhook>`,
			`<h:PullSubscription ` + h + `/>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>408 726 4390</tb:Number></tb:Entry>`,
		},
		StandIn: func(t *testing.T) processortest.StandIn { return New(t, Options{}) },
	}
}

// Options configure a Receiver.
type Options struct {
	// Secret, when set, makes the receiver verify the Standard Webhooks
	// signature of every request and refuse (401) those that do not
	// verify.
	Secret string
	// RetryAfter is the Retry-After header of the 503 answers FailNext
	// asks for; empty for none.
	RetryAfter string
	// Format is the h:Format of Message (webhook.FormatCloudEvents when
	// empty).
	Format string
}

// A Request is one request the receiver got.
type Request struct {
	Time   time.Time
	Header http.Header
	Body   []byte
	// Status is the receiver's answer.
	Status int
	// Problem says why the receiver refused the request (Status 400 or
	// 401); empty otherwise.
	Problem string
	// Event is the decoded CloudEvent of an accepted cloudevents
	// delivery, nil for an XML one.
	Event *webhook.CloudEvent
	// Text is the text field of the delivered message.
	Text string
}

// Receiver is a webhook endpoint: it answers 204 to a well-formed delivery
// (a CloudEvent in structured mode, or a Cloud42 <message> as XML).
type Receiver struct {
	*httptest.Server
	opts Options

	mu       sync.Mutex
	fail     int
	requests []Request
	got      chan Request // accepted or refused, not failed on purpose
}

// New starts a receiver, closed in t.Cleanup.
func New(t testing.TB, o Options) *Receiver {
	if o.Format == "" {
		o.Format = webhook.FormatCloudEvents
	}
	r := &Receiver{opts: o, got: make(chan Request, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
	req := Request{Time: time.Now(), Header: hr.Header.Clone(), Body: body}
	r.mu.Lock()
	fail := r.fail > 0
	if fail {
		r.fail--
	}
	r.mu.Unlock()
	switch {
	case fail:
		req.Status = http.StatusServiceUnavailable
	case err != nil:
		req.Status, req.Problem = http.StatusBadRequest, "cannot read the body: "+err.Error()
	case hr.Method != http.MethodPost:
		req.Status, req.Problem = http.StatusMethodNotAllowed, "method "+hr.Method
	case r.opts.Secret != "" && !httpsend.Verify(hr.Header, r.opts.Secret, body):
		req.Status, req.Problem = http.StatusUnauthorized, "the Standard Webhooks signature does not verify"
	default:
		req.Problem = decode(&req)
		req.Status = http.StatusNoContent
		if req.Problem != "" {
			req.Status = http.StatusBadRequest
		}
	}
	r.mu.Lock()
	r.requests = append(r.requests, req)
	r.mu.Unlock()
	if fail {
		if r.opts.RetryAfter != "" {
			w.Header().Set("Retry-After", r.opts.RetryAfter)
		}
		http.Error(w, "failing on purpose", req.Status)
		return
	}
	if req.Problem != "" {
		http.Error(w, req.Problem, req.Status)
	} else {
		w.WriteHeader(req.Status)
	}
	r.got <- req
}

// decode reads the delivery by its Content-Type into req.Event and
// req.Text; it returns what is wrong with it, "" when nothing.
func decode(req *Request) string {
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		return "bad Content-Type: " + err.Error()
	}
	switch mt {
	case "application/cloudevents+json":
		var ce webhook.CloudEvent
		if err := json.Unmarshal(req.Body, &ce); err != nil {
			return "not a CloudEvent in the JSON format: " + err.Error()
		}
		if ce.SpecVersion != webhook.SpecVersion || ce.ID == "" || ce.Source == "" || ce.Type == "" {
			return "the CloudEvent lacks specversion 1.0, id, source or type"
		}
		req.Event, req.Text = &ce, ce.Data.Text
	case "application/xml":
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(req.Body); err != nil {
			return "not XML: " + err.Error()
		}
		m := doc.Root()
		if !addressing.Is(m, eventing.MessageNS, "message") {
			return "the body is not a Cloud42 <message>"
		}
		req.Text = addressing.Text(addressing.Child(m, eventing.MessageNS, "text"))
	default:
		return fmt.Sprintf("unexpected Content-Type %q", mt)
	}
	return ""
}

// Settings implements processortest.StandIn: the webhook processor needs
// none.
func (r *Receiver) Settings() map[string]string { return nil }

// Message implements processortest.StandIn: an h:Webhook element for this
// receiver in the format of Options.Format.
func (r *Receiver) Message() string { return r.MessageFormat(r.opts.Format) }

// MessageFormat returns an h:Webhook element for this receiver in format.
func (r *Receiver) MessageFormat(format string) string {
	return `<h:Webhook xmlns:h="` + eventing.HeraldNS + `"><h:URL>` + r.URL + `/hook</h:URL><h:Format>` + format + `</h:Format></h:Webhook>`
}

// NextRequest waits (up to 10 s) for the next delivery the receiver
// accepted; it fails the test when one was refused (bad signature,
// malformed body).
func (r *Receiver) NextRequest(t testing.TB) Request {
	t.Helper()
	select {
	case req := <-r.got:
		if req.Problem != "" {
			t.Fatalf("the webhook receiver refused a delivery (HTTP %d): %s\n%s", req.Status, req.Problem, req.Body)
		}
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook receiver received nothing within 10s")
	}
	return Request{}
}

// Next implements processortest.StandIn: the text of the next accepted
// delivery. A CloudEvent must name subscription id.
func (r *Receiver) Next(t *testing.T, _ *eventing.Service, id string) string {
	t.Helper()
	req := r.NextRequest(t)
	if req.Event != nil && req.Event.HeraldSubscription != id {
		t.Errorf("heraldsubscription = %q; want %q", req.Event.HeraldSubscription, id)
	}
	return req.Text
}

// FailNext implements processortest.StandIn: the next n requests are
// answered 503 (with Options.RetryAfter).
func (r *Receiver) FailNext(n int) bool {
	r.mu.Lock()
	r.fail = n
	r.mu.Unlock()
	return true
}

// Requests returns every request received so far, failed ones included.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

package eventing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// A Processor reads the variable part of subscription requests for one
// kind of endpoint (SOAP over HTTP, SMS, mail, …). Drivers open one
// Processor per server, configured from Settings.
type Processor interface {
	// Endpoint parses a subscription request and returns where and how to
	// deliver. It validates only (no network I/O) and returns an *Error
	// (usually InvalidMessage) for input the subscriber must correct.
	Endpoint(ctx context.Context, req *EndpointRequest) (Endpoint, error)
}

// An EndpointRequest is what a Processor parses. It is the same whichever
// front end and WS-Eventing version the subscription came through.
type EndpointRequest struct {
	// Message is the processor's own element: the first element of the
	// management operation's subscriptionMessage (the holder itself when
	// it is empty) or, for a WS-Eventing Subscribe of either version, the
	// first extension element of its wse:Delivery (Delivery.Element; nil
	// when it has none). It belongs to a document the processor must not
	// keep: copy what it needs (addressing.Detach).
	Message *etree.Element
	// Delivery is the parsed WS-Eventing delivery request (NotifyTo,
	// EndTo, Mode or Format, extension elements); nil for a management
	// subscribe whose subscriptionMessage holds no wse:Subscribe.
	Delivery *Delivery
	// Secret is the subscription's signing secret (h:Secret), empty when
	// none was given. Endpoints that deliver over HTTP sign with it.
	Secret string
}

// NotifyTo returns the NotifyTo endpoint reference of a WS-Eventing
// request, or nil.
func (r *EndpointRequest) NotifyTo() *addressing.EndpointReference {
	if r.Delivery == nil {
		return nil
	}
	return r.Delivery.NotifyTo
}

// An Endpoint turns an event into its own format and delivers it. Deliver
// is one attempt: the Dispatcher owns retries, backoff and failure
// accounting. An Endpoint must be safe for concurrent use, though the
// Dispatcher never runs two deliveries of one subscription at once.
type Endpoint interface {
	// Deliver sends one notification. A nil error means the endpoint
	// acknowledged it. Errors may be wrapped with Permanent (no retry) or
	// carry a RetryAfter hint (see RetryAfterError).
	Deliver(ctx context.Context, n *Notification) error
	// Key identifies the endpoint: two requests for the same endpoint
	// return the same key (the management subscribe gives the same
	// subscription id to the same endpoint and topic).
	Key() string
}

// A TargetedEndpoint names the addresses it delivers to (a NotifyTo, a
// webhook URL), so that a subscription for a target Herald must not
// connect to (loopback, private networks: server-side request forgery) is
// refused when it is made, with a fault that says why. The HTTP client
// checks again at every dial, which is what stops DNS rebinding; endpoints
// that deliver to operator-configured servers (SMS, mail) need not
// implement it.
type TargetedEndpoint interface {
	Endpoint
	// Targets returns the URLs the endpoint connects to.
	Targets() []string
}

// PullEndpoint is implemented by endpoints nobody can reach: the
// Dispatcher never delivers to them; their events stay in the log behind
// the subscription's cursor until the subscriber pulls them.
type PullEndpoint interface {
	Endpoint
	// Pulled is a marker method.
	Pulled()
}

// A Notification is one event on its way to one subscription.
type Notification struct {
	Event *Event
	// Subscription is the subscription the event is delivered for.
	Subscription *Subscription
	// MessageID is the notification's stable identifier (urn:uuid:…),
	// the same in every attempt, derived from the subscription and the
	// event's sequence number.
	MessageID string
	// Attempt counts attempts for this event, from 1.
	Attempt int
}

// A Setting is a configuration value a driver reads; cmd/herald offers each
// as a flag --Name and as the environment variable Env.
type Setting struct {
	Name    string // flag name, e.g. "sms-url"
	Env     string // environment variable, e.g. "HERALD_SMS_URL"
	Default string
	Usage   string
	// Secret settings are never logged or printed.
	Secret bool
}

// Config is what a driver's Open gets.
type Config struct {
	// Get returns the value of one of the driver's Settings.
	Get func(name string) string
	// HTTPClient is the client for deliveries over HTTP (timeouts are per
	// attempt, through the context).
	// HTTPClient refuses, when it dials, the addresses Herald must not
	// connect to for a subscriber (the target guard); operator-configured
	// endpoints (an SMS gateway, an SMTP relay) use a client of their own.
	HTTPClient *http.Client
	// ServiceHTTPClient is for servers the operator configured (an SMS
	// gateway): the target guard does not apply to them.
	ServiceHTTPClient *http.Client
	Logger            *slog.Logger
}

// A Driver is what a processor package registers: a name (lowercase word),
// aliases (such as the Java class names of the Cloud42 seed), the settings
// it reads, and Open, which builds the processor for one server.
type Driver struct {
	Name     string
	Aliases  []string
	Settings []Setting
	// Push marks the driver of WS-Eventing push delivery to a NotifyTo:
	// the one a 2004/08 Subscribe gets with the Push mode (or none), and
	// a 2011 Subscribe with the Unwrap or Wrap format (or none). One
	// registered driver has it (the soap processor).
	Push bool
	// Open returns the processor. An error means the processor is not
	// usable with this configuration (for example, no SMS gateway
	// configured): subscribing with it is a fault quoting the error, and
	// deliveries to its existing subscriptions fail with it.
	Open func(Config) (Processor, error)
}

// ErrUnknownProcessor is returned for a processor name that is not
// registered (forgotten import?).
var ErrUnknownProcessor = errors.New("eventing: unknown subscription processor")

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{} // name → driver
	aliases   = map[string]string{} // alias or name → name
)

// Register makes a processor driver available by its name and aliases. It
// panics if the name is empty, Open is nil, or the name or an alias is
// already registered: registering wrong is a programmer error. Call it from
// an init function.
func Register(d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	register(d)
}

func register(d Driver) {
	if d.Name == "" {
		panic("eventing: Register called with an empty processor name")
	}
	if d.Open == nil {
		panic("eventing: Register called with a nil Open for processor " + d.Name)
	}
	for _, n := range append([]string{d.Name}, d.Aliases...) {
		if _, dup := aliases[n]; dup {
			panic("eventing: Register called twice for processor " + n)
		}
	}
	drivers[d.Name] = d
	for _, n := range append([]string{d.Name}, d.Aliases...) {
		aliases[n] = d.Name
	}
}

func unregister(name string) {
	d, ok := drivers[name]
	if !ok {
		return
	}
	delete(drivers, name)
	for _, n := range append([]string{d.Name}, d.Aliases...) {
		delete(aliases, n)
	}
}

// TB is the part of testing.TB that RegisterForTest needs.
type TB interface {
	Helper()
	Cleanup(func())
}

// RegisterForTest registers d for the duration of a test and removes it in
// t.Cleanup.
func RegisterForTest(t TB, d Driver) {
	t.Helper()
	Register(d)
	t.Cleanup(func() {
		driversMu.Lock()
		defer driversMu.Unlock()
		unregister(d.Name)
	})
}

// Drivers returns the registered processor names, sorted.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	return slices.Sorted(maps.Keys(drivers))
}

// LookupDriver returns the driver registered under name or one of its
// aliases, or an error wrapping ErrUnknownProcessor.
func LookupDriver(name string) (Driver, error) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	if n, ok := aliases[name]; ok {
		return drivers[n], nil
	}
	return Driver{}, fmt.Errorf("%w %q (forgotten import?)", ErrUnknownProcessor, name)
}

// AllSettings returns the settings of every registered driver, by driver
// name.
func AllSettings() map[string][]Setting {
	driversMu.RLock()
	defer driversMu.RUnlock()
	m := map[string][]Setting{}
	for n, d := range drivers {
		m[n] = slices.Clone(d.Settings)
	}
	return m
}

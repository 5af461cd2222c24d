package eventing

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing/access"
)

// An Ender sends SubscriptionEnd messages to a subscription's EndTo.
// transports/soap implements it.
type Ender interface {
	SubscriptionEnd(ctx context.Context, s *Subscription, status EndStatus, reason string) error
}

// Options configure a Service. Zero values take the documented defaults.
type Options struct {
	Store  Store
	Clock  Clock        // SystemClock
	Logger *slog.Logger // discard
	// Ender sends SubscriptionEnd; nil sends none.
	Ender Ender
	// DefaultLease is granted to a wse:Subscribe without Expires (1 h).
	DefaultLease time.Duration
	// MaxLease caps every lease (0: 30 days; negative: no cap).
	MaxLease time.Duration
	// SweepInterval is how often expired subscriptions are reclaimed (1 s).
	SweepInterval time.Duration
	// EndOnShutdown ends every subscription with SubscriptionEnd
	// SourceShuttingDown when the service shuts down.
	EndOnShutdown bool
	// Setting returns a processor setting's value by name (flags, env).
	Setting func(name string) string
	// HTTPClient is given to processors for deliveries over HTTP to
	// subscribers' targets (guarded against SSRF at every dial).
	HTTPClient *http.Client
	// ServiceHTTPClient is given to processors for the servers the
	// operator configured (HTTPClient when nil).
	ServiceHTTPClient *http.Client
	// Dispatcher configures delivery.
	Dispatcher DispatcherOptions
	// Authorize makes every operation require a principal in its context
	// (access.WithPrincipal) and apply the rules of package access: owners,
	// roles and topic patterns. Off, everyone may do everything (a
	// loopback-only server).
	Authorize bool
	// MaxSubscriptionsPerOwner caps the subscriptions one non-admin
	// principal holds when Authorize is on (0: 10,000; negative: none).
	MaxSubscriptionsPerOwner int
	// Targets checks, when a subscription is made, the addresses Herald
	// will connect to for it: its EndTo, and what a TargetedEndpoint
	// names; nil checks nothing.
	Targets TargetChecker
}

// A TargetChecker refuses delivery targets Herald must not connect to
// (loopback, private networks: server-side request forgery).
type TargetChecker interface {
	// CheckURL returns an error saying why Herald will not deliver to
	// rawURL, or nil.
	CheckURL(ctx context.Context, rawURL string) error
}

// maxEndSenders bounds the SubscriptionEnd messages Shutdown sends at once
// (EndOnShutdown).
const maxEndSenders = 32

// DefaultMessagePath is the path of the message endpoint until
// setEndpointAddress moves it.
const DefaultMessagePath = "/messages"

// settingMessagePath is the settings key of the message endpoint's path.
const settingMessagePath = "message_path"

// A Service is Herald's event source and subscription manager: the
// operations of WS-Eventing and of the Cloud42 management interface, the
// publishing of events, and the dispatcher that delivers them.
type Service struct {
	store      Store
	clock      Clock
	logger     *slog.Logger
	opts       Options
	dispatcher *Dispatcher
	processors map[string]openedProcessor
	// pullProcs remembers which processors give pull endpoints
	// (storedEndpoint), for the start's listing and then for the
	// changes other nodes make, which arrive one at a time.
	pullProcs map[string]bool
	locks     [64]sync.Mutex // per subscription id, orders store and dispatcher updates
	path      atomic.Value   // string: the message endpoint's path
	wg        sync.WaitGroup
	ctx       context.Context
	cancel    context.CancelFunc
	closing   atomic.Bool
	endMu     sync.Mutex // orders sendEnd's wg.Add before Shutdown's wg.Wait
	ended     bool       // Shutdown waits for the SubscriptionEnd senders
	draining  chan struct{}
	drainOnce sync.Once
	refused   []refusedFilter // stored subscriptions to end at Start
}

type openedProcessor struct {
	p   Processor
	err error
}

// NewService opens every registered processor and loads the stored
// subscriptions. Call Start to begin delivering.
func NewService(ctx context.Context, o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("eventing: Options.Store is nil")
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DefaultLease <= 0 {
		o.DefaultLease = time.Hour
	}
	if o.MaxLease == 0 {
		o.MaxLease = 30 * 24 * time.Hour
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = time.Second
	}
	if o.Setting == nil {
		o.Setting = func(string) string { return "" }
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.ServiceHTTPClient == nil {
		o.ServiceHTTPClient = o.HTTPClient
	}
	if o.MaxSubscriptionsPerOwner == 0 {
		o.MaxSubscriptionsPerOwner = 10000
	}
	s := &Service{store: o.Store, clock: o.Clock, logger: o.Logger, opts: o, processors: map[string]openedProcessor{}, draining: make(chan struct{})}
	// Herald's own work (ending subscriptions, operator events) acts as
	// an admin.
	s.ctx, s.cancel = context.WithCancel(access.WithPrincipal(context.Background(), &access.Principal{Name: "herald", ID: "herald", Role: access.Admin}))
	for _, name := range Drivers() {
		d, _ := LookupDriver(name)
		p, err := d.Open(Config{Get: o.Setting, HTTPClient: o.HTTPClient, ServiceHTTPClient: o.ServiceHTTPClient, Logger: o.Logger.With(slog.String("processor", name))})
		if err == nil && p == nil {
			err = fmt.Errorf("processor %s opened as nil", name)
		}
		s.processors[name] = openedProcessor{p: p, err: err}
		if err != nil {
			o.Logger.Info("subscription processor unavailable", slog.String("processor", name), slog.Any("err", err))
		}
	}
	path, err := o.Store.Setting(ctx, settingMessagePath)
	if err != nil {
		return nil, err
	}
	if path == "" {
		path = DefaultMessagePath
	}
	s.path.Store(path)
	s.dispatcher = NewDispatcher(o.Store, o.Clock, o.Logger, o.Dispatcher)
	s.dispatcher.hooks.failed = s.deliveryFailed
	s.dispatcher.hooks.filterFailed = s.filterFailed
	// Endpoints are parsed on first delivery (lazyendpoint.go).
	s.dispatcher.hooks.reload = s.reload
	s.pullProcs = map[string]bool{}
	pullProcs, cache := s.pullProcs, s.dispatcher.endpoints
	if err := s.load(ctx, pullProcs, cache); err != nil {
		return nil, err
	}
	return s, nil
}

// load hands the stored subscriptions to the dispatcher: through the
// store's SubscriptionLoader when it has one (the records come trimmed,
// and only those the dispatcher needs whole are decoded whole), else
// through Subscriptions. Reading, decoding and compiling run on the
// store's goroutine, the dispatcher's Add on another, in batches and in
// the store's order: at 1,000,000 subscriptions each side is about half
// of the work, and a start has nothing else to use the second core for.
func (s *Service) load(ctx context.Context, pullProcs map[string]bool, cache *endpointCache) error {
	type loaded struct {
		sub *Subscription
		f   Filter
		ep  Endpoint
	}
	const batchSize = 1024
	batches := make(chan []loaded, 4)
	free := make(chan []loaded, 4)
	adder := make(chan struct{})
	go func() {
		defer close(adder)
		for b := range batches {
			for _, l := range b {
				s.dispatcher.Add(l.sub, l.f, l.ep)
			}
			clear(b)
			select {
			case free <- b[:0]:
			default: // enough spare batches
			}
		}
	}()
	batch := make([]loaded, 0, batchSize)
	add := func(sub *Subscription, full func() (*Subscription, error)) error {
		f, err := CompileFilter(sub.Filter)
		if err == nil {
			err = ProbeFilter(f)
		}
		if err != nil {
			// A filter this Herald refuses (a tighter limit than the one
			// that accepted it): the subscription ends at Start, loudly
			// (endLoudly sends SubscriptionEnd to the EndTo of the record
			// it deletes, so the trimmed one is enough).
			s.refused = append(s.refused, refusedFilter{sub, err})
			return nil
		}
		if pull, known := pullProcs[sub.Processor]; !known || pull {
			// storedEndpoint parses these at once, from the Message.
			whole, err := full()
			if err != nil {
				return err
			}
			sub = whole
		}
		batch = append(batch, loaded{sub, f, s.storedEndpoint(ctx, sub, pullProcs, cache)})
		if len(batch) == batchSize {
			batches <- batch
			select {
			case batch = <-free:
			default:
				batch = make([]loaded, 0, batchSize)
			}
		}
		return nil
	}
	var err error
	if l, ok := s.store.(SubscriptionLoader); ok {
		var n int
		if n, err = l.SubscriptionCount(ctx); err == nil {
			s.dispatcher.reserve(n)
			err = l.LoadSubscriptions(ctx, add)
		}
	} else {
		err = s.store.Subscriptions(ctx, func(sub *Subscription) error {
			return add(sub, func() (*Subscription, error) { return sub, nil })
		})
	}
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	<-adder
	return err
}

// restore rebuilds a stored subscription's endpoint. A subscription whose
// processor is gone or whose XML no longer parses keeps its place; its
// deliveries fail with the reason, and are retried and counted like any
// failure.
func (s *Service) restore(ctx context.Context, sub *Subscription) Endpoint {
	ep, err := s.endpoint(ctx, sub.Processor, sub.Message, sub.Secret)
	if err != nil {
		s.logger.Error("stored subscription cannot be restored", slog.String("subscription_id", sub.ID), slog.String("processor", sub.Processor), slog.Any("err", err))
		ep = brokenEndpoint{err}
	}
	return ep
}

// A refusedFilter is a stored subscription whose filter no longer compiles
// within the limits.
type refusedFilter struct {
	sub *Subscription
	err error
}

func (s *Service) endpoint(ctx context.Context, processor, message, secret string) (Endpoint, error) {
	p, err := s.processor(processor)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(message); err != nil || doc.Root() == nil {
		return nil, fmt.Errorf("stored subscription message does not parse: %v", err)
	}
	req, err := NewEndpointRequest(doc.Root(), secret)
	if err != nil {
		return nil, err
	}
	return p.Endpoint(ctx, req)
}

type brokenEndpoint struct{ err error }

func (b brokenEndpoint) Deliver(context.Context, *Notification) error { return b.err }
func (b brokenEndpoint) Key() string                                  { return "" }

// Start begins delivery and the lease sweeper, and ends the stored
// subscriptions whose filters this server refuses.
func (s *Service) Start(ctx context.Context) error {
	if err := s.dispatcher.Start(ctx); err != nil {
		return err
	}
	for _, r := range s.refused {
		s.endLoudly(r.sub, fmt.Sprintf("Herald ended the subscription: its filter is refused: %v", r.err), "FilterRefused", r.err.Error())
	}
	s.refused = nil
	s.wg.Add(1)
	go s.sweepLoop()
	return nil
}

// Dispatcher returns the service's dispatcher.
func (s *Service) Dispatcher() *Dispatcher { return s.dispatcher }

// Clock returns the service's clock.
func (s *Service) Clock() Clock { return s.clock }

func (s *Service) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// processor returns the opened processor for a name or alias: an
// UnknownProcessor fault when none is registered under it, an
// EventSourceUnableToProcess fault when it is not configured here.
func (s *Service) processor(name string) (Processor, error) {
	d, err := LookupDriver(strings.TrimSpace(name))
	if err != nil {
		// The names one can subscribe with here: as the modes and formats.
		return nil, UnknownProcessor(strings.TrimSpace(name), s.AvailableProcessors())
	}
	op, ok := s.processors[d.Name]
	if !ok {
		return nil, EventSourceUnableToProcess(fmt.Sprintf("subscription processor %s was registered after the server started", d.Name))
	}
	if op.err != nil {
		return nil, EventSourceUnableToProcess(fmt.Sprintf("subscription processor %s is not available on this server: %v", d.Name, op.err))
	}
	return op.p, nil
}

// CanonicalProcessor returns the registered name for a name or alias.
func CanonicalProcessor(name string) (string, bool) {
	d, err := LookupDriver(strings.TrimSpace(name))
	if err != nil {
		return "", false
	}
	return d.Name, true
}

// AvailableProcessors returns the names of the processors this server can
// subscribe with, sorted.
func (s *Service) AvailableProcessors() []string {
	var out []string
	for n, op := range s.processors {
		if op.err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// pushProcessor returns the name of the registered driver of push
// delivery (Driver.Push), "" when none is available.
func (s *Service) pushProcessor() string {
	for _, n := range s.AvailableProcessors() {
		if d, err := LookupDriver(n); err == nil && d.Push {
			return n
		}
	}
	return ""
}

// others returns the available processors other than the push one.
func (s *Service) others() []string {
	push := s.pushProcessor()
	var out []string
	for _, n := range s.AvailableProcessors() {
		if n != push {
			out = append(out, n)
		}
	}
	return out
}

// SupportedDeliveryModes returns the delivery modes a 2004/08 wse:Subscribe
// may ask for: Push (the push processor) and one Herald mode per other
// available processor.
func (s *Service) SupportedDeliveryModes() []string {
	var modes []string
	if s.pushProcessor() != "" {
		modes = append(modes, DeliveryModePush)
	}
	for _, n := range s.others() {
		modes = append(modes, DeliveryModePrefix+n)
	}
	return modes
}

// SupportedFormats returns the delivery formats a 2011 wse:Subscribe may
// ask for: Unwrap and Wrap (the push processor) and, as in 2004/08's modes,
// one Herald format per other available processor.
func (s *Service) SupportedFormats() []string {
	var formats []string
	if s.pushProcessor() != "" {
		formats = append(formats, FormatUnwrap, FormatWrap)
	}
	for _, n := range s.others() {
		formats = append(formats, DeliveryModePrefix+n)
	}
	return formats
}

// deliveryProcessor picks the processor of a WS-Eventing Subscribe: its
// h:Processor element, else (2004/08) the delivery mode or (2011) the
// format; Push, Unwrap, Wrap or none mean the push processor.
func (s *Service) deliveryProcessor(d *Delivery) (string, error) {
	unavailable := func(what string) error {
		if d.Version == V2011 {
			return DeliveryModeRequestedUnavailable(what, s.SupportedFormats())
		}
		return DeliveryModeRequestedUnavailable(what, s.SupportedDeliveryModes())
	}
	if d.Processor != "" {
		if d.Wrapped() {
			if name, _ := CanonicalProcessor(d.Processor); name != s.pushProcessor() {
				return "", unavailable(fmt.Sprintf("%s with the processor %s (only NotifyTo delivery wraps)", d.Format, d.Processor))
			}
		}
		return d.Processor, nil
	}
	choice := d.Mode
	if d.Version == V2011 {
		choice = d.Format
	}
	switch {
	case d.Version == V2011 && (choice == "" || choice == FormatUnwrap || choice == FormatWrap),
		d.Version != V2011 && (choice == "" || choice == DeliveryModePush):
		if p := s.pushProcessor(); p != "" {
			return p, nil
		}
	default:
		if name, ok := strings.CutPrefix(choice, DeliveryModePrefix); ok && name != s.pushProcessor() {
			if op, ok := s.processors[name]; ok && op.err == nil {
				return name, nil
			}
		}
	}
	return "", unavailable(choice)
}

// A SubscribeRequest is a subscription request from either front: a
// WS-Eventing Subscribe or the Cloud42 management subscribe.
type SubscribeRequest struct {
	// Processor is a processor name or alias. When empty, Delivery
	// chooses (h:Processor, the mode or the format).
	Processor string
	// Version is the WS-Eventing version of the request: VersionNone for
	// the management subscribe (unless its subscriptionMessage holds a
	// wse:Subscribe).
	Version Version
	// Delivery is the parsed delivery part of a WS-Eventing Subscribe;
	// nil for a management subscribe without one.
	Delivery *Delivery
	// Message is what is stored and parsed again on restart: the
	// wse:Subscribe, or the processor's element of a management
	// subscribe (see EndpointRequest.Message).
	Message *etree.Element
	Secret  string
	Filter  *FilterSpec
	// EndTo receives SubscriptionEnd; nil for none.
	EndTo *addressing.EndpointReference
	// Expires is the requested lease; nil when the request has none.
	Expires *Expiration
	// Management marks the Cloud42 front: the same processor, endpoint
	// and filter give the existing subscription back, and no Expires
	// means no expiry (that interface has no way to renew).
	Management bool
	// Manager is the subscription manager address given to the subscriber.
	Manager string
	// AddressingNS is the WS-Addressing namespace of the subscriber's EPRs.
	AddressingNS string
}

// A Granted subscription: the record and the lease in the form requested.
type Granted struct {
	Subscription *Subscription
	// Expires is the granted lease, in the requested form; for a lease
	// that never ends IsDuration is false and Time is zero.
	Expires Expiration
	// Existing is true when a management request found its subscription.
	Existing bool
}

// principal returns the principal of ctx: nil when authorization is off,
// access.ErrUnauthenticated when it is on and ctx has none.
func (s *Service) principal(ctx context.Context) (*access.Principal, error) {
	if !s.opts.Authorize {
		return nil, nil
	}
	if p := access.FromContext(ctx); p != nil {
		return p, nil
	}
	return nil, access.ErrUnauthenticated
}

// requireAdmin returns nil if ctx's principal is an admin (or authorization
// is off), else an error for op.
func (s *Service) requireAdmin(ctx context.Context, op string) error {
	p, err := s.principal(ctx)
	if err != nil || p == nil || p.IsAdmin() {
		return err
	}
	return access.Deny(op, fmt.Sprintf("%s is for admins; the %s key %q may not", op, p.Role, p.Name))
}

// principalAttr is the log attribute naming ctx's principal.
func principalAttr(ctx context.Context) slog.Attr {
	if p := access.FromContext(ctx); p != nil {
		return slog.String("principal", p.Name)
	}
	return slog.String("principal", "")
}

// CanRead returns nil if ctx's principal may read events of topic as
// they arrive (the browser stream); "" stands for an XPath filter.
func (s *Service) CanRead(ctx context.Context, topic string) error {
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	return p.CanSubscribe(topic)
}

// checkEndTo refuses an EndTo Herald cannot send SubscriptionEnd to: in
// 2011, which has a fault for it, the anonymous address (a
// SubscriptionEnd has no connection to travel back on; 2004/08 requests
// keep the lenient reading: nothing is sent); in either version, one the
// target guard refuses.
func (s *Service) checkEndTo(ctx context.Context, req *SubscribeRequest) error {
	a := req.EndTo.Address
	if req.Version == V2011 && (addressing.IsAnonymous(a) || a == addressing.V10.None()) {
		return newError(ErrEndToNotSupported, fmt.Sprintf("Herald sends SubscriptionEnd as a request of its own and cannot send it to the address %q: give an EndTo Herald can reach, or none", a))
	}
	if addressing.IsAnonymous(a) || a == addressing.V10.None() {
		return nil
	}
	// SubscriptionEnd goes out as a SOAP request over HTTP: whatever the
	// target guard says, another scheme is unusable.
	if u, err := url.Parse(a); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return UnusableEPR("wse:EndTo", fmt.Sprintf("the address %q is not an absolute http(s) URL: Herald sends SubscriptionEnd over HTTP", a))
	}
	return CheckTarget(ctx, s.opts.Targets, "EndTo", a)
}

// NewEndpointRequest returns what a processor parses for a subscription
// message msg as Herald stores it: a wse:Subscribe of either version (its
// Delivery parsed), or the processor's own element.
func NewEndpointRequest(msg *etree.Element, secret string) (*EndpointRequest, error) {
	var d *Delivery
	if IsSubscribe(msg) {
		var err error
		if d, err = ParseDelivery(msg); err != nil {
			return nil, err
		}
	}
	return endpointRequest(msg, d, secret), nil
}

// endpointRequest is what a processor parses for a subscription: msg is
// the stored message (a wse:Subscribe, or the processor's own element),
// d its delivery part when msg is a wse:Subscribe.
func endpointRequest(msg *etree.Element, d *Delivery, secret string) *EndpointRequest {
	if d == nil {
		return &EndpointRequest{Message: msg, Secret: secret}
	}
	return &EndpointRequest{Message: d.Element(), Delivery: d, Secret: secret}
}

// CheckTarget refuses a delivery address Herald must not connect to; what
// names it in the fault (NotifyTo, EndTo, the webhook URL).
func CheckTarget(ctx context.Context, t TargetChecker, what, rawURL string) error {
	if t == nil {
		return nil
	}
	if err := t.CheckURL(ctx, rawURL); err != nil {
		return newError(ErrUnusableEPR, fmt.Sprintf("The %s endpoint reference is unusable: its address is refused: %v", what, err))
	}
	return nil
}

// Subscribe creates a subscription.
func (s *Service) Subscribe(ctx context.Context, req *SubscribeRequest) (*Granted, error) {
	if req.Message == nil {
		return nil, InvalidMessage("the subscription has no endpoint description")
	}
	if req.Delivery == nil && IsSubscribe(req.Message) {
		d, err := ParseDelivery(req.Message)
		if err != nil {
			return nil, err
		}
		req.Delivery = d
		if req.Version == VersionNone {
			req.Version = d.Version
		}
	}
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if p != nil {
		topic := ""
		if req.Filter != nil && req.Filter.Dialect == DialectTopic {
			topic = req.Filter.Expression
		}
		if err := p.CanSubscribe(topic); err != nil {
			return nil, err
		}
		if max := s.opts.MaxSubscriptionsPerOwner; max > 0 && !p.IsAdmin() && s.dispatcher.Owned(p.ID) >= max {
			return nil, access.Deny("subscribe", fmt.Sprintf("the key %q holds %d subscriptions, its quota (--max-subscriptions-per-key)", p.Name, max))
		}
	}
	if req.EndTo != nil {
		if err := s.checkEndTo(ctx, req); err != nil {
			return nil, err
		}
	}
	if req.Processor == "" {
		if req.Delivery == nil {
			return nil, InvalidMessage("the subscription names no processor and no delivery")
		}
		name, err := s.deliveryProcessor(req.Delivery)
		if err != nil {
			return nil, err
		}
		req.Processor = name
	}
	proc, err := s.processor(req.Processor)
	if err != nil {
		return nil, err
	}
	name, _ := CanonicalProcessor(req.Processor)
	ep, err := proc.Endpoint(ctx, endpointRequest(req.Message, req.Delivery, req.Secret))
	if err != nil {
		return nil, err
	}
	if te, ok := ep.(TargetedEndpoint); ok {
		for _, u := range te.Targets() {
			if err := CheckTarget(ctx, s.opts.Targets, "delivery", u); err != nil {
				return nil, err
			}
		}
	}
	filter, err := CompileFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	if err := ProbeFilter(filter); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	expires, granted, err := s.lease(req.Expires, now, req.Management)
	if err != nil {
		return nil, err
	}
	msg := storedMessage(req.Message)
	// Taken before Start is read, released once the dispatcher has the
	// subscription: no flush in between stores a matched-through
	// position past its Start (see HoldThrough).
	release := s.dispatcher.HoldThrough()
	sub := &Subscription{
		ID: newSubscriptionID(), Processor: name, Message: msg, Secret: req.Secret,
		Filter: req.Filter, Manager: req.Manager, AddressingNS: req.AddressingNS,
		EventingNS: eventingNS(req.Version),
		Expires:    expires, Created: now, Start: s.store.Head(),
	}
	if p != nil {
		sub.Owner = p.ID
	}
	if req.EndTo != nil {
		sub.EndTo = req.EndTo.String()
	}
	// Subscriptions are unique per endpoint: per endpoint and topic for
	// the management front (the Cloud42 rule), per endpoint reference for
	// WS-Eventing, where a repeated Subscribe updates the subscription.
	// Endpoints without a key (pull) are never merged.
	if k := ep.Key(); k != "" {
		// Each owner has its own identities: a principal never finds,
		// nor updates, another's subscription by subscribing to the
		// same endpoint.
		if sub.Owner != "" {
			k = sub.Owner + "\x00" + k
		}
		if req.Management {
			sub.Key = dedupKey(name, k, req.Filter)
		} else {
			sub.Key = dedupKey(name+"\x00wse", k, nil)
		}
	}
	unlock := s.lock(sub.ID)
	existing, err := s.store.CreateSubscription(ctx, sub)
	if err == nil && existing == nil {
		dsub, dep := s.unparsed(sub, ep)
		s.dispatcher.Add(dsub, filter, dep)
	}
	release()
	unlock()
	switch {
	case err != nil:
		return nil, err
	case existing == nil:
		// LogAttrs: one line a subscribe, without boxing its attributes.
		s.logger.LogAttrs(ctx, slog.LevelInfo, "subscribed", principalAttr(ctx), slog.String("subscription_id", sub.ID), slog.String("processor", name))
		return &Granted{Subscription: sub, Expires: granted}, nil
	case req.Management:
		return &Granted{Subscription: existing, Expires: Expiration{Time: existing.Expires}, Existing: true}, nil
	}
	return s.resubscribe(ctx, existing.ID, sub, filter, ep, granted)
}

// resubscribe updates the subscription id with a repeated WS-Eventing
// Subscribe for its endpoint: the new filter, lease, EndTo and endpoint
// description replace the old ones; the identifier and the delivery
// position stay.
func (s *Service) resubscribe(ctx context.Context, id string, req *Subscription, f Filter, ep Endpoint, granted Expiration) (*Granted, error) {
	unlock := s.lock(id)
	defer unlock()
	sub, err := s.store.UpdateSubscription(ctx, id, func(cur *Subscription) error {
		cur.Message, cur.Secret, cur.Filter, cur.EndTo = req.Message, req.Secret, req.Filter, req.EndTo
		cur.Manager, cur.AddressingNS, cur.Expires = req.Manager, req.AddressingNS, req.Expires
		cur.EventingNS = req.EventingNS
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, EventSourceUnableToProcess("the subscription for this endpoint ended while it was being updated; subscribe again")
	}
	if err != nil {
		return nil, err
	}
	s.dispatcher.Replace(sub, f, ep)
	s.logger.Info("subscription updated by a repeated Subscribe", slog.String("subscription_id", id))
	return &Granted{Subscription: sub, Expires: granted, Existing: true}, nil
}

// lease computes a lease's end from a request: zero, negative or past is
// InvalidExpirationTime; longer than MaxLease is cut to it, or refused
// for an Exact request; none is DefaultLease (or, for the management
// front, no expiry). The lease is granted in the form requested.
func (s *Service) lease(req *Expiration, now time.Time, management bool) (time.Time, Expiration, error) {
	if req == nil {
		if management {
			return time.Time{}, Expiration{}, nil
		}
		at := now.Add(s.opts.DefaultLease)
		return at, Expiration{Time: at}, nil
	}
	if req.Indefinite {
		switch {
		case s.opts.MaxLease < 0:
			return time.Time{}, Expiration{IsDuration: true}, nil
		case req.Exact:
			return time.Time{}, Expiration{}, InvalidExpirationTime(fmt.Sprintf("PT0S asks for a subscription that never expires, and the longest lease this server grants is %s (--max-lease); ask for that, or set BestEffort=\"true\" to be granted it", FormatDuration(s.opts.MaxLease)))
		}
		at := now.Add(s.opts.MaxLease)
		return at, Expiration{IsDuration: true, Duration: s.opts.MaxLease}, nil
	}
	at := req.At(now)
	if !at.After(now) {
		if req.IsDuration {
			return time.Time{}, Expiration{}, InvalidExpirationTime(fmt.Sprintf("the duration %s is not positive", FormatDuration(req.Duration)))
		}
		return time.Time{}, Expiration{}, InvalidExpirationTime(fmt.Sprintf("%s is in the past", FormatDateTime(req.Time)))
	}
	if s.opts.MaxLease > 0 && at.Sub(now) > s.opts.MaxLease {
		if req.Exact {
			return time.Time{}, Expiration{}, InvalidExpirationTime(fmt.Sprintf("the lease asked for is longer than the longest this server grants (%s, --max-lease); ask for less, or set BestEffort=\"true\" to be granted %s", FormatDuration(s.opts.MaxLease), FormatDuration(s.opts.MaxLease)))
		}
		at = now.Add(s.opts.MaxLease)
	}
	if req.IsDuration {
		return at, Expiration{IsDuration: true, Duration: at.Sub(now)}, nil
	}
	return at, Expiration{Time: at}, nil
}

// eventingNS is what Subscription.EventingNS records for a request of
// version v: only 2011 is written, 2004/08 is the default.
func eventingNS(v Version) string {
	if v == V2011 {
		return NS2011
	}
	return ""
}

// live returns the subscription id unless it is unknown or expired.
func (s *Service) live(ctx context.Context, id string) (*Subscription, error) {
	sub, err := s.store.Subscription(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, UnknownSubscription(id)
	}
	if err != nil {
		return nil, err
	}
	if sub.Expired(s.clock.Now()) {
		return nil, UnknownSubscription(id)
	}
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Owns(sub.Owner) {
		// Exactly the answer for an unknown subscription: ids cannot be
		// probed.
		return nil, UnknownSubscription(id)
	}
	return sub, nil
}

// GetStatus returns a live subscription (UnknownSubscription otherwise).
func (s *Service) GetStatus(ctx context.Context, id string) (*Subscription, error) {
	return s.live(ctx, id)
}

// Renew extends a live subscription's lease; an unknown or expired one is
// UnableToRenew. A Renew racing an Unsubscribe either renews a
// subscription that is then removed, or finds it gone: never both halves.
func (s *Service) Renew(ctx context.Context, id string, req *Expiration) (*Granted, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	unlock := s.lock(id)
	defer unlock()
	var granted Expiration
	sub, err := s.store.UpdateSubscription(ctx, id, func(sub *Subscription) error {
		if !p.Owns(sub.Owner) {
			return ErrNotFound // answered as for an unknown subscription
		}
		now := s.clock.Now()
		if sub.Expired(now) {
			return &Error{Kind: ErrUnableToRenew, Subject: id, Reason: fmt.Sprintf("the subscription %s has expired", id)}
		}
		at, g, err := s.lease(req, now, false)
		if err != nil {
			return err
		}
		sub.Expires, granted = at, g
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Kind: ErrUnableToRenew, Subject: id, Reason: fmt.Sprintf("the subscription %s is not known", id)}
	}
	if err != nil {
		return nil, err
	}
	s.dispatcher.Update(sub)
	s.logger.Info("renewed", principalAttr(ctx), slog.String("subscription_id", id))
	return &Granted{Subscription: sub, Expires: granted}, nil
}

// Unsubscribe ends a subscription at the subscriber's request (no
// SubscriptionEnd). Unknown or expired → UnknownSubscription.
func (s *Service) Unsubscribe(ctx context.Context, id string) error {
	unlock := s.lock(id)
	defer unlock()
	if _, err := s.live(ctx, id); err != nil {
		return err
	}
	if _, err := s.deleteStored(ctx, id); err != nil {
		return err
	}
	s.logger.Info("unsubscribed", principalAttr(ctx), slog.String("subscription_id", id))
	return nil
}

// deleteStored deletes subscription id from the store and the dispatcher.
// A store that deleted the record but not all it owns (a backend without
// transactions: its state, dead letters) returns the record with the
// error: the subscription is gone for its subscriber, so it leaves the
// dispatcher too, and the leftovers are logged, not answered.
func (s *Service) deleteStored(ctx context.Context, id string) (*Subscription, error) {
	sub, err := s.store.DeleteSubscription(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, UnknownSubscription(id)
	case err != nil && sub == nil:
		return nil, err
	case err != nil:
		s.logger.Error("subscription deleted, but not all it owned", slog.String("subscription_id", id), slog.Any("err", err))
	}
	s.dispatcher.Remove(id)
	return sub, nil
}

// Cancel ends a subscription on the operator's behalf and sends
// SubscriptionEnd (SourceCancelling) to its EndTo.
func (s *Service) Cancel(ctx context.Context, id, reason string) error {
	if err := s.requireAdmin(ctx, "cancelSubscription"); err != nil {
		return err
	}
	if reason == "" {
		reason = "The subscription was cancelled by the operator."
	}
	sub, err := s.end(ctx, id)
	if err != nil {
		return err
	}
	s.logger.Info("subscription cancelled", principalAttr(ctx), slog.String("subscription_id", id))
	s.sendEnd(sub, EndSourceCancelling, reason)
	return nil
}

// end deletes a live subscription from the store and the dispatcher.
func (s *Service) end(ctx context.Context, id string) (*Subscription, error) {
	unlock := s.lock(id)
	defer unlock()
	if _, err := s.live(ctx, id); err != nil {
		return nil, err
	}
	return s.deleteStored(ctx, id)
}

// sendEnd sends SubscriptionEnd in the background (a few tries).
func (s *Service) sendEnd(sub *Subscription, status EndStatus, reason string) {
	if sub.EndTo == "" || s.opts.Ender == nil {
		return
	}
	s.endMu.Lock()
	defer s.endMu.Unlock()
	if s.ended {
		// Shutdown is waiting for the senders: none may start now.
		s.logger.Warn("SubscriptionEnd not sent: Herald is shutting down", slog.String("subscription_id", sub.ID))
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliverEnd(s.ctx, sub, status, reason)
	}()
}

func (s *Service) deliverEnd(ctx context.Context, sub *Subscription, status EndStatus, reason string) {
	for attempt, delay := range []time.Duration{0, time.Second, 5 * time.Second} {
		if delay > 0 {
			wake := make(chan struct{})
			t := s.clock.AfterFunc(delay, func() { close(wake) })
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-wake:
			}
		}
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := s.opts.Ender.SubscriptionEnd(actx, sub, status, reason)
		cancel()
		if err == nil {
			return
		}
		s.logger.Warn("SubscriptionEnd not delivered", slog.String("subscription_id", sub.ID), slog.Int("attempt", attempt+1), slog.Any("err", err))
	}
}

// deliveryFailed ends a subscription whose endpoint passed the failure
// limit.
func (s *Service) deliveryFailed(sub *Subscription, lastErr string) {
	s.endLoudly(sub, fmt.Sprintf("Herald ended the subscription: its endpoint failed repeatedly; last error: %s", lastErr), "DeliveryFailure", lastErr)
}

// filterFailed ends a subscription whose filter exceeded its evaluation
// budget: retrying it would cost as much every time.
func (s *Service) filterFailed(sub *Subscription, err error) {
	s.endLoudly(sub, fmt.Sprintf("Herald ended the subscription: its filter exceeded the evaluation budget: %v", err), "FilterBudget", err.Error())
}

// endLoudly ends a subscription on Herald's initiative: SubscriptionEnd
// DeliveryFailure with reason to its EndTo, and an operator event on
// EndedTopic (why is its short cause, detail the error), so that no
// subscription ever ends silently.
func (s *Service) endLoudly(sub *Subscription, reason, why, detail string) {
	sub, err := s.end(s.ctx, sub.ID)
	if err != nil {
		return // already gone
	}
	s.logger.Error("subscription ended", slog.String("subscription_id", sub.ID), slog.String("processor", sub.Processor), slog.String("cause", why), slog.String("err", detail))
	s.sendEnd(sub, EndDeliveryFailure, reason)
	now := s.clock.Now()
	text := fmt.Sprintf("subscription %s (%s) ended: DeliveryFailure", sub.ID, sub.Processor)
	if why != "DeliveryFailure" {
		text += " (" + why + ")"
	}
	_, err = s.publishOwn(s.ctx, &Message{
		Topic: EndedTopic, InstanceID: "herald", Timestamp: now.UTC().Format(time.RFC3339),
		Text: text, Info: detail,
	})
	if err != nil {
		s.logger.Error("cannot publish the operator event", slog.Any("err", err))
	}
}

// Publish appends a publisher's event to the log; when it returns, the
// event is durable and will reach every matching subscription. Nobody
// publishes on Herald's own topics (herald.*); with authorization on, the
// principal must be a publisher (or admin) whose key covers the topic.
func (s *Service) Publish(ctx context.Context, m *Message) (*Event, error) {
	if strings.TrimSpace(m.Topic) == "" {
		return nil, errors.New("eventing: message has no topic")
	}
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.CanPublish(m.Topic); err != nil {
		return nil, err
	}
	return s.store.Append(ctx, m, s.clock.Now())
}

// PublishOperatorEvent appends one of Herald's own operator events (a
// topic under herald., such as herald.presence.changed), which Publish
// refuses to everyone. It is for Herald's own components, never for a
// request: a topic outside herald.* is refused.
func (s *Service) PublishOperatorEvent(ctx context.Context, m *Message) (*Event, error) {
	if !access.Reserved(m.Topic) {
		return nil, fmt.Errorf("eventing: operator events are published on herald.* topics, not %q", m.Topic)
	}
	return s.publishOwn(ctx, m)
}

// publishOwn appends one of Herald's own events (operator events on
// herald.* topics).
func (s *Service) publishOwn(ctx context.Context, m *Message) (*Event, error) {
	return s.store.Append(ctx, m, s.clock.Now())
}

// MessagePath returns the path of the message endpoint.
func (s *Service) MessagePath() string { return s.path.Load().(string) }

// reservedPaths cannot become the message endpoint.
var reservedPaths = []string{"/eventing", "/subscriptions", "/xsd", "/stream", "/healthz", "/readyz", "/metrics", "/keys", "/ui", "/ws", "/"}

// SetMessagePath moves the message endpoint to path (persisted).
func (s *Service) SetMessagePath(ctx context.Context, path string) error {
	if err := s.requireAdmin(ctx, "setEndpointAddress"); err != nil {
		return err
	}
	path = strings.TrimSpace(path)
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# \t") || strings.Contains(path, "//") {
		return InvalidValue("address", fmt.Sprintf("%q is not an absolute URL path such as /messages", path))
	}
	for _, r := range reservedPaths {
		if path == r || (r != "/" && strings.HasPrefix(path, r+"/")) {
			return InvalidValue("address", fmt.Sprintf("%q is used by Herald itself", path))
		}
	}
	if err := s.store.SetSetting(ctx, settingMessagePath, path); err != nil {
		return err
	}
	s.path.Store(path)
	s.logger.Info("message endpoint moved", principalAttr(ctx), slog.String("path", path))
	return nil
}

// sweepLoop reclaims expired subscriptions every SweepInterval. A sweep
// costs O(the leases that ended): the dispatcher keeps lease ends in a
// heap.
func (s *Service) sweepLoop() {
	defer s.wg.Done()
	for Sleep(s.ctx, s.clock, s.opts.SweepInterval) {
		s.Sweep(s.ctx)
	}
}

// Sweep reclaims the subscriptions whose lease has ended (no
// SubscriptionEnd) and returns how many. The store decides: a subscription
// renewed since the dispatcher's copy was taken stays.
func (s *Service) Sweep(ctx context.Context) int {
	now := s.clock.Now()
	n := 0
	for _, sub := range s.dispatcher.Expired(now) {
		unlock := s.lock(sub.ID)
		cur, err := s.store.Subscription(ctx, sub.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			s.dispatcher.Remove(sub.ID)
		case err != nil:
			s.logger.Error("cannot reclaim an expired subscription", slog.String("subscription_id", sub.ID), slog.Any("err", err))
			s.dispatcher.RecheckExpiry(sub.ID)
		case !cur.Expired(now):
			s.dispatcher.Update(cur)
		default:
			if _, err := s.store.DeleteSubscription(ctx, sub.ID); err != nil && !errors.Is(err, ErrNotFound) {
				s.logger.Error("cannot reclaim an expired subscription", slog.String("subscription_id", sub.ID), slog.Any("err", err))
				s.dispatcher.RecheckExpiry(sub.ID)
				break
			}
			s.dispatcher.Remove(sub.ID)
			n++
		}
		unlock()
	}
	if n > 0 {
		s.logger.Info("expired subscriptions reclaimed", slog.Int("count", n))
	}
	return n
}

// Drain ends the waits of long polls and streams at once; the HTTP server
// calls it when it starts shutting down, so that they do not hold it up.
func (s *Service) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

// Draining is closed by Drain.
func (s *Service) Draining() <-chan struct{} { return s.draining }

// Shutdown stops delivery (finishing deliveries in flight until ctx ends),
// and, with EndOnShutdown, ends every subscription with SubscriptionEnd
// SourceShuttingDown.
func (s *Service) Shutdown(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	s.Drain()
	err := s.dispatcher.Shutdown(ctx)
	if s.opts.EndOnShutdown {
		// Ending subscriptions gets its own time: the deliveries may
		// have used up ctx.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		// At most maxEndSenders SubscriptionEnd messages in flight: a
		// million subscriptions must not start a million goroutines.
		senders := make(chan struct{}, maxEndSenders)
		subs := s.dispatcher.Subscriptions()
		for i, sub := range subs {
			if ctx.Err() != nil {
				// Bounded: those not ended in time stay, and are
				// delivered to after the next start.
				s.logger.Error("shutdown: time up ending subscriptions", slog.Int("not_ended", len(subs)-i))
				break
			}
			// The stored record, not the dispatcher's copy: that one has
			// no EndTo (see Subscription.Trim).
			stored, derr := s.store.DeleteSubscription(ctx, sub.ID)
			if derr != nil {
				if !errors.Is(derr, ErrNotFound) {
					s.logger.Error("cannot end a subscription on shutdown", slog.String("subscription_id", sub.ID), slog.Any("err", derr))
				}
				continue
			}
			sub := stored
			if sub.EndTo == "" || s.opts.Ender == nil {
				continue
			}
			select {
			case senders <- struct{}{}:
			case <-ctx.Done():
				continue // the loop's check above reports it
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-senders }()
				actx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if eerr := s.opts.Ender.SubscriptionEnd(actx, sub, EndSourceShuttingDown, "Herald is shutting down."); eerr != nil {
					s.logger.Warn("SubscriptionEnd not delivered", slog.String("subscription_id", sub.ID), slog.Any("err", eerr))
				}
			}()
		}
		wg.Wait()
	}
	s.cancel()
	s.endMu.Lock()
	s.ended = true
	s.endMu.Unlock()
	s.wg.Wait()
	return err
}

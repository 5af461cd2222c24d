package soap

import (
	"context"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/wsdl"
)

// ManagerPath is the path of the subscription manager.
const ManagerPath = "/subscriptions"

// manager returns the subscription manager's address for base: the same
// string as for the request before when base is the same (as it is for
// every request through one address), so that the subscriptions held in
// memory share it instead of each keeping its own copy.
func (s *Server) manager(base string) string {
	if m := s.lastManager.Load(); m != nil && len(*m) == len(base)+len(ManagerPath) && strings.HasPrefix(*m, base) {
		return *m
	}
	m := base + ManagerPath
	s.lastManager.Store(&m)
	return m
}

// manageSubscribe serves the Cloud42 subscribe(subscriptionProcessor,
// topic, subscriptionMessage): a subscription with a topic filter, made by
// the same operation as wse:Subscribe. When the processor's message is a
// wse:Subscribe (either version), its EndTo, Expires, Delivery and
// h:Secret count too. The fixed fields come decoded (wsdl.Subscribe); the
// subscriptionMessage, an xs:any, is read as XML.
func (s *Server) manageSubscribe(ctx context.Context, r *Request) (*Response, error) {
	in := r.Input.(*wsdl.Subscribe)
	processor, topic := strings.TrimSpace(in.SubscriptionProcessor), strings.TrimSpace(in.Topic)
	switch {
	case processor == "":
		return nil, eventing.InvalidMessage("subscribe has no subscriptionProcessor, or it is empty")
	case topic == "":
		return nil, eventing.InvalidMessage("subscribe has no topic, or it is empty")
	case in.SubscriptionMessage == nil:
		return nil, eventing.InvalidMessage("subscribe has no subscriptionMessage")
	}
	holder := addressing.Child(r.Payload, eventing.ManagementNS, "subscriptionMessage")
	if holder == nil {
		holder = addressing.Child(r.Payload, "", "subscriptionMessage") // Axis2's unqualified children
	}
	req := &eventing.SubscribeRequest{}
	for _, c := range holder.ChildElements() {
		if addressing.Is(c, eventing.HeraldNS, "Secret") {
			req.Secret = addressing.Text(c)
			continue
		}
		if req.Message == nil {
			req.Message = c
		}
	}
	if req.Message == nil {
		// Processors that take no parameters (pull) accept the empty
		// holder; the others say what they miss.
		req.Message = holder
	}
	if eventing.IsSubscribe(req.Message) {
		inner, err := eventing.ParseSubscribe(req.Message, s.svc.Clock().Now())
		if err != nil {
			return nil, err
		}
		if inner.Filter != nil {
			return nil, eventing.InvalidMessage("subscribe takes its filter from topic; the wse:Subscribe in subscriptionMessage must not have a wse:Filter")
		}
		req.EndTo, req.Expires, req.AddressingNS = inner.EndTo, inner.Expires, inner.AddressingNS
		// The Delivery keeps the inner Subscribe's version (its format);
		// the subscription is a management one, answered and ended in
		// 2004/08 whatever that version is (req.Version stays none).
		req.Delivery = inner.Delivery
		if inner.Secret != "" {
			req.Secret = inner.Secret
		}
	}
	req.Processor = processor
	req.Filter = eventing.TopicFilter(topic)
	req.Management = true
	req.Manager = s.manager(r.Base)
	g, err := s.svc.Subscribe(ctx, req)
	if err != nil {
		return nil, err
	}
	return &Response{Value: &wsdl.SubscribeResponse{Return_: g.Subscription.ID}}, nil
}

func (s *Server) manageUnsubscribe(ctx context.Context, r *Request) (*Response, error) {
	id := strings.TrimSpace(r.Input.(*wsdl.Unsubscribe).SubscriptionId)
	if id == "" {
		return nil, eventing.InvalidMessage("unsubscribe has no subscriptionId, or it is empty")
	}
	if err := s.svc.Unsubscribe(ctx, id); err != nil {
		return nil, err
	}
	return &Response{Value: &wsdl.UnsubscribeResponse{Return_: true}}, nil
}

func (s *Server) setEndpointAddress(ctx context.Context, r *Request) (*Response, error) {
	path := strings.TrimSpace(r.Input.(*wsdl.SetEndpointAddress).Address)
	if path == "" {
		return nil, eventing.InvalidMessage("setEndpointAddress has no address, or it is empty")
	}
	// A full URL is accepted for its path: the host is Herald's own.
	if i := strings.Index(path, "://"); i >= 0 {
		rest := path[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = rest[j:]
		} else {
			path = "/"
		}
	}
	if err := s.svc.SetMessagePath(ctx, path); err != nil {
		return nil, err
	}
	return &Response{Value: &wsdl.SetEndpointAddressResponse{Return_: r.Base + s.svc.MessagePath()}}, nil
}

func (s *Server) getEndpointAddress(_ context.Context, r *Request) (*Response, error) {
	return &Response{Value: &wsdl.GetEndpointAddressResponse{Return_: r.Base + s.svc.MessagePath()}}, nil
}

// wseElement returns a WS-Eventing 2004/08 element declaring its namespace.
func wseElement(local string) *etree.Element { return evElement(eventing.V200408, local) }

// evElement returns an element of WS-Eventing version v, prefix wse,
// declaring its namespace.
func evElement(v eventing.Version, local string) *etree.Element {
	if v == eventing.VersionNone {
		v = eventing.V200408
	}
	el := etree.NewElement("wse:" + local)
	el.CreateAttr("xmlns:wse", v.Namespace())
	return el
}

// ManagerEPR is the subscription manager endpoint reference of sub: in
// 2004/08, in the WS-Addressing namespace the subscriber used, with the
// identifier as a wse:Identifier reference parameter; in 2011, in
// WS-Addressing 1.0 (the Recommendation's), with h:SubscriptionId.
func ManagerEPR(sub *eventing.Subscription) *addressing.EndpointReference {
	if sub.Version() == eventing.V2011 {
		id := etree.NewElement("h:SubscriptionId")
		id.CreateAttr("xmlns:h", eventing.HeraldNS)
		id.SetText(sub.ID)
		return &addressing.EndpointReference{Version: addressing.V10, Address: sub.Manager, ReferenceParameters: []*etree.Element{id}}
	}
	v := addressing.VersionOf(sub.AddressingNS)
	if v == addressing.VersionNone {
		v = addressing.V200408
	}
	id := wseElement("Identifier")
	id.SetText(sub.ID)
	return &addressing.EndpointReference{Version: v, Address: sub.Manager, ReferenceParameters: []*etree.Element{id}}
}

// expiresElement is the lease granted, as wse:Expires (2004/08) or
// wse:GrantedExpires (2011), in the form requested; a lease that never
// ends is PT0S (only 2011 grants one in a response of its own).
func expiresElement(v eventing.Version, e eventing.Expiration) *etree.Element {
	el := etree.NewElement("wse:Expires")
	if v == eventing.V2011 {
		el = etree.NewElement("wse:GrantedExpires")
	}
	switch {
	case e.IsDuration:
		el.SetText(eventing.FormatDuration(e.Duration))
	case e.Time.IsZero():
		el.SetText("PT0S")
	default:
		el.SetText(eventing.FormatDateTime(e.Time))
	}
	return el
}

// granted is the lease to answer in version v: as requested, or, for a
// 2011 request without Expires, as a duration (the Recommendation wants
// one then).
func (s *Server) granted(v eventing.Version, requested *eventing.Expiration, g *eventing.Granted) eventing.Expiration {
	if v == eventing.V2011 && requested == nil && !g.Expires.IsDuration && !g.Expires.Time.IsZero() {
		return eventing.Expiration{IsDuration: true, Duration: g.Expires.Time.Sub(s.svc.Clock().Now()).Round(time.Second)}
	}
	return g.Expires
}

// subscribe serves wse:Subscribe of either version.
func (s *Server) subscribe(ctx context.Context, r *Request) (*Response, error) {
	if r.Payload == nil {
		return nil, eventing.InvalidMessage("the Body is empty")
	}
	req, err := eventing.ParseSubscribe(r.Payload, s.svc.Clock().Now())
	if err != nil {
		return nil, err
	}
	if req.AddressingNS == "" {
		req.AddressingNS = r.Addressing.Version.Namespace()
	}
	req.Manager = s.manager(r.Base)
	g, err := s.svc.Subscribe(ctx, req)
	if err != nil {
		return nil, err
	}
	v := req.Version
	resp := evElement(v, "SubscribeResponse")
	resp.AddChild(ManagerEPR(g.Subscription).Element("wse:SubscriptionManager"))
	resp.AddChild(expiresElement(v, s.granted(v, req.Expires, g)))
	return &Response{Body: []*etree.Element{resp}}, nil
}

const noIdentifier = "the request has no wse:Identifier (2004/08) or h:SubscriptionId (2011) header naming the subscription (copy the SubscriptionManager's reference parameters into the SOAP header)"

// identifier reads the header that addresses a subscription: the
// wse:Identifier of 2004/08 EPRs or the h:SubscriptionId of 2011 ones
// (with or without wsa:IsReferenceParameter; either in either version).
func identifier(r *Request) (string, error) {
	for _, el := range []*etree.Element{
		addressing.Child(r.Envelope.Header, eventing.NS, "Identifier"),
		addressing.Child(r.Envelope.Header, eventing.HeraldNS, "SubscriptionId"),
	} {
		if id := addressing.Text(el); id != "" {
			return id, nil
		}
	}
	return "", eventing.InvalidMessage(noIdentifier)
}

// version is the WS-Eventing version of a manager request: its Body's.
func version(r *Request) eventing.Version {
	if v := eventing.VersionOf(r.Operation.Input.Space); v != eventing.VersionNone {
		return v
	}
	return eventing.V200408
}

// renew serves wse:Renew of either version.
func (s *Server) renew(ctx context.Context, r *Request) (*Response, error) {
	v := version(r)
	id, err := identifier(r)
	if err != nil {
		if v == eventing.V2011 {
			return nil, eventing.UnknownSubscription("(none given)")
		}
		return nil, eventing.UnableToRenew(noIdentifier)
	}
	var exp *eventing.Expiration
	if el := addressing.Child(r.Payload, v.Namespace(), "Expires"); el != nil {
		e, err := eventing.ParseExpires(el, v, s.svc.Clock().Now())
		if err != nil {
			return nil, err
		}
		exp = &e
	}
	g, err := s.svc.Renew(ctx, id, exp)
	if err != nil {
		return nil, err
	}
	resp := evElement(v, "RenewResponse")
	resp.AddChild(expiresElement(v, s.granted(v, exp, g)))
	return &Response{Body: []*etree.Element{resp}}, nil
}

// getStatus serves wse:GetStatus of either version: the lease's end as a
// dateTime. A subscription without expiry gets a 2004/08 response without
// Expires, a 2011 one with GrantedExpires PT0S (2011 requires the element,
// and PT0S is its way of saying "indefinite").
func (s *Server) getStatus(ctx context.Context, r *Request) (*Response, error) {
	v := version(r)
	id, err := identifier(r)
	if err != nil {
		if v == eventing.V2011 {
			return nil, eventing.UnknownSubscription("(none given)")
		}
		return nil, err
	}
	sub, err := s.svc.GetStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	resp := evElement(v, "GetStatusResponse")
	if !sub.Expires.IsZero() || v == eventing.V2011 {
		resp.AddChild(expiresElement(v, eventing.Expiration{Time: sub.Expires}))
	}
	return &Response{Body: []*etree.Element{resp}}, nil
}

// unsubscribe serves wse:Unsubscribe: the 2004/08 response has an empty
// Body, the 2011 one a wse:UnsubscribeResponse.
func (s *Server) unsubscribe(ctx context.Context, r *Request) (*Response, error) {
	v := version(r)
	id, err := identifier(r)
	if err != nil {
		if v == eventing.V2011 {
			return nil, eventing.UnknownSubscription("(none given)")
		}
		return nil, err
	}
	if err := s.svc.Unsubscribe(ctx, id); err != nil {
		return nil, err
	}
	if v == eventing.V2011 {
		return &Response{Body: []*etree.Element{evElement(v, "UnsubscribeResponse")}}, nil
	}
	return &Response{}, nil
}

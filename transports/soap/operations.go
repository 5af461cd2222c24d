package soap

import (
	"context"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
)

// ManagerPath is the path of the subscription manager.
const ManagerPath = "/subscriptions"

// managementElement returns a management namespace element (prefix ns,
// like the seed's responses).
func managementElement(local string) *etree.Element {
	el := etree.NewElement("ns:" + local)
	el.CreateAttr("xmlns:ns", eventing.ManagementNS)
	return el
}

func returnResponse(local, value string) *Response {
	el := managementElement(local)
	el.CreateElement("ns:return").SetText(value)
	return &Response{Body: []*etree.Element{el}}
}

// field returns the trimmed text of the payload's child named local in the
// management namespace (any prefix), and whether it is there.
func field(payload *etree.Element, local string) (*etree.Element, string) {
	c := addressing.Child(payload, eventing.ManagementNS, local)
	if c == nil {
		// Tolerate unqualified children, as Axis2 did.
		c = addressing.Child(payload, "", local)
	}
	return c, addressing.Text(c)
}

func requireField(payload *etree.Element, op, local string) (string, error) {
	c, v := field(payload, local)
	if c == nil {
		return "", eventing.InvalidMessage(fmt.Sprintf("%s has no %s", op, local))
	}
	if v == "" {
		return "", eventing.InvalidMessage(fmt.Sprintf("%s: %s is empty", op, local))
	}
	return v, nil
}

// manageSubscribe serves the Cloud42 subscribe(subscriptionProcessor,
// topic, subscriptionMessage): a subscription with a topic filter, made by
// the same operation as wse:Subscribe. When the processor's message is a
// wse:Subscribe, its EndTo, Expires and h:Secret count too.
func (s *Server) manageSubscribe(ctx context.Context, r *Request) (*Response, error) {
	processor, err := requireField(r.Payload, "subscribe", "subscriptionProcessor")
	if err != nil {
		return nil, err
	}
	topic, err := requireField(r.Payload, "subscribe", "topic")
	if err != nil {
		return nil, err
	}
	holder, _ := field(r.Payload, "subscriptionMessage")
	if holder == nil {
		return nil, eventing.InvalidMessage("subscribe has no subscriptionMessage")
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
	if addressing.Is(req.Message, eventing.NS, "Subscribe") {
		inner, err := eventing.ParseSubscribe(req.Message, s.svc.Clock().Now())
		if err != nil {
			return nil, err
		}
		if inner.Filter != nil {
			return nil, eventing.InvalidMessage("subscribe takes its filter from topic; the wse:Subscribe in subscriptionMessage must not have a wse:Filter")
		}
		req.EndTo, req.Expires, req.AddressingNS = inner.EndTo, inner.Expires, inner.AddressingNS
		if inner.Secret != "" {
			req.Secret = inner.Secret
		}
	}
	req.Processor = processor
	req.Filter = eventing.TopicFilter(topic)
	req.Management = true
	req.Manager = r.Base + ManagerPath
	g, err := s.svc.Subscribe(ctx, req)
	if err != nil {
		return nil, err
	}
	return returnResponse("subscribeResponse", g.Subscription.ID), nil
}

func (s *Server) manageUnsubscribe(ctx context.Context, r *Request) (*Response, error) {
	id, err := requireField(r.Payload, "unsubscribe", "subscriptionId")
	if err != nil {
		return nil, err
	}
	if err := s.svc.Unsubscribe(ctx, id); err != nil {
		return nil, err
	}
	return returnResponse("unsubscribeResponse", "true"), nil
}

func (s *Server) setEndpointAddress(ctx context.Context, r *Request) (*Response, error) {
	path, err := requireField(r.Payload, "setEndpointAddress", "address")
	if err != nil {
		return nil, err
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
	return returnResponse("setEndpointAddressResponse", r.Base+s.svc.MessagePath()), nil
}

func (s *Server) getEndpointAddress(_ context.Context, r *Request) (*Response, error) {
	return returnResponse("getEndpointAddressResponse", r.Base+s.svc.MessagePath()), nil
}

// wseElement returns a WS-Eventing element declaring its namespace.
func wseElement(local string) *etree.Element {
	el := etree.NewElement("wse:" + local)
	el.CreateAttr("xmlns:wse", eventing.NS)
	return el
}

// ManagerEPR is the subscription manager endpoint reference of sub, in the
// WS-Addressing namespace the subscriber used.
func ManagerEPR(sub *eventing.Subscription) *addressing.EndpointReference {
	v := addressing.VersionOf(sub.AddressingNS)
	if v == addressing.VersionNone {
		v = addressing.V200408
	}
	id := wseElement("Identifier")
	id.SetText(sub.ID)
	return &addressing.EndpointReference{Version: v, Address: sub.Manager, ReferenceParameters: []*etree.Element{id}}
}

func expiresElement(e eventing.Expiration) *etree.Element {
	el := etree.NewElement("wse:Expires")
	if e.IsDuration {
		el.SetText(eventing.FormatDuration(e.Duration))
	} else {
		el.SetText(eventing.FormatDateTime(e.Time))
	}
	return el
}

// subscribe serves wse:Subscribe.
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
	req.Manager = r.Base + ManagerPath
	g, err := s.svc.Subscribe(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := wseElement("SubscribeResponse")
	resp.AddChild(ManagerEPR(g.Subscription).Element("wse:SubscriptionManager"))
	resp.AddChild(expiresElement(g.Expires))
	return &Response{Body: []*etree.Element{resp}}, nil
}

const noIdentifier = "the request has no wse:Identifier header naming the subscription (copy the SubscriptionManager's reference parameters into the SOAP header)"

// identifier reads the wse:Identifier header that addresses a subscription
// (with or without wsa:IsReferenceParameter).
func identifier(r *Request) (string, error) {
	if el := addressing.Child(r.Envelope.Header, eventing.NS, "Identifier"); el != nil {
		if id := addressing.Text(el); id != "" {
			return id, nil
		}
	}
	return "", eventing.InvalidMessage(noIdentifier)
}

// renew serves wse:Renew.
func (s *Server) renew(ctx context.Context, r *Request) (*Response, error) {
	id, err := identifier(r)
	if err != nil {
		return nil, eventing.UnableToRenew(noIdentifier)
	}
	var exp *eventing.Expiration
	if el := addressing.Child(r.Payload, eventing.NS, "Expires"); el != nil {
		e, err := eventing.ParseExpiration(addressing.Text(el), s.svc.Clock().Now())
		if err != nil {
			return nil, err
		}
		exp = &e
	}
	g, err := s.svc.Renew(ctx, id, exp)
	if err != nil {
		return nil, err
	}
	resp := wseElement("RenewResponse")
	resp.AddChild(expiresElement(g.Expires))
	return &Response{Body: []*etree.Element{resp}}, nil
}

// getStatus serves wse:GetStatus; a subscription without expiry gets a
// response without Expires.
func (s *Server) getStatus(ctx context.Context, r *Request) (*Response, error) {
	id, err := identifier(r)
	if err != nil {
		return nil, err
	}
	sub, err := s.svc.GetStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	resp := wseElement("GetStatusResponse")
	if !sub.Expires.IsZero() {
		resp.AddChild(expiresElement(eventing.Expiration{Time: sub.Expires}))
	}
	return &Response{Body: []*etree.Element{resp}}, nil
}

// unsubscribe serves wse:Unsubscribe: the 2004/08 response has an empty Body.
func (s *Server) unsubscribe(ctx context.Context, r *Request) (*Response, error) {
	id, err := identifier(r)
	if err != nil {
		return nil, err
	}
	if err := s.svc.Unsubscribe(ctx, id); err != nil {
		return nil, err
	}
	return &Response{}, nil
}

package eventing

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// A Delivery is the version-neutral part of a WS-Eventing Subscribe that
// says where and how to deliver: what a processor reads (through
// EndpointRequest.Delivery) instead of the wse:Subscribe of one version.
type Delivery struct {
	// Version is the WS-Eventing version of the request.
	Version Version
	// NotifyTo is the event sink; nil when the request has none (a 2011
	// Delivery may leave it out, a processor element then says where).
	NotifyTo *addressing.EndpointReference
	// EndTo receives SubscriptionEnd; nil for none.
	EndTo *addressing.EndpointReference
	// Mode is the 2004/08 wse:Delivery/@Mode ("" when absent, and in 2011).
	Mode string
	// Format is the 2011 wse:Format/@Name ("" when absent, and in 2004/08).
	Format string
	// Processor is the name in Herald's h:Processor extension element
	// ("" when absent): it picks the processor in either version.
	Processor string
	// Extensions are the extension elements of wse:Delivery (every child
	// but wse:NotifyTo and h:Processor), then those of wse:Subscribe
	// itself (but h:Secret), in document order. They belong to a document
	// the processor must not keep: copy what it needs (addressing.Detach).
	Extensions []*etree.Element
}

// Element returns the first extension element, the processor's own
// description of its endpoint (a phone-book entry, an h:Email), or nil.
func (d *Delivery) Element() *etree.Element {
	if d == nil || len(d.Extensions) == 0 {
		return nil
	}
	return d.Extensions[0]
}

// Wrapped reports whether notifications go out in the 2011 wrapped format.
func (d *Delivery) Wrapped() bool { return d != nil && d.Format == FormatWrap }

// IsSubscribe reports whether el is a wse:Subscribe of either version.
func IsSubscribe(el *etree.Element) bool {
	return el != nil && el.Tag == "Subscribe" && VersionOf(el.NamespaceURI()) != VersionNone
}

// ParseSubscribe reads a wse:Subscribe of either version into a request:
// Delivery (NotifyTo, Mode or Format, h:Processor, the extension
// elements), EndTo, Expires (with 2011's BestEffort), Filter and Herald's
// h:Secret. req.Message is el. Errors are *Error values for the
// subscriber. now resolves durations in years or months.
func ParseSubscribe(el *etree.Element, now time.Time) (*SubscribeRequest, error) {
	if !IsSubscribe(el) {
		return nil, InvalidMessage(fmt.Sprintf("expected wse:Subscribe ({%s} or {%s}), got {%s}%s", NS, NS2011, el.NamespaceURI(), el.Tag))
	}
	v := VersionOf(el.NamespaceURI())
	ns := v.Namespace()
	req := &SubscribeRequest{Message: el, Version: v}
	d, err := parseDelivery(el, v)
	if err != nil {
		return nil, err
	}
	req.Delivery = d
	seen := map[string]bool{}
	for _, c := range el.ChildElements() {
		if addressing.Is(c, HeraldNS, "Secret") {
			req.Secret = addressing.Text(c)
			continue
		}
		if c.NamespaceURI() != ns {
			continue // extension elements (parseDelivery collected them)
		}
		if seen[c.Tag] {
			return nil, InvalidMessage(fmt.Sprintf("wse:Subscribe has more than one wse:%s", c.Tag))
		}
		seen[c.Tag] = true
		switch c.Tag {
		case "EndTo", "Delivery":
			// read by parseDelivery
		case "Format":
			if v != V2011 {
				return nil, InvalidMessage("unexpected element wse:Format in wse:Subscribe")
			}
		case "Expires":
			exp, err := ParseExpires(c, v, now)
			if err != nil {
				return nil, err
			}
			req.Expires = &exp
		case "Filter":
			f, err := ParseFilter(c)
			if err != nil {
				return nil, err
			}
			req.Filter = f
		default:
			return nil, InvalidMessage(fmt.Sprintf("unexpected element wse:%s in wse:Subscribe", c.Tag))
		}
	}
	req.EndTo = d.EndTo
	if d.NotifyTo != nil {
		req.AddressingNS = d.NotifyTo.Version.Namespace()
	} else if d.EndTo != nil {
		req.AddressingNS = d.EndTo.Version.Namespace()
	}
	return req, nil
}

// ParseExpires reads a wse:Expires element of version v (Subscribe's or
// Renew's): its value, and in 2011 its BestEffort (Exact is its opposite)
// and whether it is the lexical zero duration (PT0S, P0D, …), which asks
// for a subscription that never expires. A duration that only rounds to
// zero (PT0.0000000001S, -PT0S) is not that request: it is refused as not
// positive.
func ParseExpires(el *etree.Element, v Version, now time.Time) (Expiration, error) {
	text := addressing.Text(el)
	exp, err := ParseExpiration(text, now)
	if err != nil || v != V2011 {
		return exp, err
	}
	best, err := ParseBestEffort(el)
	if err != nil {
		return Expiration{}, err
	}
	exp.Exact = !best
	exp.Indefinite = exp.IsDuration && lexicalZero(text)
	return exp, nil
}

// lexicalZero reports whether an xs:duration is written with zeros only
// (and no sign).
func lexicalZero(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return false
	}
	for _, r := range s {
		if r >= '1' && r <= '9' {
			return false
		}
	}
	return true
}

// ParseBestEffort reads the 2011 wse:Expires/@BestEffort (an xs:boolean,
// false when absent).
func ParseBestEffort(expires *etree.Element) (bool, error) {
	switch be := strings.TrimSpace(expires.SelectAttrValue("BestEffort", "false")); be {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	default:
		return false, InvalidMessage(fmt.Sprintf("wse:Expires/@BestEffort %q is not an xs:boolean", be))
	}
}

// ParseDelivery reads the delivery part of a wse:Subscribe of either
// version (no lease, no filter): what a stored subscription's processor
// needs again after a restart.
func ParseDelivery(el *etree.Element) (*Delivery, error) {
	if !IsSubscribe(el) {
		return nil, InvalidMessage(fmt.Sprintf("expected wse:Subscribe, got {%s}%s", el.NamespaceURI(), el.Tag))
	}
	return parseDelivery(el, VersionOf(el.NamespaceURI()))
}

func parseDelivery(el *etree.Element, v Version) (*Delivery, error) {
	ns := v.Namespace()
	d := &Delivery{Version: v}
	var delivery *etree.Element
	var outer []*etree.Element
	for _, c := range el.ChildElements() {
		switch {
		case addressing.Is(c, ns, "Delivery"):
			if delivery != nil {
				return nil, InvalidMessage("wse:Subscribe has more than one wse:Delivery")
			}
			delivery = c
		case addressing.Is(c, ns, "EndTo"):
			if d.EndTo != nil {
				return nil, InvalidMessage("wse:Subscribe has more than one wse:EndTo")
			}
			epr, err := addressing.ParseEPR(c)
			if err != nil {
				return nil, UnusableEPR("wse:EndTo", err.Error())
			}
			d.EndTo = epr
		case addressing.Is(c, ns, "Format") && v == V2011:
			d.Format = strings.TrimSpace(c.SelectAttrValue("Name", FormatUnwrap))
		case addressing.Is(c, HeraldNS, "Secret"):
		case addressing.Is(c, HeraldNS, "Processor"):
			d.Processor = addressing.Text(c)
		case c.NamespaceURI() != ns:
			outer = append(outer, c)
		}
	}
	if delivery == nil {
		if v == V2011 {
			return nil, NoDeliveryMechanism("wse:Subscribe has no wse:Delivery")
		}
		return nil, InvalidMessage("wse:Subscribe has no wse:Delivery")
	}
	if v == V200408 {
		d.Mode = strings.TrimSpace(delivery.SelectAttrValue("Mode", ""))
	}
	for _, c := range delivery.ChildElements() {
		switch {
		case addressing.Is(c, ns, "NotifyTo"):
			if d.NotifyTo != nil {
				return nil, InvalidMessage("wse:Delivery has more than one wse:NotifyTo")
			}
			epr, err := addressing.ParseEPR(c)
			if err != nil {
				return nil, UnusableEPR("wse:NotifyTo", err.Error())
			}
			d.NotifyTo = epr
		case addressing.Is(c, HeraldNS, "Processor"):
			d.Processor = addressing.Text(c)
		case c.NamespaceURI() == ns:
			return nil, InvalidMessage(fmt.Sprintf("unexpected element wse:%s in wse:Delivery", c.Tag))
		default:
			d.Extensions = append(d.Extensions, c)
		}
	}
	d.Extensions = append(d.Extensions, outer...)
	return d, nil
}

// StripSecret returns a copy of el without h:Secret children, so that the
// stored XML never holds the secret (it is kept apart, see Subscription),
// nor comments and the white space that only indents elements: what is
// stored is what the processor reads again, once per subscription.
func StripSecret(el *etree.Element) *etree.Element {
	cp := addressing.Detach(el)
	for _, c := range cp.ChildElements() {
		if c.Tag == "Secret" && c.NamespaceURI() == HeraldNS {
			cp.RemoveChild(c)
		}
	}
	compact(cp)
	return cp
}

// compact removes comments, and text that is only white space from
// elements that have child elements (indentation, not content).
func compact(el *etree.Element) {
	hasElements := len(el.ChildElements()) > 0
	for i := len(el.Child) - 1; i >= 0; i-- {
		switch t := el.Child[i].(type) {
		case *etree.Comment:
			el.RemoveChildAt(i)
		case *etree.CharData:
			if hasElements && strings.TrimSpace(t.Data) == "" {
				el.RemoveChildAt(i)
			}
		case *etree.Element:
			compact(t)
		}
	}
}

package eventing

import (
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

// ParseSubscribe reads a wse:Subscribe element into a request: EndTo,
// Delivery (its Mode in req.Mode), Expires, Filter and Herald's h:Secret
// extension. The processor reads the Delivery itself (req.Message is el);
// errors are faults for the subscriber. now resolves durations in years or
// months.
func ParseSubscribe(el *etree.Element, now time.Time) (*SubscribeRequest, error) {
	if !addressing.Is(el, NS, "Subscribe") {
		return nil, InvalidMessage(fmt.Sprintf("expected wse:Subscribe, got {%s}%s", el.NamespaceURI(), el.Tag))
	}
	req := &SubscribeRequest{Message: el}
	seen := map[string]bool{}
	var delivery *etree.Element
	for _, c := range el.ChildElements() {
		ns := c.NamespaceURI()
		if ns == HeraldNS && c.Tag == "Secret" {
			req.Secret = addressing.Text(c)
			continue
		}
		if ns != NS {
			continue // extension elements
		}
		if seen[c.Tag] {
			return nil, InvalidMessage("wse:Subscribe has more than one wse:" + c.Tag)
		}
		seen[c.Tag] = true
		switch c.Tag {
		case "EndTo":
			epr, err := addressing.ParseEPR(c)
			if err != nil {
				return nil, InvalidMessage("wse:EndTo: " + err.Error())
			}
			req.EndTo = epr
		case "Delivery":
			delivery = c
		case "Expires":
			exp, err := ParseExpiration(addressing.Text(c), now)
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
			return nil, InvalidMessage("unexpected element wse:" + c.Tag + " in wse:Subscribe")
		}
	}
	if delivery == nil {
		return nil, InvalidMessage("wse:Subscribe has no wse:Delivery")
	}
	req.Mode = delivery.SelectAttrValue("Mode", "")
	if n := addressing.Child(delivery, NS, "NotifyTo"); n != nil {
		if a := firstAddress(n); a != "" {
			req.AddressingNS = a
		}
	}
	if req.AddressingNS == "" && req.EndTo != nil {
		req.AddressingNS = req.EndTo.Version.Namespace()
	}
	return req, nil
}

// firstAddress returns the namespace of the wsa:Address inside an EPR.
func firstAddress(epr *etree.Element) string {
	for _, c := range epr.ChildElements() {
		if c.Tag == "Address" && addressing.VersionOf(c.NamespaceURI()) != addressing.VersionNone {
			return c.NamespaceURI()
		}
	}
	return ""
}

// StripSecret returns a copy of el without h:Secret children, so that the
// stored XML never holds the secret (it is kept apart, see Subscription).
func StripSecret(el *etree.Element) *etree.Element {
	cp := addressing.Detach(el)
	for _, c := range cp.ChildElements() {
		if c.Tag == "Secret" && c.NamespaceURI() == HeraldNS {
			cp.RemoveChild(c)
		}
	}
	return cp
}

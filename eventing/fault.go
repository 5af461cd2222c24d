package eventing

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Code is the class of a fault: whose problem it is.
type Code int

// Fault codes, named as in SOAP 1.2 (SOAP 1.1 calls Sender "Client" and
// Receiver "Server").
const (
	Sender Code = iota + 1
	Receiver
	MustUnderstand
	VersionMismatch
)

func (c Code) String() string {
	switch c {
	case Sender:
		return "Sender"
	case Receiver:
		return "Receiver"
	case MustUnderstand:
		return "MustUnderstand"
	case VersionMismatch:
		return "VersionMismatch"
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// A Fault is an error that a SOAP front end reports to the requester as a
// SOAP fault. Operations return *Fault for every problem the requester can
// act on; any other error is a Receiver fault that the front end logs.
type Fault struct {
	Code Code
	// Subcode is the fault's subcode QName (WS-Eventing, WS-Addressing or
	// Herald); zero for none.
	Subcode xml.Name
	// Reason is the human readable explanation (English).
	Reason string
	// Detail holds the fault's detail entries (namespaces declared on
	// each, see addressing.Detach).
	Detail []*etree.Element
	// NotUnderstood lists the header QNames a MustUnderstand fault is about.
	NotUnderstood []xml.Name
}

func (f *Fault) Error() string {
	if f.Subcode.Local != "" {
		return fmt.Sprintf("%s fault %s: %s", f.Code, f.Subcode.Local, f.Reason)
	}
	return fmt.Sprintf("%s fault: %s", f.Code, f.Reason)
}

// uriDetail returns an element {ns}local holding text, declaring its own
// namespace so it can stand in any Detail.
func uriDetail(ns, prefix, local, text string) *etree.Element {
	el := etree.NewElement(prefix + ":" + local)
	el.CreateAttr("xmlns:"+prefix, ns)
	el.SetText(text)
	return el
}

func wseFault(code Code, sub, reason string, detail ...*etree.Element) *Fault {
	return &Fault{Code: code, Subcode: xml.Name{Space: NS, Local: sub}, Reason: reason, Detail: detail}
}

// InvalidMessage is wse:InvalidMessage: the request does not match the
// message outline; reason says how.
func InvalidMessage(reason string) *Fault {
	return wseFault(Sender, "InvalidMessage", "The message is not valid and cannot be processed: "+reason)
}

// InvalidExpirationTime is wse:InvalidExpirationTime; reason says why.
func InvalidExpirationTime(reason string) *Fault {
	return wseFault(Sender, "InvalidExpirationTime", "The expiration time requested is invalid: "+reason)
}

// DeliveryModeRequestedUnavailable is wse:DeliveryModeRequestedUnavailable
// with the supported modes as wse:SupportedDeliveryMode details.
func DeliveryModeRequestedUnavailable(mode string, supported []string) *Fault {
	var d []*etree.Element
	for _, m := range supported {
		d = append(d, uriDetail(NS, "wse", "SupportedDeliveryMode", m))
	}
	return wseFault(Sender, "DeliveryModeRequestedUnavailable",
		fmt.Sprintf("The requested delivery mode is not supported: %s", mode), d...)
}

// FilteringRequestedUnavailable is wse:FilteringRequestedUnavailable with
// the supported dialects as wse:SupportedDialect details.
func FilteringRequestedUnavailable(dialect string, supported []string) *Fault {
	var d []*etree.Element
	for _, s := range supported {
		d = append(d, uriDetail(NS, "wse", "SupportedDialect", s))
	}
	return wseFault(Sender, "FilteringRequestedUnavailable",
		fmt.Sprintf("The requested filter dialect is not supported: %s", dialect), d...)
}

// EventSourceUnableToProcess is wse:EventSourceUnableToProcess: Herald
// cannot take the subscription for a reason of its own.
func EventSourceUnableToProcess(reason string) *Fault {
	return wseFault(Receiver, "EventSourceUnableToProcess", reason)
}

// UnableToRenew is wse:UnableToRenew.
func UnableToRenew(reason string) *Fault {
	return wseFault(Receiver, "UnableToRenew", reason)
}

// UnknownSubscription is the fault for GetStatus, Unsubscribe and the
// management operations naming a subscription that does not exist or has
// expired. WS-Eventing 2004/08 defines no fault for this; Herald answers
// with the one the W3C Recommendation (2011) defines for exactly this case:
// Code Sender, Subcode {http://www.w3.org/2011/03/ws-evt}UnknownSubscription,
// the identifier as a wse:Identifier detail.
func UnknownSubscription(id string) *Fault {
	return &Fault{
		Code:    Sender,
		Subcode: xml.Name{Space: NS2011, Local: "UnknownSubscription"},
		Reason:  fmt.Sprintf("The subscription is not known: %s", id),
		Detail:  []*etree.Element{uriDetail(NS, "wse", "Identifier", id)},
	}
}

// UnknownProcessor is the Sender fault for a subscription processor name
// that is not registered; the reason and the h:SupportedProcessor details
// list the known names.
func UnknownProcessor(name string, known []string) *Fault {
	var d []*etree.Element
	for _, k := range known {
		d = append(d, uriDetail(HeraldNS, "h", "SupportedProcessor", k))
	}
	return &Fault{
		Code:    Sender,
		Subcode: xml.Name{Space: HeraldNS, Local: "UnknownProcessor"},
		Reason:  fmt.Sprintf("unknown subscription processor %q; known processors: %s", name, strings.Join(known, ", ")),
		Detail:  d,
	}
}

// InvalidValue is a Sender fault (wse:InvalidMessage) for a management
// operation argument that is malformed.
func InvalidValue(what, reason string) *Fault {
	return InvalidMessage(what + ": " + reason)
}

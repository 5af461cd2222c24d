package soap

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
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

// A Fault is a SOAP fault as the front end writes it, in no SOAP version:
// writeFault gives it the form of 1.2 or 1.1.
type Fault struct {
	Code Code
	// Subcode is the fault's subcode QName (WS-Eventing, WS-Addressing,
	// WS-Security or Herald); zero for none.
	Subcode xml.Name
	// Reason is the human readable explanation (English).
	Reason string
	// Detail holds the fault's detail entries (namespaces declared on
	// each).
	Detail []*etree.Element
	// NotUnderstood lists the header QNames a MustUnderstand fault is about.
	NotUnderstood []xml.Name
	// Eventing marks a WS-Eventing fault of the 2011 Recommendation, sent
	// with its own action (…/ws-evt/fault) instead of WS-Addressing's.
	Eventing bool
}

func (f *Fault) Error() string {
	if f.Subcode.Local != "" {
		return fmt.Sprintf("%s fault %s: %s", f.Code, f.Subcode.Local, f.Reason)
	}
	return fmt.Sprintf("%s fault: %s", f.Code, f.Reason)
}

// A faultName is the answer to one kind of error in one WS-Eventing
// version: code and subcode, and the element that lists Error.Supported.
type faultName struct {
	code      Code
	sub       xml.Name
	supported string // local name of the detail element, in sub's namespace
}

func wse04(local string) xml.Name { return xml.Name{Space: eventing.NS, Local: local} }
func wse11(local string) xml.Name { return xml.Name{Space: eventing.NS2011, Local: local} }
func herald(local string) xml.Name {
	return xml.Name{Space: eventing.HeraldNS, Local: local}
}

// faults maps each kind of domain error to its fault in each WS-Eventing
// version: the one place where Herald's errors get WS-Eventing names. The
// management operations answer as 2004/08 does. The README's table of
// faults is this table.
var faults = map[error][2]faultName{
	//                                  2004/08                                                           2011
	eventing.ErrInvalidMessage:      {{Sender, wse04("InvalidMessage"), ""}, {Sender, herald("InvalidMessage"), ""}},
	eventing.ErrInvalidExpiration:   {{Sender, wse04("InvalidExpirationTime"), ""}, {Sender, wse11("UnsupportedExpirationValue"), ""}},
	eventing.ErrExpirationType:      {{Sender, wse04("InvalidExpirationTime"), ""}, {Sender, wse11("UnsupportedExpirationType"), ""}},
	eventing.ErrFilterUnavailable:   {{Sender, wse04("FilteringRequestedUnavailable"), "SupportedDialect"}, {Sender, wse11("FilteringRequestedUnavailable"), "SupportedDialect"}},
	eventing.ErrInvalidFilter:       {{Sender, wse04("InvalidMessage"), ""}, {Sender, wse11("CannotProcessFilter"), ""}},
	eventing.ErrEmptyFilter:         {{Sender, wse04("InvalidMessage"), ""}, {Sender, wse11("EmptyFilter"), ""}},
	eventing.ErrDeliveryUnavailable: {{Sender, wse04("DeliveryModeRequestedUnavailable"), "SupportedDeliveryMode"}, {Sender, wse11("DeliveryFormatRequestedUnavailable"), "SupportedDeliveryFormat"}},
	eventing.ErrNoDelivery:          {{Sender, wse04("InvalidMessage"), ""}, {Sender, wse11("NoDeliveryMechanismEstablished"), ""}},
	eventing.ErrUnusableEPR:         {{Sender, wse04("InvalidMessage"), ""}, {Sender, wse11("UnusableEPR"), ""}},
	eventing.ErrEndToNotSupported:   {{Sender, wse04("InvalidMessage"), ""}, {Sender, wse11("EndToNotSupported"), ""}},
	// 2004/08 has no fault for an unknown subscription: Herald answers
	// with the one 2011 defines for exactly this case.
	eventing.ErrUnknownSubscription: {{Sender, wse11("UnknownSubscription"), ""}, {Sender, wse11("UnknownSubscription"), ""}},
	eventing.ErrUnableToRenew:       {{Receiver, wse04("UnableToRenew"), ""}, {Sender, wse11("UnknownSubscription"), ""}},
	eventing.ErrUnableToProcess:     {{Receiver, wse04("EventSourceUnableToProcess"), ""}, {Receiver, herald("EventSourceUnableToProcess"), ""}},
	eventing.ErrUnknownProcessor:    {{Sender, herald("UnknownProcessor"), "SupportedProcessor"}, {Sender, herald("UnknownProcessor"), "SupportedProcessor"}},
}

// faultFor maps a domain error to its fault in WS-Eventing version v
// (VersionNone answers as 2004/08); ok is false when err is no
// *eventing.Error.
func faultFor(err error, v eventing.Version) (*Fault, bool) {
	var e *eventing.Error
	if !errors.As(err, &e) {
		return nil, false
	}
	names, known := faults[e.Kind]
	if !known {
		return &Fault{Code: Sender, Reason: e.Reason}, true
	}
	n := names[0]
	if v == eventing.V2011 {
		n = names[1]
	}
	f := &Fault{Code: n.code, Subcode: n.sub, Reason: e.Reason, Eventing: v == eventing.V2011}
	if n.supported != "" {
		for _, s := range e.Supported {
			f.Detail = append(f.Detail, detailElement(n.sub.Space, n.supported, s))
		}
	}
	if e.Subject != "" && (e.Kind == eventing.ErrUnknownSubscription || e.Kind == eventing.ErrUnableToRenew) {
		if v == eventing.V2011 {
			f.Detail = append(f.Detail, detailElement(eventing.HeraldNS, "SubscriptionId", e.Subject))
		} else {
			f.Detail = append(f.Detail, detailElement(eventing.NS, "Identifier", e.Subject))
		}
	}
	return f, true
}

// detailElement returns an element {ns}local holding text, declaring its
// own namespace so it can stand in any Detail.
func detailElement(ns, local, text string) *etree.Element {
	p := prefixFor(ns)
	el := etree.NewElement(p + ":" + local)
	el.CreateAttr("xmlns:"+p, ns)
	el.SetText(text)
	return el
}

// prefixFor returns a prefix to use for ns in fault codes.
func prefixFor(ns string) string {
	switch ns {
	case eventing.NS:
		return "wse"
	case eventing.NS2011:
		return "wse11"
	case eventing.HeraldNS:
		return "h"
	case WSSE:
		return "wsse"
	}
	return "q"
}

// qnameValue sets el's text to the QName n, declaring its prefix on el.
func qnameValue(el *etree.Element, n xml.Name) {
	p := prefixFor(n.Space)
	el.CreateAttr("xmlns:"+p, n.Space)
	el.SetText(p + ":" + n.Local)
}

// writeFault fills env's Body (and Header, for MustUnderstand) with f and
// returns the HTTP status of the fault: in SOAP 1.2, 400 for Sender and 500
// otherwise; in SOAP 1.1, 500.
func writeFault(env *Envelope, f *Fault) int {
	fe := env.Body.CreateElement("s:Fault")
	if env.Version == V11 {
		code := fe.CreateElement("faultcode")
		if f.Subcode.Local != "" {
			// The WS-Addressing/WS-Eventing SOAP 1.1 convention: the
			// subcode stands in faultcode.
			qnameValue(code, f.Subcode)
		} else {
			code.SetText("s:" + code11(f.Code))
		}
		fe.CreateElement("faultstring").SetText(f.Reason)
		if len(f.Detail) > 0 {
			d := fe.CreateElement("detail")
			for _, el := range f.Detail {
				d.AddChild(el.Copy())
			}
		}
		return http.StatusInternalServerError
	}
	code := fe.CreateElement("s:Code")
	code.CreateElement("s:Value").SetText("s:" + f.Code.String())
	if f.Subcode.Local != "" {
		qnameValue(code.CreateElement("s:Subcode").CreateElement("s:Value"), f.Subcode)
	}
	reason := fe.CreateElement("s:Reason").CreateElement("s:Text")
	reason.CreateAttr("xml:lang", "en")
	reason.SetText(f.Reason)
	if len(f.Detail) > 0 {
		d := fe.CreateElement("s:Detail")
		for _, el := range f.Detail {
			d.AddChild(el.Copy())
		}
	}
	for _, n := range f.NotUnderstood {
		nu := env.Header.CreateElement("s:NotUnderstood")
		nu.CreateAttr("xmlns:"+prefixFor(n.Space), n.Space)
		nu.CreateAttr("qname", prefixFor(n.Space)+":"+n.Local)
	}
	if f.Code == Sender {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func code11(c Code) string {
	switch c {
	case Sender:
		return "Client"
	case MustUnderstand:
		return "MustUnderstand"
	case VersionMismatch:
		return "VersionMismatch"
	}
	return "Server"
}

package eventing

import "fmt"

// Version is a WS-Eventing version: the 2004/08 member submission or the
// W3C Recommendation of 2011. It is a value, like addressing.Version: the
// domain takes it from a request (SubscribeRequest.Version) and records it
// in a subscription (Subscription.EventingNS), and the SOAP front end maps
// it to names (namespaces, actions, fault QNames). The zero value means
// "none" (a request that is no WS-Eventing message, such as the Cloud42
// management subscribe without a wse:Subscribe inside).
type Version int

// The WS-Eventing versions Herald speaks.
const (
	VersionNone Version = iota
	// V200408 is the member submission of August 2004
	// (http://schemas.xmlsoap.org/ws/2004/08/eventing), written against
	// WS-Addressing 2004/08 and used by Savan, JBossWS and most devices.
	V200408
	// V2011 is the W3C Recommendation of 13 December 2011
	// (http://www.w3.org/2011/03/ws-evt), written against WS-Addressing
	// 1.0 and used by Apache CXF.
	V2011
)

// Versions lists the versions Herald speaks, oldest first.
var Versions = []Version{V200408, V2011}

// VersionOf returns the version whose namespace is ns, or VersionNone.
func VersionOf(ns string) Version {
	switch ns {
	case NS:
		return V200408
	case NS2011:
		return V2011
	}
	return VersionNone
}

// Namespace returns the version's namespace URI ("" for VersionNone).
func (v Version) Namespace() string {
	switch v {
	case V200408:
		return NS
	case V2011:
		return NS2011
	}
	return ""
}

// Action returns the action URI of one of the version's messages, named
// by its local name ("Subscribe", "RenewResponse", "SubscriptionEnd").
func (v Version) Action(local string) string {
	if v == VersionNone {
		v = V200408
	}
	return v.Namespace() + "/" + local
}

// FaultAction returns the wsa:Action of the version's faults: 2011 defines
// …/ws-evt/fault; 2004/08 defines none and uses WS-Addressing's (empty
// here: the front end takes the addressing version's fault action).
func (v Version) FaultAction() string {
	if v == V2011 {
		return NS2011 + "/fault"
	}
	return ""
}

// DialectXPath returns the version's XPath 1.0 filter dialect URI, the
// default for a wse:Filter without Dialect.
func (v Version) DialectXPath() string {
	if v == V2011 {
		return DialectXPath10W3C
	}
	return DialectXPath10
}

// StatusURI returns the version's wse:Status URI of a SubscriptionEnd
// status (the statuses are named alike in both versions).
func (v Version) StatusURI(s EndStatus) string {
	if v == V2011 {
		return NS2011 + "/" + s.Short()
	}
	return string(s)
}

// String returns a short name for logs.
func (v Version) String() string {
	switch v {
	case V200408:
		return "wse-2004/08"
	case V2011:
		return "wse-2011"
	}
	return fmt.Sprintf("wse-none(%d)", int(v))
}

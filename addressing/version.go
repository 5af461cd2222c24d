package addressing

import "fmt"

// Namespace URIs of the two WS-Addressing versions.
const (
	// NS200408 is the WS-Addressing namespace of the August 2004 submission,
	// the one WS-Eventing 2004/08 is written against.
	NS200408 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	// NS10 is the WS-Addressing 1.0 (W3C Recommendation, 2005/08) namespace.
	NS10 = "http://www.w3.org/2005/08/addressing"
)

// Version is a WS-Addressing version. The zero value means "none seen".
type Version int

// The versions Herald understands.
const (
	VersionNone Version = iota
	V200408
	V10
)

// VersionOf returns the version whose namespace is ns, or VersionNone.
func VersionOf(ns string) Version {
	switch ns {
	case NS200408:
		return V200408
	case NS10:
		return V10
	}
	return VersionNone
}

// Namespace returns the version's namespace URI ("" for VersionNone).
func (v Version) Namespace() string {
	switch v {
	case V200408:
		return NS200408
	case V10:
		return NS10
	}
	return ""
}

// Anonymous returns the version's anonymous address: a reply to it goes
// back on the HTTP response of the request.
func (v Version) Anonymous() string {
	if v == V10 {
		return NS10 + "/anonymous"
	}
	return NS200408 + "/role/anonymous"
}

// None returns the WS-Addressing 1.0 "none" address (messages to it are
// discarded); 2004/08 has no such address, so it returns "" there.
func (v Version) None() string {
	if v == V10 {
		return NS10 + "/none"
	}
	return ""
}

// FaultAction returns the action URI of a fault message in this version.
func (v Version) FaultAction() string {
	if v == V10 {
		return NS10 + "/fault"
	}
	return NS200408 + "/fault"
}

// IsAnonymous reports whether addr is the anonymous address of either version
// (or empty, which WS-Addressing 1.0 treats as anonymous).
func IsAnonymous(addr string) bool {
	return addr == "" || addr == V10.Anonymous() || addr == V200408.Anonymous()
}

// String returns a short name for logs.
func (v Version) String() string {
	switch v {
	case V200408:
		return "wsa-2004/08"
	case V10:
		return "wsa-1.0"
	}
	return fmt.Sprintf("wsa-none(%d)", int(v))
}

// Fault subcodes (local names in the version's namespace) that a SOAP node
// raises for addressing problems. The 2004/08 submission and 1.0 name them
// differently.
func (v Version) headerRequiredSubcode() string {
	if v == V10 {
		return "MessageAddressingHeaderRequired"
	}
	return "MessageInformationHeaderRequired"
}

func (v Version) invalidHeaderSubcode() string {
	if v == V10 {
		return "InvalidAddressingHeader"
	}
	return "InvalidMessageInformationHeader"
}

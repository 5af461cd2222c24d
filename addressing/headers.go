package addressing

import (
	"fmt"

	"github.com/beevik/etree"
)

// Headers are the message addressing properties of one SOAP message.
type Headers struct {
	// Version is the WS-Addressing version the headers were written in,
	// VersionNone when the message carries none.
	Version   Version
	Action    string
	To        string
	MessageID string
	RelatesTo string
	ReplyTo   *EndpointReference
	FaultTo   *EndpointReference
	From      *EndpointReference
}

// A HeaderError reports a missing or malformed addressing header. SOAP
// front ends turn it into the version's fault (MessageAddressingHeaderRequired
// / InvalidAddressingHeader in 1.0, MessageInformationHeaderRequired /
// InvalidMessageInformationHeader in 2004/08).
type HeaderError struct {
	Version Version
	Header  string // local name, e.g. "Action"
	Missing bool
	Reason  string
}

func (e *HeaderError) Error() string {
	if e.Missing {
		return fmt.Sprintf("addressing: required header wsa:%s is missing", e.Header)
	}
	return fmt.Sprintf("addressing: invalid header wsa:%s: %s", e.Header, e.Reason)
}

// Subcode returns the local name of the WS-Addressing fault subcode (in the
// version's namespace) for the error.
func (e *HeaderError) Subcode() string {
	v := e.Version
	if v == VersionNone {
		v = V10
	}
	if e.Missing {
		return v.headerRequiredSubcode()
	}
	return v.invalidHeaderSubcode()
}

// IsHeader reports whether el is a message addressing header this package
// reads (in either version); SOAP nodes use it to decide which
// mustUnderstand headers they understand.
func IsHeader(el *etree.Element) bool {
	if VersionOf(el.NamespaceURI()) == VersionNone {
		return false
	}
	switch el.Tag {
	case "Action", "To", "MessageID", "RelatesTo", "ReplyTo", "FaultTo", "From":
		return true
	}
	return false
}

// ReadHeaders reads the addressing headers among the children of a SOAP
// Header element (which may be nil). Values are trimmed of white space. A
// header that appears twice, an endpoint reference without an address, or
// a message mixing both versions is an error.
func ReadHeaders(header *etree.Element) (Headers, error) {
	var h Headers
	if header == nil {
		return h, nil
	}
	seen := map[string]bool{}
	for _, c := range header.ChildElements() {
		if !IsHeader(c) {
			continue
		}
		v := VersionOf(c.NamespaceURI())
		if h.Version != VersionNone && v != h.Version {
			return h, &HeaderError{Version: h.Version, Header: c.Tag, Reason: "the message mixes WS-Addressing 2004/08 and 1.0 headers"}
		}
		h.Version = v
		if seen[c.Tag] {
			return h, &HeaderError{Version: v, Header: c.Tag, Reason: "the header appears more than once"}
		}
		seen[c.Tag] = true
		var err error
		switch c.Tag {
		case "Action":
			h.Action = Text(c)
			if h.Action == "" {
				return h, &HeaderError{Version: v, Header: "Action", Reason: "empty action"}
			}
		case "To":
			h.To = Text(c)
		case "MessageID":
			h.MessageID = Text(c)
		case "RelatesTo":
			h.RelatesTo = Text(c)
		case "ReplyTo":
			h.ReplyTo, err = ParseEPR(c)
		case "FaultTo":
			h.FaultTo, err = ParseEPR(c)
		case "From":
			h.From, err = ParseEPR(c)
		}
		if err != nil {
			return h, &HeaderError{Version: v, Header: c.Tag, Reason: err.Error()}
		}
	}
	return h, nil
}

// ReplyEPR returns where a reply to a message with these headers goes: the
// ReplyTo endpoint, or nil when the reply goes back on the same connection
// (no ReplyTo, or an anonymous one).
func (h Headers) ReplyEPR() *EndpointReference {
	if h.ReplyTo == nil || IsAnonymous(h.ReplyTo.Address) {
		return nil
	}
	return h.ReplyTo
}

// FaultEPR returns where a fault goes: FaultTo, else ReplyTo; nil when the
// fault goes back on the same connection.
func (h Headers) FaultEPR() *EndpointReference {
	if h.FaultTo != nil {
		if IsAnonymous(h.FaultTo.Address) {
			return nil
		}
		return h.FaultTo
	}
	return h.ReplyEPR()
}

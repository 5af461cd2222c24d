package eventing

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of problem a requester can act on, in no protocol's terms. An
// operation returns an *Error wrapping one of them (errors.Is finds it);
// each front end maps the kind to its own answer in one place: the SOAP
// front end to the fault of the request's WS-Eventing and SOAP versions
// (transports/soap), the plain-HTTP endpoints to a status
// (transports/httperror).
var (
	// ErrInvalidMessage: the request does not have the shape the
	// operation takes.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrInvalidExpiration: an Expires value Herald does not grant (not
	// positive, in the past, or beyond the longest lease without
	// BestEffort).
	ErrInvalidExpiration = errors.New("invalid expiration")
	// ErrExpirationType: an Expires value that is neither an xs:duration
	// nor an xs:dateTime.
	ErrExpirationType = errors.New("unsupported expiration type")
	// ErrFilterUnavailable: the filter dialect is not supported
	// (Error.Supported lists the dialects).
	ErrFilterUnavailable = errors.New("filter dialect unavailable")
	// ErrInvalidFilter: the filter does not compile, or breaks a limit or
	// a rule (a function Herald does not evaluate).
	ErrInvalidFilter = errors.New("cannot process filter")
	// ErrEmptyFilter: the filter can never select an event.
	ErrEmptyFilter = errors.New("empty filter")
	// ErrDeliveryUnavailable: the delivery mode (2004/08) or format (2011)
	// is not supported (Error.Supported lists the supported ones).
	ErrDeliveryUnavailable = errors.New("delivery unavailable")
	// ErrNoDelivery: the request names no way to deliver (no NotifyTo and
	// no processor element).
	ErrNoDelivery = errors.New("no delivery mechanism")
	// ErrUnusableEPR: Herald cannot use a NotifyTo or EndTo address (not
	// http(s), or refused by the target guard).
	ErrUnusableEPR = errors.New("unusable endpoint reference")
	// ErrEndToNotSupported: an EndTo Herald cannot send SubscriptionEnd to
	// (the anonymous address, which has no connection to answer on).
	ErrEndToNotSupported = errors.New("EndTo not supported")
	// ErrUnknownSubscription: no such subscription, expired, or not the
	// requester's (Error.Subject is the identifier).
	ErrUnknownSubscription = errors.New("unknown subscription")
	// ErrUnableToRenew: the subscription cannot be renewed.
	ErrUnableToRenew = errors.New("unable to renew")
	// ErrUnableToProcess: Herald cannot take the request for a reason of
	// its own (a processor not configured on this server).
	ErrUnableToProcess = errors.New("event source unable to process")
)

// An Error is a problem the requester can act on: its kind (one of the Err
// variables above, or ErrUnknownProcessor), a reason in English, and what
// the kind's answer lists.
type Error struct {
	Kind error
	// Reason is the human readable explanation.
	Reason string
	// Supported lists what may be asked for instead: dialects for
	// ErrFilterUnavailable, delivery modes or formats for
	// ErrDeliveryUnavailable, processor names for ErrUnknownProcessor.
	Supported []string
	// Subject is the subscription identifier of ErrUnknownSubscription.
	Subject string
}

func (e *Error) Error() string { return e.Reason }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

// KindOf returns the kind of err's *Error, or nil when err is not one.
func KindOf(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return nil
}

func newError(kind error, reason string) *Error { return &Error{Kind: kind, Reason: reason} }

// InvalidMessage is an ErrInvalidMessage: the request does not match the
// message outline; reason says how. Processors return it for a
// subscription message they cannot read.
func InvalidMessage(reason string) *Error {
	return newError(ErrInvalidMessage, "The message is not valid and cannot be processed: "+reason)
}

// InvalidExpirationTime is an ErrInvalidExpiration; reason says why.
func InvalidExpirationTime(reason string) *Error {
	return newError(ErrInvalidExpiration, "The expiration time requested is invalid: "+reason)
}

// expirationType is an ErrExpirationType; reason says why.
func expirationType(reason string) *Error {
	return newError(ErrExpirationType, "The expiration time requested is neither an xs:duration nor an xs:dateTime: "+reason)
}

// DeliveryModeRequestedUnavailable is an ErrDeliveryUnavailable for a
// delivery mode or format, with the supported ones.
func DeliveryModeRequestedUnavailable(mode string, supported []string) *Error {
	return &Error{Kind: ErrDeliveryUnavailable, Supported: supported,
		Reason: fmt.Sprintf("The requested delivery mode or format is not supported: %s", mode)}
}

// FilteringRequestedUnavailable is an ErrFilterUnavailable with the
// supported dialects.
func FilteringRequestedUnavailable(dialect string, supported []string) *Error {
	return &Error{Kind: ErrFilterUnavailable, Supported: supported,
		Reason: fmt.Sprintf("The requested filter dialect is not supported: %s", dialect)}
}

// invalidFilter is an ErrInvalidFilter; reason says what is wrong.
func invalidFilter(reason string) *Error {
	return newError(ErrInvalidFilter, "The filter cannot be processed: "+reason)
}

// emptyFilter is an ErrEmptyFilter; reason says why.
func emptyFilter(reason string) *Error {
	return newError(ErrEmptyFilter, "The filter would never select an event: "+reason)
}

// NoDeliveryMechanism is an ErrNoDelivery; reason says what is missing.
func NoDeliveryMechanism(reason string) *Error {
	return newError(ErrNoDelivery, "No delivery mechanism is established: "+reason)
}

// UnusableEPR is an ErrUnusableEPR for the endpoint reference what
// (NotifyTo, EndTo); reason says why.
func UnusableEPR(what, reason string) *Error {
	return newError(ErrUnusableEPR, fmt.Sprintf("The %s endpoint reference is unusable: %s", what, reason))
}

// EventSourceUnableToProcess is an ErrUnableToProcess: Herald cannot take
// the subscription for a reason of its own.
func EventSourceUnableToProcess(reason string) *Error {
	return newError(ErrUnableToProcess, reason)
}

// UnableToRenew is an ErrUnableToRenew.
func UnableToRenew(reason string) *Error { return newError(ErrUnableToRenew, reason) }

// UnknownSubscription is the ErrUnknownSubscription of GetStatus, Renew,
// Unsubscribe and the management operations naming a subscription that
// does not exist, has expired or is not the requester's.
func UnknownSubscription(id string) *Error {
	return &Error{Kind: ErrUnknownSubscription, Subject: id, Reason: fmt.Sprintf("The subscription is not known: %s", id)}
}

// UnknownProcessor is the error for a subscription processor name that is
// not registered; the reason and Supported list the known names.
func UnknownProcessor(name string, known []string) *Error {
	return &Error{Kind: ErrUnknownProcessor, Supported: known,
		Reason: fmt.Sprintf("unknown subscription processor %q; known processors: %s", name, strings.Join(known, ", "))}
}

// InvalidValue is an ErrInvalidMessage for a management operation
// argument that is malformed.
func InvalidValue(what, reason string) *Error {
	return InvalidMessage(what + ": " + reason)
}

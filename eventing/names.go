package eventing

// Namespaces and URIs of the protocols Herald speaks.
const (
	// NS is the WS-Eventing 2004/08 namespace.
	NS = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	// NS2011 is the namespace of the W3C WS-Eventing Recommendation (2011).
	NS2011 = "http://www.w3.org/2011/03/ws-evt"
	// ManagementNS is the namespace of the Cloud42 management operations.
	ManagementNS = "http://webservice.cloud42.jw.de"
	// MessageNS is the namespace of the Cloud42 event message.
	MessageNS = "http://cloud42.jw.de/message"
	// HeraldNS is the namespace of Herald's own extensions.
	HeraldNS = "http://herald-eventing.github.io/ns/2026/herald"

	// DeliveryModePush is the WS-Eventing push delivery mode, the default
	// when wse:Delivery has no Mode.
	DeliveryModePush = NS + "/DeliveryModes/Push"
	// DeliveryModePrefix, followed by a processor name, is the delivery mode
	// that selects that processor in a wse:Subscribe ("…/delivery/pull").
	DeliveryModePrefix = HeraldNS + "/delivery/"

	// DialectXPath10 is the XPath 1.0 filter dialect, also the default when
	// wse:Filter has no Dialect.
	DialectXPath10 = "http://www.w3.org/TR/1999/REC-xpath-19991116"
	// DialectXPath10W3C is the XPath 1.0 dialect URI of the 2011
	// Recommendation, accepted as a synonym.
	DialectXPath10W3C = NS2011 + "/Dialects/XPath10"
	// DialectTopic is Herald's topic dialect: the filter's content is a
	// topic name, and an event matches when its topic is that name.
	DialectTopic = HeraldNS + "/dialects/topic"

	// NotifyAction is the wsa:Action of the notifications Herald sends
	// (unwrapped; in a wrapped 2011 notification, wse:Notify/@actionURI).
	NotifyAction = HeraldNS + "/Notify"

	// FormatUnwrap is the 2011 delivery format that sends the event as the
	// Body of the notification, the default.
	FormatUnwrap = NS2011 + "/DeliveryFormats/Unwrap"
	// FormatWrap is the 2011 delivery format that wraps the event in a
	// wse:Notify element.
	FormatWrap = NS2011 + "/DeliveryFormats/Wrap"
	// ActionNotifyWrapped is the wsa:Action of a wrapped 2011 notification.
	ActionNotifyWrapped = NS2011 + "/WrappedSinkPortType/NotifyEvent"

	// EndedTopic is the topic of the operator events Herald publishes when
	// it ends a subscription because its endpoint keeps failing.
	EndedTopic = "herald.subscription.ended"
)

// WS-Eventing 2004/08 action URIs (V200408.Action and V2011.Action give
// both versions').
const (
	ActionSubscribe           = NS + "/Subscribe"
	ActionSubscribeResponse   = NS + "/SubscribeResponse"
	ActionRenew               = NS + "/Renew"
	ActionRenewResponse       = NS + "/RenewResponse"
	ActionGetStatus           = NS + "/GetStatus"
	ActionGetStatusResponse   = NS + "/GetStatusResponse"
	ActionUnsubscribe         = NS + "/Unsubscribe"
	ActionUnsubscribeResponse = NS + "/UnsubscribeResponse"
	ActionSubscriptionEnd     = NS + "/SubscriptionEnd"
)

// EndStatus is the wse:Status of a SubscriptionEnd message.
type EndStatus string

// The SubscriptionEnd statuses of WS-Eventing 2004/08. Herald emits the
// schema's spelling SourceCancelling and accepts the prose's
// SourceCanceling wherever it reads one (see ParseEndStatus).
const (
	EndDeliveryFailure    EndStatus = NS + "/DeliveryFailure"
	EndSourceShuttingDown EndStatus = NS + "/SourceShuttingDown"
	EndSourceCancelling   EndStatus = NS + "/SourceCancelling"
)

// ParseEndStatus maps a wse:Status value to one of the three statuses,
// accepting the SourceCanceling spelling; any other URI is returned as is.
func ParseEndStatus(s string) EndStatus {
	if s == NS+"/SourceCanceling" {
		return EndSourceCancelling
	}
	return EndStatus(s)
}

// Short returns the last path segment of the status URI ("DeliveryFailure").
func (s EndStatus) Short() string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return string(s[i+1:])
		}
	}
	return string(s)
}

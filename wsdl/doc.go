// Package wsdl holds Herald's service contract: the WSDL 1.1 document
// herald.wsdl (embedded), the operation table derived from it, and Go types
// for its messages generated with gowsdl (types.gen.go).
//
// The WSDL describes four port types in the Cloud42 management namespace
// http://webservice.cloud42.jw.de:
//
//   - NotificationService: the Cloud42 management operations subscribe,
//     unsubscribe, setEndpointAddress and getEndpointAddress (Axis2-style
//     actions urn:subscribe, urn:subscribeResponse, ...), at /eventing;
//   - EventSource: WS-Eventing 2004/08 SubscribeOp, at /eventing;
//   - SubscriptionManager: RenewOp, GetStatusOp and UnsubscribeOp, whose
//     requests carry the subscription's wse:Identifier as a SOAP header, at
//     /subscriptions;
//   - SubscriptionEndSink: the one-way SubscriptionEnd Herald sends to a
//     subscriber's EndTo (bindings only, no port).
//
// Every port type has a SOAP 1.1 and a SOAP 1.2 document/literal binding.
// Its schemas live in package xsd; herald.wsdl imports them with relative
// locations (../xsd/...), and Document rewrites those, and the port
// addresses, to absolute URLs for serving.
//
// Operations parses the embedded WSDL once and returns the table the server
// dispatches on. The generated types (NotificationService client stubs,
// Subscribe, WseSubscribe, EndpointReferenceType, Message, ...) come from
// "go generate" (see generate.go); TestGeneratedUpToDate fails when they are
// stale.
package wsdl

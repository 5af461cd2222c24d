// Package wsdl holds Herald's service contract: two WSDL 1.1 documents
// (embedded), the operation table generated from them, and Go types for the
// messages of herald.wsdl generated with gowsdl (types.gen.go).
//
// herald.wsdl (File) describes, in the Cloud42 management namespace
// http://webservice.cloud42.jw.de, the port types:
//
//   - NotificationService: the Cloud42 management operations subscribe,
//     unsubscribe, setEndpointAddress and getEndpointAddress (Axis2-style
//     actions urn:subscribe, urn:subscribeResponse, ...), at /eventing;
//   - EventSource: WS-Eventing 2004/08 SubscribeOp, at /eventing;
//   - SubscriptionManager: RenewOp, GetStatusOp and UnsubscribeOp, whose
//     requests carry the subscription's wse:Identifier as a SOAP header, at
//     /subscriptions;
//   - SubscriptionEndSink: the one-way SubscriptionEnd Herald sends to a
//     subscriber's EndTo (bindings only, no port);
//   - Administration (operator operations, at /eventing) and PullDelivery
//     (Pull, at /subscriptions), in Herald's namespace.
//
// eventing-2011.wsdl (File2011) describes WS-Eventing, W3C Recommendation
// 2011 (targetNamespace http://www.w3.org/2011/03/ws-evt, WS-Addressing 1.0,
// the port types and operation names of the Recommendation's own WSDL):
// EventSource (SubscribeOp, at /eventing), SubscriptionManager (RenewOp,
// GetStatusOp, UnsubscribeOp, at /subscriptions, whose requests carry
// h:SubscriptionId, the reference parameter of the 2011 subscription
// manager EPR, as a SOAP header), and, without ports, WrappedSinkPortType
// (the one-way NotifyEvent of wrapped notifications, Body wse:Notify) and
// SubscriptionEndSink (the one-way 2011 SubscriptionEnd).
//
// Every port type has a SOAP 1.1 and a SOAP 1.2 document/literal binding.
// The schemas live in package xsd; the WSDLs import them with relative
// locations (../xsd/...).
//
// # URLs
//
// The server serves the WSDLs on the EventSource endpoint:
//
//	GET /eventing?wsdl        herald.wsdl        Document(base)
//	GET /eventing?wsdl=2011   eventing-2011.wsdl Document2011(base)
//
// DocumentFor maps the value of the wsdl query parameter ("" or Query2011)
// to the document. Both rewrite the schemaLocations to base + "/xsd/" +
// file name (served by xsd.Document at GET /xsd/{name}) and the port
// addresses to base plus their path; herald.wsdl's wsdl:documentation links
// the 2011 WSDL, and Document rewrites that link to
// base + "/eventing?wsdl=2011".
//
// # Operations
//
// Operations (herald.wsdl), Operations2011 (eventing-2011.wsdl) and
// AllOperations (both) return the operation table that "go generate" writes
// to operations.gen.go from the WSDLs: nothing is parsed at run time. An
// Operation names its port type, actions, Body elements, URL path,
// WS-Eventing version (Eventing: Eventing2004, Eventing2011 or "") and source
// WSDL, and the generated Go types of its request and response Body
// (Request, Response; nil where none is generated). Operation names repeat
// across the WSDLs (SubscribeOp is in both); (Name, Eventing) is unique.
//
// The generated types (Subscribe, WseSubscribe, EndpointReferenceType,
// Message, ...) and the table come from "go generate" (see generate.go);
// TestGeneratedUpToDate fails when they are stale, and TestTableMatchesWSDL
// checks the table against a parse of the embedded WSDLs. gowsdl's SOAP
// clients of the port types are generated into package wsdlclient, so that
// the server does not link gowsdl's soap package.
package wsdl

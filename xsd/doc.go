// Package xsd holds Herald's XML schemas and validates Cloud42 event
// messages against them.
//
// The schemas, embedded in Files and served by Document:
//
//   - message.xsd: the Cloud42 event message (http://cloud42.jw.de/message)
//     with elementFormDefault="qualified", so that the seed's example message,
//     whose children are in the message namespace, is valid;
//   - message-published.xsd: the schema as Cloud42 published it, byte for
//     byte; read literally it wants the children without a namespace;
//   - management.xsd: the Cloud42 management operations
//     (http://webservice.cloud42.jw.de);
//   - eventing.xsd: WS-Eventing 2004/08, which imports addressing.xsd
//     (WS-Addressing 2004/08, not 1.0) and xml.xsd (xml:lang);
//   - ws-evt-2011.xsd: WS-Eventing, W3C Recommendation 2011
//     (http://www.w3.org/2011/03/ws-evt), the REC's schema with local
//     schemaLocations; it imports ws-addr-1.0.xsd (WS-Addressing 1.0,
//     http://www.w3.org/2005/08/addressing) and xml.xsd;
//   - herald.xsd: Herald's extension namespace
//     http://herald-eventing.github.io/ns/2026/herald (h:Secret,
//     h:SupportedProcessor, h:Processor and h:SubscriptionId for 2011
//     subscriptions, the operator operations, and the URIs Herald defines).
//
// ParseMessage accepts both forms of the event message: it validates with
// the pure-Go validator github.com/jacoelho/xsd against message.xsd when the
// first child of <message> is in the message namespace and against
// message-published.xsd when it has none, so the schemas decide validity;
// errors are one line naming the element at fault.
package xsd

// Package soap is Herald's SOAP transport: the envelope codec for SOAP 1.2
// and 1.1 (on etree), the HTTP front end that serves the operations of the
// WSDL at /eventing and /subscriptions, the "soap" subscription processor
// that delivers notifications to a WS-Eventing NotifyTo endpoint, the
// sender of SubscriptionEnd messages, and a small client for Herald's own
// command line.
//
// # Front end
//
// The server's dispatch table comes from the WSDL (wsdl.Operations): every
// operation has a handler here and every handler an operation, which a test
// checks. A request is dispatched on its wsa:Action, else the SOAP 1.2
// action media-type parameter, else the SOAPAction header, else the QName of
// the body's element. Responses mirror the request's SOAP and WS-Addressing
// versions and always travel on the HTTP response (the reply is addressed to
// a non-anonymous ReplyTo with its reference parameters, but not sent to it
// separately). Errors become faults in one place, Server.fault.
package soap

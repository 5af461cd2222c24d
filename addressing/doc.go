// Package addressing reads and writes WS-Addressing: the message addressing
// headers (Action, To, MessageID, RelatesTo, ReplyTo, FaultTo, From) and
// endpoint references whose reference parameters and properties are kept as
// raw XML, in both versions Herald speaks: the August 2004 submission used
// by WS-Eventing 2004/08 and the W3C Recommendation 1.0 (2005/08).
//
// The package also holds the small amount of XML namespace handling that
// keeping foreign XML intact needs: lifting an element out of its document
// with the namespace declarations it relies on (Detach) and listing the
// bindings in scope at an element (Namespaces).
//
// It is pure: no I/O and no logging.
package addressing

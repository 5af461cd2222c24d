// Package interop holds Herald's interoperability tests: SOAP clients that
// Herald did not write — Python zeep and the JAX-WS RI (wsimport), each with
// WS-Addressing 1.0 and, for JAX-WS, also WS-Addressing 2004/08 (Member
// Submission) — are generated from or read Herald's published WSDL
// (GET /eventing?wsdl) and drive a Herald started in process: Subscribe,
// receive a notification, GetStatus, Renew, Unsubscribe, and read faults.
//
// TestZeep and TestJAXWS speak WS-Eventing 2004/08 from GET /eventing?wsdl;
// TestZeep2011 and TestJAXWS2011 run the same flow in the W3C
// Recommendation (http://www.w3.org/2011/03/ws-evt) from
// GET /eventing?wsdl=2011, with WS-Addressing 1.0 only: the
// SubscriptionManager EPR's reference parameter h:SubscriptionId goes back
// through the header parameter the clients make of the WSDL's soap:header
// part, Unsubscribe answers wse:UnsubscribeResponse, and the faults are
// read by their 2011 subcodes (UnknownSubscription,
// UnsupportedExpirationValue). Each test has its own client in testdata/
// (zeep_client_2011.py reuses zeep_client.py's helpers); drive checks both
// versions' steps, with the differences in a wseVersion.
//
// Each flow runs twice: anonymously against a Herald with authorization
// off (the loopback default), and against one with authorization on, with
// a key of its own: zeep with HTTP Basic and with a WS-Security
// UsernameToken (PasswordText), JAX-WS with HTTP Basic. There the client
// first makes its Subscribe without the credential, which must fail with
// HTTP 401 (and, where the client reads it, wsse:FailedAuthentication), so
// the tests fail should Herald accept anonymous requests.
//
// The clients live in testdata/ and print one JSON line per step, which the
// test checks. The tests skip when the tools are missing (Debian packages
// python3-zeep, jaxws, libjaxws-java and a JDK; .ci/install-interop installs
// them), except with CI=true, where a missing tool is a failure.
//
// The package has no non-test code.
package interop

// Package interop holds Herald's interoperability tests: SOAP clients that
// Herald did not write — Python zeep and the JAX-WS RI (wsimport), each with
// WS-Addressing 1.0 and, for JAX-WS, also WS-Addressing 2004/08 (Member
// Submission) — are generated from or read Herald's published WSDL
// (GET /eventing?wsdl) and drive a Herald started in process: Subscribe,
// receive a notification, GetStatus, Renew, Unsubscribe, and read faults.
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

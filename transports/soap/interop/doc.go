// Package interop holds Herald's interoperability tests: SOAP clients that
// Herald did not write — Python zeep and the JAX-WS RI (wsimport), each with
// WS-Addressing 1.0 and, for JAX-WS, also WS-Addressing 2004/08 (Member
// Submission) — are generated from or read Herald's published WSDL
// (GET /eventing?wsdl) and drive a Herald started in process: Subscribe,
// receive a notification, GetStatus, Renew, Unsubscribe, and read faults.
//
// The clients live in testdata/ and print one JSON line per step, which the
// test checks. The tests skip when the tools are missing (Debian packages
// python3-zeep, jaxws, libjaxws-java and a JDK; .ci/install-interop installs
// them), except with CI=true, where a missing tool is a failure.
//
// The package has no non-test code.
package interop

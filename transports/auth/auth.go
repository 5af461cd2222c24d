// Package auth authenticates HTTP requests to Herald: it reads the
// credential a client sends (Authorization: Bearer KEY, HTTP Basic with the
// key as the password, a verified TLS client certificate whose subject
// names a key, or, for SOAP, a WS-Security UsernameToken that the SOAP
// front end hands to Password) and turns it into an access.Principal in
// the request's context. Authorization itself (who may do what) is the
// domain's: package eventing applies the rules of package access.
package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/httperror"
)

// An Authenticator authenticates requests against a keyring.
type Authenticator struct {
	Keyring *access.Keyring
	// ClientSubject returns the verified client certificate's subject
	// name of a request (tlsconf.ClientSubject); nil when client
	// certificates are not configured.
	ClientSubject func(r *http.Request) (string, bool)
}

// FromRequest returns the principal of the credential in r's headers or
// TLS state: (nil, nil) when r carries none (a SOAP request may still
// carry a UsernameToken), access.ErrUnauthenticated when the credential is
// not valid.
func (a *Authenticator) FromRequest(r *http.Request) (*access.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(strings.TrimSpace(h), " ")
		cred = strings.TrimSpace(cred)
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			return a.Keyring.Authenticate(cred)
		case strings.EqualFold(scheme, "Basic"):
			raw, err := base64.StdEncoding.DecodeString(cred)
			if err != nil {
				return nil, access.ErrUnauthenticated
			}
			_, password, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, access.ErrUnauthenticated
			}
			return a.Password(password)
		}
		return nil, access.ErrUnauthenticated
	}
	if a.ClientSubject != nil {
		if name, ok := a.ClientSubject(r); ok {
			if p := a.Keyring.Principal(name); p != nil {
				return p, nil
			}
			return nil, access.ErrUnauthenticated
		}
	}
	return nil, nil
}

// Password authenticates a key sent as a password (HTTP Basic, a
// UsernameToken's PasswordText); the user name is not checked.
func (a *Authenticator) Password(password string) (*access.Principal, error) {
	return a.Keyring.Authenticate(password)
}

// Require wraps a plain-HTTP handler: a request without a valid credential
// is answered 401 with the challenge; otherwise the principal is in its
// context. A nil Authenticator passes every request through (authorization
// off).
func (a *Authenticator) Require(next http.Handler) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.FromRequest(r)
		if err == nil && p == nil {
			err = access.ErrUnauthenticated
		}
		if err != nil {
			httperror.Write(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}

// Authenticate returns r's context with the principal of its credential,
// for handlers that accept other credentials too (SOAP): an error when a
// credential was sent and is not valid; the context unchanged when none was.
func (a *Authenticator) Authenticate(r *http.Request) (context.Context, error) {
	p, err := a.FromRequest(r)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return r.Context(), nil
	}
	return access.WithPrincipal(r.Context(), p), nil
}

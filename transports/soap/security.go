package soap

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/httperror"
)

// WS-Security 1.0 (OASIS 2004) names.
const (
	// WSSE is the WS-Security extension namespace (wsse:Security).
	WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	// PasswordText is the UsernameToken password type that carries the
	// key itself.
	PasswordText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	// PasswordDigest is the digest password type, which Herald cannot
	// verify: it keeps only a hash of each key.
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)

// failedAuthentication is the WS-Security fault subcode of a missing or bad
// credential.
var failedAuthentication = xml.Name{Space: WSSE, Local: "FailedAuthentication"}

// accessDenied is Herald's subcode for an operation refused to an
// authenticated principal.
var accessDenied = xml.Name{Space: eventing.HeraldNS, Local: "AccessDenied"}

// rateLimited is Herald's subcode for a request over its key's rate.
var rateLimited = xml.Name{Space: eventing.HeraldNS, Local: "RateLimited"}

// usernameToken returns the password of the wsse:UsernameToken in the
// header, ok false when there is none. A digest password is an error.
func usernameToken(header *etree.Element) (string, bool, error) {
	if header == nil {
		return "", false, nil
	}
	for _, sec := range header.ChildElements() {
		if !addressing.Is(sec, WSSE, "Security") {
			continue
		}
		for _, tok := range sec.ChildElements() {
			if !addressing.Is(tok, WSSE, "UsernameToken") {
				continue
			}
			pw := addressing.Child(tok, WSSE, "Password")
			if pw == nil {
				return "", false, errors.New("the UsernameToken has no Password")
			}
			switch t := strings.TrimSpace(pw.SelectAttrValue("Type", "")); t {
			case "", PasswordText:
				return strings.TrimSpace(pw.Text()), true, nil
			case PasswordDigest:
				return "", false, errors.New("UsernameToken PasswordDigest is not accepted: Herald keeps only a hash of each key; send the key as PasswordText over TLS")
			default:
				return "", false, errors.New("the UsernameToken's password type is unknown")
			}
		}
	}
	return "", false, nil
}

// authenticate returns the request's context with its principal: from the
// HTTP credential, else from a UsernameToken. Without authorization it
// returns the context as it is.
func (s *Server) authenticate(r *http.Request, env *Envelope) (context.Context, error) {
	if s.auth == nil {
		return r.Context(), nil
	}
	ctx, err := s.auth.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if access.FromContext(ctx) != nil {
		return ctx, nil
	}
	pw, ok, err := usernameToken(env.Header)
	if err != nil {
		return nil, &authError{reason: err.Error()}
	}
	if !ok {
		return nil, access.ErrUnauthenticated
	}
	p, err := s.auth.Password(pw)
	if err != nil {
		return nil, err
	}
	return access.WithPrincipal(ctx, p), nil
}

// authError is a credential Herald cannot accept, with the reason.
type authError struct{ reason string }

func (e *authError) Error() string { return e.reason }
func (e *authError) Unwrap() error { return access.ErrUnauthenticated }

// rateKey is whom a request counts against: its principal's key; "" (no
// limit) without authorization and for admins.
func rateKey(ctx context.Context) string {
	if p := access.FromContext(ctx); p != nil && !p.IsAdmin() {
		return p.Name
	}
	return ""
}

// accessFault turns the errors of authentication, authorization and rate
// limiting into their faults and HTTP statuses; ok is false for any other
// error.
func accessFault(err error) (f *Fault, status int, ok bool) {
	var denied *access.Denied
	var limited *httperror.RateLimited
	var ae *authError
	switch {
	case errors.As(err, &ae):
		return &Fault{Code: Sender, Subcode: failedAuthentication, Reason: "authentication failed: " + ae.reason}, http.StatusUnauthorized, true
	case errors.Is(err, access.ErrUnauthenticated):
		return &Fault{Code: Sender, Subcode: failedAuthentication, Reason: access.ErrUnauthenticated.Error()}, http.StatusUnauthorized, true
	case errors.As(err, &denied):
		return &Fault{Code: Sender, Subcode: accessDenied, Reason: "not allowed: " + denied.Reason}, http.StatusForbidden, true
	case errors.As(err, &limited):
		return &Fault{Code: Sender, Subcode: rateLimited, Reason: limited.Error()}, http.StatusTooManyRequests, true
	}
	return nil, 0, false
}

// principalAttr names ctx's principal in a log line ("" when none).
func principalAttr(ctx context.Context) slog.Attr {
	name := ""
	if p := access.FromContext(ctx); p != nil {
		name = p.Name
	}
	return slog.String("principal", name)
}

// loggedSubscriptionID returns the subscription a request is about, for the log:
// the identifier header (wse:Identifier or h:SubscriptionId), or a
// subscriptionId in the payload.
func loggedSubscriptionID(r *Request) string {
	if id, err := identifier(r); err == nil {
		return id
	}
	if r.Payload != nil {
		for _, c := range r.Payload.ChildElements() {
			if c.Tag == "subscriptionId" {
				return addressing.Text(c)
			}
		}
	}
	return ""
}

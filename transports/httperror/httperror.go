// Package httperror answers the plain-HTTP endpoints' errors (the message
// endpoint, pull by cursor, the stream, key management) with one mapping
// from Herald's errors to HTTP statuses and a one-line text/plain message.
package httperror

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
)

// Challenge is the WWW-Authenticate value of every 401: Basic for SOAP
// stacks that send the key as a password, Bearer for everyone else.
const Challenge = `Basic realm="herald", Bearer`

// A RateLimited error says a client must slow down (HTTP 429).
type RateLimited struct {
	// RetryAfter is when the next request is allowed.
	RetryAfter time.Duration
	What       string
}

func (e *RateLimited) Error() string {
	return fmt.Sprintf("too many requests: %s; retry after %s", e.What, e.RetryAfter.Round(time.Millisecond))
}

// Status returns the HTTP status for err: 401 and 403 for access, 429 for
// a rate limit, 404 for an unknown subscription, 503 for a request Herald
// cannot take now (ErrUnableToProcess), 400 for every other problem the
// requester can act on (an *eventing.Error), 500 for anything else.
func Status(err error) int {
	var denied *access.Denied
	var limited *RateLimited
	switch kind := eventing.KindOf(err); {
	case errors.Is(err, access.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.As(err, &denied):
		return http.StatusForbidden
	case errors.As(err, &limited):
		return http.StatusTooManyRequests
	case kind == eventing.ErrUnknownSubscription, kind == eventing.ErrUnableToRenew:
		return http.StatusNotFound
	case kind == eventing.ErrUnableToProcess:
		return http.StatusServiceUnavailable
	case kind != nil:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// Message returns the one-line message for err.
func Message(err error) string {
	var e *eventing.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return err.Error()
}

// Write answers err: its status, WWW-Authenticate on 401, Retry-After on
// 429, and the message as text/plain.
func Write(w http.ResponseWriter, err error) {
	status := Status(err)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", Challenge)
	case http.StatusTooManyRequests:
		var limited *RateLimited
		errors.As(err, &limited)
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds(limited.RetryAfter)))
	}
	Plain(w, status, Message(err))
}

// RetryAfterSeconds rounds a delay up to whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Plain writes a one-line text/plain answer.
func Plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

package eventing

import (
	"errors"
	"fmt"
	"time"
)

// A DeliveryError describes a failed delivery attempt in terms the
// Dispatcher acts on. Endpoints return it (or any other error, which counts
// as a retryable failure).
type DeliveryError struct {
	// Status is the HTTP status the endpoint answered, 0 if none.
	Status int
	// RetryAfter is the endpoint's own retry hint (HTTP Retry-After on
	// 429 and 503), 0 if none. The Dispatcher waits that long instead of
	// the schedule's next delay.
	RetryAfter time.Duration
	// Permanent failures are not retried: the event goes to the dead
	// letters at once.
	Permanent bool
	Err       error
}

func (e *DeliveryError) Error() string {
	switch {
	case e.Status != 0 && e.Err != nil:
		return fmt.Sprintf("HTTP %d: %v", e.Status, e.Err)
	case e.Status != 0:
		return fmt.Sprintf("HTTP %d", e.Status)
	case e.Err != nil:
		return e.Err.Error()
	}
	return "delivery failed"
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	return &DeliveryError{Permanent: true, Err: err}
}

func deliveryDetails(err error) (status int, retryAfter time.Duration, permanent bool) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Status, de.RetryAfter, de.Permanent
	}
	return 0, 0, false
}

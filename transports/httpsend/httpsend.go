// Package httpsend sends one notification over HTTP for the processors
// that deliver by POST (soap, webhook): it signs the request with Standard
// Webhooks headers when the subscription has a secret, and turns the answer
// into what the dispatcher acts on (only 2xx is delivered; Retry-After is
// honoured on 429 and 503).
package httpsend

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// A Request is one delivery.
type Request struct {
	URL         string
	ContentType string
	Body        []byte
	// Header holds extra headers (SOAPAction, …).
	Header http.Header
	// MessageID is the notification's stable id: the webhook-id.
	MessageID string
	// Secret signs the request when not empty.
	Secret string
}

// Post sends r with client and returns nil for a 2xx answer, else an
// *eventing.DeliveryError whose text never holds more of the URL than its
// scheme and host. Redirects are not followed.
func Post(ctx context.Context, client *http.Client, r *Request) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return eventing.Permanent(fmt.Errorf("bad delivery URL: %w", err))
	}
	req.Header.Set("Content-Type", r.ContentType)
	req.Header.Set("User-Agent", "Herald")
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Secret != "" {
		Sign(req.Header, r.Secret, r.MessageID, time.Now(), r.Body)
	}
	// A redirect is not a delivery: following a 301/302/303 turns the
	// POST into a GET without the body. The 3xx counts as a failure.
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirects.Do(req)
	if err != nil {
		return &eventing.DeliveryError{Err: withoutURL(err)}
	}
	defer resp.Body.Close()
	// Read a little of the answer so the connection can be reused, and
	// to quote it in the delivery log.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	de := &eventing.DeliveryError{Status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		de.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		de.Err = fmt.Errorf("redirect to %s not followed: deliveries go to the address subscribed", hostOf(loc))
	} else if s := strings.TrimSpace(string(snippet)); s != "" {
		de.Err = fmt.Errorf("%s", firstLine(s))
	}
	return de
}

// withoutURL keeps a subscriber's URL out of an error's text, which goes
// to logs, the delivery log and operator events: a URL path or query can
// hold a token. Only scheme and host remain.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, hostOf(ue.URL), ue.Err)
	}
	return err
}

// hostOf returns scheme://host of a URL, or "the endpoint" when it does not
// parse.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the endpoint"
	}
	return u.Scheme + "://" + u.Host
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// RetryAfter reads a Retry-After value (seconds or an HTTP date); 0 when
// absent or invalid.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Key returns the HMAC key of a secret: Standard Webhooks secrets are
// "whsec_" followed by base64; any other string is used as it is.
func Key(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return k
		}
	}
	return []byte(secret)
}

// Signature returns the Standard Webhooks v1 signature of a message:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
func Signature(secret, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, Key(secret))
	mac.Write([]byte(id))
	mac.Write([]byte("."))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign sets the Standard Webhooks headers webhook-id, webhook-timestamp and
// webhook-signature.
func Sign(h http.Header, secret, id string, now time.Time, body []byte) {
	ts := now.Unix()
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", Signature(secret, id, ts, body))
}

// Verify checks the Standard Webhooks headers of a received request against
// secret (any of the space-separated signatures may match).
func Verify(h http.Header, secret string, body []byte) bool {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	t, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return false
	}
	want := Signature(secret, id, t, body)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

package httpsend_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpsend"
)

// The example of the Standard Webhooks specification.
func TestSignature_StandardWebhooksVector(t *testing.T) {
	got := httpsend.Signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s; want %s", got, want)
	}
}

func TestPost_SignsAndVerifies(t *testing.T) {
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body = make([]byte, r.ContentLength)
		r.Body.Read(body)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	err := httpsend.Post(t.Context(), srv.Client(), &httpsend.Request{URL: srv.URL, ContentType: "text/xml", Body: []byte("<x/>"), MessageID: "urn:uuid:1", Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("webhook-id") != "urn:uuid:1" || got.Get("webhook-timestamp") == "" {
		t.Fatalf("headers %v", got)
	}
	if !httpsend.Verify(got, "s3cret", body) {
		t.Fatal("signature does not verify")
	}
	if httpsend.Verify(got, "other", body) || httpsend.Verify(got, "s3cret", []byte("<y/>")) {
		t.Fatal("signature verifies with the wrong secret or body")
	}
}

func TestPost_NoSecretNoSignature(t *testing.T) {
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sig = r.Header.Get("webhook-signature") }))
	defer srv.Close()
	if err := httpsend.Post(t.Context(), srv.Client(), &httpsend.Request{URL: srv.URL, ContentType: "text/xml"}); err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		t.Fatalf("unsigned delivery carries webhook-signature %q", sig)
	}
}

func TestPost_Classification(t *testing.T) {
	for _, tt := range []struct {
		status     int
		retryAfter string
		ok         bool
		wantAfter  time.Duration
	}{
		{200, "", true, 0}, {202, "", true, 0}, {299, "", true, 0},
		{301, "", false, 0}, {400, "", false, 0}, {500, "", false, 0},
		{429, "7", false, 7 * time.Second}, {503, "120", false, 2 * time.Minute},
		{500, "7", false, 0}, // only 429 and 503 carry a retry hint
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.status)
			w.Write([]byte("busy\nsecond line"))
		}))
		err := httpsend.Post(t.Context(), srv.Client(), &httpsend.Request{URL: srv.URL, ContentType: "text/xml"})
		srv.Close()
		if tt.ok != (err == nil) {
			t.Errorf("%d: err = %v", tt.status, err)
			continue
		}
		if err == nil {
			continue
		}
		var de *eventing.DeliveryError
		if !errors.As(err, &de) || de.Status != tt.status || de.RetryAfter != tt.wantAfter {
			t.Errorf("%d: %#v; want status %d retry-after %v", tt.status, de, tt.status, tt.wantAfter)
		}
		if de.Error() != "HTTP "+http.StatusText(0)+"" && de.Err != nil && de.Err.Error() != "busy" {
			t.Errorf("%d: error quotes %q; want the first line of the answer", tt.status, de.Err)
		}
	}
}

func TestRetryAfter_HTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if d := httpsend.RetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); d != 90*time.Second {
		t.Fatalf("RetryAfter(date) = %v", d)
	}
	for _, bad := range []string{"", "-5", "soon", now.Add(-time.Hour).Format(http.TimeFormat)} {
		if d := httpsend.RetryAfter(bad, now); d != 0 {
			t.Errorf("RetryAfter(%q) = %v; want 0", bad, d)
		}
	}
}

func TestPost_UnreachableIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := httpsend.Post(t.Context(), http.DefaultClient, &httpsend.Request{URL: url, ContentType: "text/xml"})
	var de *eventing.DeliveryError
	if !errors.As(err, &de) || de.Permanent || de.Status != 0 {
		t.Fatalf("err = %v; want a retryable DeliveryError without status", err)
	}
}

func TestPost_RedirectIsNotADelivery(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new?token=s3cr3t", http.StatusMovedPermanently)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	err := httpsend.Post(t.Context(), http.DefaultClient, &httpsend.Request{URL: srv.URL + "/old", ContentType: "text/xml", Body: []byte("<m/>")})
	var de *eventing.DeliveryError
	if !errors.As(err, &de) || de.Status != 301 || !strings.Contains(err.Error(), "not followed") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v; want a 301 failure that does not show the target's query", err)
	}
	if len(got) != 1 {
		t.Fatalf("requests %v; want only the POST", got)
	}
}

func TestPost_ErrorsDoNotShowTheURL(t *testing.T) {
	err := httpsend.Post(t.Context(), http.DefaultClient, &httpsend.Request{URL: "http://127.0.0.1:1/hooks/T0/s3cr3t?token=s3cr3t", ContentType: "text/xml"})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Fatalf("err = %v; want the scheme and host only", err)
	}
}

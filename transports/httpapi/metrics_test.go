package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/soap"
)

func scrape(t *testing.T, h *herald) string {
	t.Helper()
	resp, err := http.Get(h.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// The metrics count what happened, pass the Prometheus linter (what
// promtool check metrics runs) and carry no unbounded label.
func TestMetrics_CountLintAndBoundedLabels(t *testing.T) {
	h := start(t, "", eventing.Options{})
	s := newSink(t)
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"), wseSubscribe(s.URL, "", topicFilter("metrics-topic"), "")))
	if r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	id := bodyText(t, parse(t, r.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
	for range 3 {
		publishText(t, h, "metrics-topic", "m")
	}
	for range 3 {
		s.next(t)
	}
	h.post(t, "/messages", "text/xml", "<not-a-message/>")
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; {
		text = scrape(t, h)
		if strings.Contains(text, `herald_delivery_attempts_total{outcome="delivered",processor="soap"} 3`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		"herald_events_accepted_total 3", `herald_events_rejected_total{reason="invalid"} 1`,
		`herald_delivery_attempts_total{outcome="delivered",processor="soap"} 3`,
		`herald_delivery_duration_seconds_bucket{processor="soap",le="+Inf"} 3`,
		`herald_delivery_lag_seconds_count{processor="soap"} 3`,
		`herald_subscriptions{processor="soap",state="active"} 1`,
		"herald_log_head_sequence 3", "herald_store_commit_duration_seconds_count", "herald_store_file_size_bytes",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the metrics", want)
		}
	}
	if strings.Contains(text, id) || strings.Contains(text, "metrics-topic") {
		t.Error("a subscription id or a topic is a label value")
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestReadyz(t *testing.T) {
	h := start(t, "", eventing.Options{})
	get := func() int {
		resp, err := http.Get(h.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("/readyz while serving: %d", got)
	}
	h.svc.Shutdown(context.Background())
	if got := get(); got != 503 {
		t.Fatalf("/readyz after delivery shut down: %d; want 503", got)
	}
}

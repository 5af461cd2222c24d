// Package metrics exposes Herald's Prometheus metrics (GET /metrics),
// named by the Prometheus conventions: counters end in _total, durations
// are histograms in seconds, sizes in bytes. Labels are bounded: a
// processor name (a small registered set), an outcome or a reason, never a
// subscription id, a topic or an instance; per-subscription figures come
// from the status API (herald status, describeSubscription).
//
// The hot paths only add to pre-resolved counters and histograms; what is
// costly to know (subscriptions by state, the oldest cursor, the file
// size) is computed when a scrape asks for it.
package metrics

import (
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-eventing/herald/eventing"
)

// Metrics holds Herald's metrics in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	accepted   prometheus.Counter
	rejected   *prometheus.CounterVec
	rejectedBy sync.Map // reason → prometheus.Counter

	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
	lag      *prometheus.HistogramVec
	byProc   sync.Map // processor → *procMetrics

	commitDuration prometheus.Histogram
	commitBatch    prometheus.Histogram
}

type procMetrics struct {
	delivered, retry, dead prometheus.Counter
	duration, lag          prometheus.Observer
}

// Options say where the scrape-time figures come from.
type Options struct {
	// Service is the running service (subscriptions, log head, cursors).
	Service *eventing.Service
	// DBPath is the bbolt file whose size is reported ("" for none).
	DBPath string
}

// New returns the metrics with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.accepted = prometheus.NewCounter(prometheus.CounterOpts{Name: "herald_events_accepted_total",
		Help: "Events accepted by the message endpoint (answered 202 once durable)."})
	f(m.accepted)
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_events_rejected_total",
		Help: "Events the message endpoint refused, by reason."}, []string{"reason"})
	f(m.rejected)
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_delivery_attempts_total",
		Help: "Delivery attempts by processor and outcome (delivered, retry, dead_letter)."}, []string{"processor", "outcome"})
	f(m.attempts)
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "herald_delivery_duration_seconds",
		Help:    "How long one delivery attempt took, by processor.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15}}, []string{"processor"})
	f(m.duration)
	m.lag = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "herald_delivery_lag_seconds",
		Help:    "From an event's acceptance to its delivery, by processor (end-to-end lag).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300, 3600, 36000}}, []string{"processor"})
	f(m.lag)
	m.commitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "herald_store_commit_duration_seconds",
		Help:    "How long one durable commit of appended events took (a bbolt commit with its fsyncs, or a JetStream publish acknowledgement).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5}})
	f(m.commitDuration)
	m.commitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "herald_store_commit_events",
		Help:    "Events per durable commit (the group commit batch size; 1 per acknowledged publish on JetStream).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}})
	f(m.commitBatch)
	return m
}

// Watch registers the figures computed at scrape time.
func (m *Metrics) Watch(o Options) {
	svc := o.Service
	if svc != nil {
		m.reg.MustRegister(&census{svc: svc, desc: prometheus.NewDesc("herald_subscriptions",
			"Subscriptions by processor and state (active, retrying, pull).", []string{"processor", "state"}, nil)})
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_log_head_sequence",
			Help: "The sequence number of the last event in the log."}, func() float64 { return float64(svc.Head()) }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_log_oldest_cursor_sequence",
			Help: "The lowest saved delivery position of any subscription (events after it are still needed)."},
			func() float64 { return float64(svc.Dispatcher().OldestCursor()) }))
	}
	if path := o.DBPath; path != "" {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_store_file_size_bytes",
			Help: "The size of the bbolt file."}, func() float64 {
			st, err := os.Stat(path)
			if err != nil {
				return 0
			}
			return float64(st.Size())
		}))
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Accepted implements messages.Observer.
func (m *Metrics) Accepted() { m.accepted.Inc() }

// Rejected implements messages.Observer.
func (m *Metrics) Rejected(reason string) {
	c, ok := m.rejectedBy.Load(reason)
	if !ok {
		c, _ = m.rejectedBy.LoadOrStore(reason, m.rejected.WithLabelValues(reason))
	}
	c.(prometheus.Counter).Inc()
}

// Attempted implements eventing.DeliveryObserver.
func (m *Metrics) Attempted(processor string, outcome eventing.Outcome, latency, lag time.Duration) {
	v, ok := m.byProc.Load(processor)
	if !ok {
		v, _ = m.byProc.LoadOrStore(processor, &procMetrics{
			delivered: m.attempts.WithLabelValues(processor, string(eventing.OutcomeDelivered)),
			retry:     m.attempts.WithLabelValues(processor, string(eventing.OutcomeRetry)),
			dead:      m.attempts.WithLabelValues(processor, string(eventing.OutcomeDeadLetter)),
			duration:  m.duration.WithLabelValues(processor),
			lag:       m.lag.WithLabelValues(processor),
		})
	}
	p := v.(*procMetrics)
	p.duration.Observe(latency.Seconds())
	switch outcome {
	case eventing.OutcomeDelivered:
		p.delivered.Inc()
		p.lag.Observe(lag.Seconds())
	case eventing.OutcomeRetry:
		p.retry.Inc()
	case eventing.OutcomeDeadLetter:
		p.dead.Inc()
	}
}

// Committed is the store's commit callback (store.Options.OnCommit).
func (m *Metrics) Committed(events int, took time.Duration) {
	m.commitDuration.Observe(took.Seconds())
	m.commitBatch.Observe(float64(events))
}

// census counts the subscriptions at scrape time.
type census struct {
	svc  *eventing.Service
	desc *prometheus.Desc
}

func (c *census) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *census) Collect(ch chan<- prometheus.Metric) {
	for k, n := range c.svc.Dispatcher().Census() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

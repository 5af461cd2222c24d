package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/metrics"
	"github.com/herald-eventing/herald/transports/soap"
)

// herald bench measures Herald in this process against a bare net/http
// handler measured in the same run, and prints a table. Herald, its
// publishers and its sinks share the machine: the figures are for the whole.

type benchConfig struct {
	duration time.Duration
	subs     int
	quick    bool
	only     string
	profile  string
	memprof  string
	// store is "" (bbolt alone, against the baselines) or "nats" (a
	// 3-node in-process JetStream cluster beside bbolt, bench_nats.go).
	store string
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	fs := newFlags("bench", "bench [--duration 3s] [--subscriptions 100000] [--quick] [--store nats]", stdout)
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long each throughput run lasts")
	fs.IntVar(&cfg.subs, "subscriptions", 100000, "subscriptions for the publish-latency run with many, and its scale figures (memory, file, start, idle CPU, shutdown)")
	fs.BoolVar(&cfg.quick, "quick", false, "short runs and 10,000 subscriptions (a smoke test of the harness)")
	fs.StringVar(&cfg.only, "only", "", "run only these measures (comma-separated: ingest, auth, metrics, fanout, latency (with the scale figures at --subscriptions), footprint (memory, file and start at 100,000 topic subscriptions and at --subscriptions with 10 % XPath), subscribe, e2e, xpath)")
	fs.StringVar(&cfg.profile, "cpuprofile", "", "write a CPU profile of the whole run (Herald, the baselines and the load generators) to this file")
	fs.StringVar(&cfg.memprof, "memprofile", "", "write a heap profile of the instance with --subscriptions, once started, to this file")
	fs.StringVar(&cfg.store, "store", "", "nats: measure Herald on a 3-node in-process JetStream cluster (R3, sync-always) beside bbolt, in the same run (measures: ingest, fanout, e2e, failover)")
	if err := fs.parseNone(args); err != nil {
		return err
	}
	if cfg.store != "" && cfg.store != storeBenchNATS {
		return fs.usagef("--store %q: the bench knows only %q (without --store: bbolt)", cfg.store, storeBenchNATS)
	}
	if cfg.quick {
		cfg.duration, cfg.subs = 500*time.Millisecond, 10000
	}
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.profile != "" {
		f, err := os.Create(cfg.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	b := &bench{cfg: cfg, dir: dir, log: stderr}
	return b.run(ctx, stdout)
}

type bench struct {
	cfg  benchConfig
	dir  string
	log  io.Writer
	rows [][]string
}

func (b *bench) row(cols ...string) { b.rows = append(b.rows, cols) }

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bench) run(ctx context.Context, stdout io.Writer) error {
	if b.cfg.store == storeBenchNATS {
		return b.runNATS(ctx, stdout)
	}
	fmt.Fprintf(stdout, "Herald bench: %d CPUs, %s per throughput run, %s\n\n", runtimeCPUs(), b.cfg.duration, time.Now().UTC().Format(time.RFC3339))
	for _, m := range []struct {
		name string
		run  func(context.Context) error
	}{{"ingest", b.ingest}, {"auth", b.authIngest}, {"metrics", b.metricsIngest}, {"fanout", b.fanout}, {"latency", b.publishLatency}, {"footprint", b.footprints}, {"subscribe", b.subscribeRate}, {"e2e", b.endToEnd}, {"xpath", b.xpathLatency}} {
		if b.cfg.only != "" && !slices.Contains(strings.Split(b.cfg.only, ","), m.name) {
			continue
		}
		if err := m.run(ctx); err != nil {
			return err
		}
	}
	b.printRows(stdout, "HERALD", "BASELINE")
	fmt.Fprintf(stdout, "\nRSS %s (peak %s); the baseline is a net/http handler that answers 202 without parsing or storing, except where the row names another.\n", mib(rss("VmRSS")), mib(rss("VmHWM")))
	return nil
}

// printRows writes the measured rows as a table whose value columns are
// named herald and baseline.
func (b *bench) printRows(stdout io.Writer, herald, baseline string) {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEASURE\t"+herald+"\t"+baseline+"\tRATIO\tTARGET")
	for _, r := range b.rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

// instance is Herald running on a real, fsynced bbolt file.
type instance struct {
	db   *store.DB
	svc  *eventing.Service
	srv  *http.Server
	url  string
	path string
	// auth is the header that authenticates an unrestricted publisher on
	// an instance started with authorization (nil without).
	auth http.Header
	// close closes the store when it is not db (JetStream).
	close func()
}

// start runs Herald on the bbolt file named name. With authorize, it
// authorizes as serve --auth on does (eventing and HTTP, keys in the same
// file, no rate limit) and makes a publisher key for every topic, which
// the instance's auth header carries as a Bearer token.
func (b *bench) start(ctx context.Context, name string, authorize bool) (*instance, error) {
	return b.startWith(ctx, name, authorize, false)
}

// startWith is start, with the Prometheus metrics wired as serve wires
// them when withMetrics is set.
func (b *bench) startWith(ctx context.Context, name string, authorize, withMetrics bool) (*instance, error) {
	dir := filepath.Join(b.dir, name)
	var m *metrics.Metrics
	sopts := store.Options{}
	dopts := eventing.DispatcherOptions{Workers: 256}
	if withMetrics {
		m = metrics.New()
		sopts.OnCommit, dopts.Observer = m.Committed, m
	}
	db, err := store.Open(dir, sopts)
	if err != nil {
		return nil, err
	}
	client := benchClient(4096)
	svc, err := newService(ctx, eventing.Options{Store: db, Ender: &soap.Ender{Client: client}, HTTPClient: client,
		Authorize: authorize, Dispatcher: dopts})
	if err != nil {
		db.Close()
		return nil, err
	}
	opts := httpapi.Options{Service: svc, Logger: slog.New(slog.DiscardHandler)}
	if m != nil {
		m.Watch(metrics.Options{Service: svc, DBPath: db.Path()})
		opts.Metrics = m
	}
	var header http.Header
	if authorize {
		kr, err := access.NewKeyring(ctx, db, "", nil)
		if err != nil {
			db.Close()
			return nil, err
		}
		_, secret, err := kr.Create(ctx, "bench-publisher", access.Publisher, nil)
		if err != nil {
			db.Close()
			return nil, err
		}
		opts.Keyring, opts.Authorize = kr, true
		header = http.Header{"Authorization": {"Bearer " + secret}}
	}
	if err := svc.Start(ctx); err != nil {
		db.Close()
		return nil, err
	}
	h, err := httpapi.New(opts)
	if err != nil {
		return nil, err
	}
	srv, url, err := serveLocal(h)
	if err != nil {
		return nil, err
	}
	return &instance{db: db, svc: svc, srv: srv, url: url, path: db.Path(), auth: header}, nil
}

func (in *instance) stop() {
	in.srv.Close()
	in.svc.Shutdown(context.Background())
	if in.close != nil {
		in.close()
		return
	}
	in.db.Close()
}

func serveLocal(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

func benchClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = conns, conns
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

func benchMessage(topic, text string) []byte {
	return []byte(`<message xmlns="http://cloud42.jw.de/message"><topic>` + topic + `</topic><instanceId>i-bench</instanceId><timestamp>2026-11-22 10:00:00 GMT</timestamp><text>` + text + `</text><info>bench</info></message>`)
}

// hammer POSTs messages with client from n goroutines for d, each with
// header (nil for none), and returns the rate of 202s.
func hammer(ctx context.Context, client *http.Client, url string, header http.Header, n int, d time.Duration) (float64, error) {
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	body := benchMessage("ingest", "x")
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					bad.Add(1)
					continue
				}
				req.Header.Set("Content-Type", "text/xml")
				for k, v := range header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	if bad.Load() > 0 {
		return 0, fmt.Errorf("%d publishes failed", bad.Load())
	}
	return float64(ok.Load()) / time.Since(start).Seconds(), nil
}

// ingestRounds is how many times the ingest runs alternate between the
// baseline and Herald: this machine's speed drifts by ±15 % within a
// minute, so one long run of each compares two different machines.
const ingestRounds = 5

// ingest measures the durable ingest rate against the bare handler. The
// two alternate in rounds (see alternate) and the table gives the median
// of each and the median of the rounds' ratios.
func (b *bench) ingest(ctx context.Context) error {
	bare, bareURL, err := serveLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	if err != nil {
		return err
	}
	defer bare.Close()
	in, err := b.start(ctx, "ingest", false)
	if err != nil {
		return err
	}
	defer in.stop()
	for _, n := range []int{1, 16, 64} {
		got, base, ratio, err := b.alternate(ctx, fmt.Sprintf("durable ingest, %d publishers", n), n,
			ingestTarget{"Herald", in.url + "/messages", nil}, ingestTarget{"baseline", bareURL + "/messages", nil})
		if err != nil {
			return err
		}
		target := ""
		if n == 64 {
			target = "≥ 50 % of baseline"
		}
		b.row(fmt.Sprintf("durable ingest, %d publishers (events/s)", n), rate(got), rate(base), pct(ratio), target)
	}
	b.row("bbolt file after ingest", mib(fileSize(in.path)), "", "", "")
	return nil
}

// An ingestTarget is what alternate hammers: a name for the progress
// lines, the message URL and the header every publish carries.
type ingestTarget struct {
	name   string
	url    string
	header http.Header
}

// alternate hammers got and base with n publishers in alternating rounds
// (ingestRounds, of a third of the duration each; one of the whole
// duration with --quick), which of the two goes first alternating too.
// Each keeps its own connections across the rounds. Every round is
// printed on stderr; alternate returns the median rate of each and the
// median of the rounds' ratios got/base.
func (b *bench) alternate(ctx context.Context, label string, n int, got, base ingestTarget) (gotRate, baseRate, ratio float64, err error) {
	rounds, seg := ingestRounds, b.cfg.duration/3
	if b.cfg.quick {
		rounds, seg = 1, b.cfg.duration
	}
	b.progress("%s, %d rounds", label, rounds)
	targets := [2]ingestTarget{got, base}
	clients := [2]*http.Client{benchClient(n), benchClient(n)}
	var rates [2][]float64
	var ratios []float64
	for r := range rounds {
		var v [2]float64
		for k := range 2 {
			j := (r + k + 1) % 2 // base first in even rounds
			if v[j], err = hammer(ctx, clients[j], targets[j].url, targets[j].header, n, seg); err != nil {
				return 0, 0, 0, fmt.Errorf("%s, %s: %w", label, targets[j].name, err)
			}
		}
		b.progress("  round %d: %s %s, %s %s, %s", r+1, got.name, rate(v[0]), base.name, rate(v[1]), pct(v[0]/v[1]))
		rates[0], rates[1], ratios = append(rates[0], v[0]), append(rates[1], v[1]), append(ratios, v[0]/v[1])
	}
	return median(rates[0]), median(rates[1]), median(ratios), nil
}

// authIngest measures what authentication costs durable ingest: two
// Herald instances side by side, one without authorization and one with
// it (serve --auth on; every publish carries the Bearer key of a
// publisher for every topic, no rate limit), in alternating rounds as
// ingest runs them.
func (b *bench) authIngest(ctx context.Context) error {
	off, err := b.start(ctx, "auth-off", false)
	if err != nil {
		return err
	}
	defer off.stop()
	on, err := b.start(ctx, "auth-on", true)
	if err != nil {
		return err
	}
	defer on.stop()
	// A publish without the key must be refused, or this would measure
	// nothing.
	resp, err := http.Post(on.url+"/messages", "text/xml", bytes.NewReader(benchMessage("ingest", "x")))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("auth: a publish without a key got HTTP %d, not 401", resp.StatusCode)
	}
	for _, n := range []int{16, 64} {
		got, base, ratio, err := b.alternate(ctx, fmt.Sprintf("durable ingest with auth, %d publishers", n), n,
			ingestTarget{"with auth", on.url + "/messages", on.auth}, ingestTarget{"without", off.url + "/messages", nil})
		if err != nil {
			return err
		}
		target := ""
		if n == 64 {
			target = "≥ 95 % of no auth"
		}
		b.row(fmt.Sprintf("durable ingest with auth (Bearer), %d publishers (events/s)", n), rate(got), rate(base), pct(ratio), target)
	}
	return nil
}

// metricsIngest measures what the Prometheus metrics cost on ingest:
// Herald with them against Herald without, in alternating rounds.
func (b *bench) metricsIngest(ctx context.Context) error {
	off, err := b.startWith(ctx, "metrics-off", false, false)
	if err != nil {
		return err
	}
	defer off.stop()
	on, err := b.startWith(ctx, "metrics-on", false, true)
	if err != nil {
		return err
	}
	defer on.stop()
	got, base, ratio, err := b.alternate(ctx, "durable ingest with metrics, 64 publishers", 64,
		ingestTarget{"with metrics", on.url + "/messages", nil}, ingestTarget{"without", off.url + "/messages", nil})
	if err != nil {
		return err
	}
	b.row("durable ingest with metrics, 64 publishers (events/s)", rate(got), rate(base), pct(ratio), "≥ 97 % of no metrics")
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sink counts the notifications it receives.
type sink struct {
	srv   *http.Server
	url   string
	count atomic.Int64
	seen  func(body []byte)
}

func newSink(seen func([]byte)) (*sink, error) {
	s := &sink{seen: seen}
	srv, url, err := serveLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if s.seen != nil {
			s.seen(body)
		}
		s.count.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	s.srv, s.url = srv, url
	return s, err
}

func subscribeAll(ctx context.Context, svc *eventing.Service, url, topic string, n int) error {
	for i := range n {
		if err := subscribeOne(ctx, svc, url, topic, i); err != nil {
			return err
		}
	}
	return nil
}

// subscribeOne subscribes url/i to topic.
func subscribeOne(ctx context.Context, svc *eventing.Service, url, topic string, i int) error {
	msg := fmt.Sprintf(`<wse:Subscribe xmlns:wse="%s"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">%s/%d</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`, eventing.NS, url, i)
	el, err := parseElement(msg)
	if err != nil {
		return err
	}
	_, err = svc.Subscribe(ctx, &eventing.SubscribeRequest{Processor: "soap", Message: el, Filter: eventing.TopicFilter(topic), Management: true})
	return err
}

func (b *bench) fanout(ctx context.Context) error {
	for _, n := range []int{1, 100, 1000} {
		b.progress("fan-out to %d subscriptions", n)
		in, err := b.start(ctx, fmt.Sprintf("fanout-%d", n), false)
		if err != nil {
			return err
		}
		s, err := newSink(nil)
		if err != nil {
			return err
		}
		if err := subscribeAll(ctx, in.svc, s.url, "fan", n); err != nil {
			return err
		}
		events := max(200, 60000/n)
		want := int64(events * n)
		start := time.Now()
		for i := range events {
			if _, err := in.svc.Publish(ctx, &eventing.Message{Topic: "fan", Text: strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		for s.count.Load() < want {
			if time.Since(start) > 5*time.Minute {
				return fmt.Errorf("fan-out to %d: %d of %d deliveries after 5 minutes", n, s.count.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
		got := float64(want) / time.Since(start).Seconds()
		target := ""
		if n == 1000 {
			target = "≥ 20,000/s"
		}
		b.row(fmt.Sprintf("fan-out, %d subscriptions (deliveries/s)", n), rate(got), "", "", target)
		s.srv.Close()
		in.stop()
	}
	return nil
}

// publishLatency measures single-publisher latency on two servers side by
// side, one with one subscription and one with many, alternating requests
// so that whatever else the machine does weighs on both alike.
func (b *bench) publishLatency(ctx context.Context) error {
	n := 5000
	if b.cfg.quick {
		n = 500
	}
	var ins [2]*instance
	var fig scaleFigures
	for i, subs := range []int{1, b.cfg.subs} {
		b.progress("publish latency with %d subscriptions (setting them up)", subs)
		name := fmt.Sprintf("latency-%d", subs)
		s, err := newSink(nil)
		if err != nil {
			return err
		}
		defer s.srv.Close()
		if i == 1 {
			fig.subs, fig.rssBefore = subs, heapRSS()
		}
		// Each on its own topic (topic-0 … topic-subs-1).
		t0 := time.Now()
		if err := b.seed(ctx, name, s.url, subs, func(i int) *eventing.FilterSpec { return eventing.TopicFilter(fmt.Sprintf("topic-%d", i)) }); err != nil {
			return err
		}
		b.progress("%d subscriptions stored in %s", subs, time.Since(t0).Round(time.Millisecond))
		in, took, err := b.measureStart(ctx, name, subs, s)
		if err != nil {
			return err
		}
		ins[i] = in
		if i == 1 {
			fig.startToDelivery = took
			fig.rssAfter, fig.file = heapRSS(), fileSize(in.path)
			if err := b.writeHeapProfile(); err != nil {
				return err
			}
		} else {
			defer in.stop()
		}
	}
	b.progress("measuring %d publishes on each, alternating", n)
	clients := [2]*http.Client{benchClient(1), benchClient(1)}
	var lat [2][]time.Duration
	for i := range n {
		for k := range 2 {
			j := (i + k) % 2 // alternate which goes first
			start := time.Now()
			resp, err := clients[j].Post(ins[j].url+"/messages", "text/xml", bytes.NewReader(benchMessage("topic-0", strconv.Itoa(i))))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("publish: HTTP %d", resp.StatusCode)
			}
			lat[j] = append(lat[j], time.Since(start))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	p := func(i, q int) time.Duration { return percentile(lat[i], q) }
	b.row("publish latency p50, 1 subscription", ms(p(0, 50)), "", "", "")
	b.row("publish latency p99, 1 subscription", ms(p(0, 99)), "", "", "")
	b.row(fmt.Sprintf("publish latency p50, %d subscriptions", b.cfg.subs), ms(p(1, 50)), ms(p(0, 50)), fmt.Sprintf("%.2f×", float64(p(1, 50))/float64(p(0, 50))), "")
	b.row(fmt.Sprintf("publish latency p99, %d subscriptions", b.cfg.subs), ms(p(1, 99)), ms(p(0, 99)), fmt.Sprintf("%.2f×", float64(p(1, 99))/float64(p(0, 99))), "≤ 1.2× of 1 subscription")
	idleFor := 5 * time.Second
	if b.cfg.quick {
		idleFor = 2 * time.Second
	}
	b.progress("background CPU with %d idle subscriptions over %s", b.cfg.subs, idleFor)
	idle, err := b.idleCPU(ctx, ins[1], idleFor)
	if err != nil {
		return err
	}
	t0 := time.Now()
	ins[1].stop()
	b.scaleRows(fig, idle, time.Since(t0))
	return nil
}

// seed stores n subscriptions, subscription i with filter(i) and the
// NotifyTo url/i, in a file set up without fsync, in transactions of
// 10,000; the measured run reopens it with fsync.
func (b *bench) seed(ctx context.Context, name, url string, n int, filter func(i int) *eventing.FilterSpec) error {
	db, err := store.Open(filepath.Join(b.dir, name), store.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	batch := make([]*eventing.Subscription, 0, 10000)
	for i := range n {
		msg := fmt.Sprintf(`<wse:Subscribe xmlns:wse="%s"><wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">%s/%d</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`, eventing.NS, url, i)
		batch = append(batch, &eventing.Subscription{ID: fmt.Sprintf("uuid:bench-%d", i), Processor: "soap", Message: msg,
			Filter: filter(i), Created: now})
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.CreateSubscriptions(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// A latencySink is a sink that records, for every notification, the time
// since the send time its message text carries (Unix nanoseconds).
type latencySink struct {
	*sink
	mu  sync.Mutex
	lat []time.Duration
}

func newLatencySink() (*latencySink, error) {
	l := &latencySink{}
	s, err := newSink(func(body []byte) {
		i := bytes.Index(body, []byte("<text>"))
		j := bytes.Index(body, []byte("</text>"))
		if i < 0 || j < i {
			return
		}
		sent, err := strconv.ParseInt(string(body[i+6:j]), 10, 64)
		if err != nil {
			return
		}
		d := time.Since(time.Unix(0, sent))
		l.mu.Lock()
		l.lat = append(l.lat, d)
		l.mu.Unlock()
	})
	l.sink = s
	return l, err
}

// latencies returns the latencies recorded so far.
func (l *latencySink) latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lat)
}

func (b *bench) endToEnd(ctx context.Context) error {
	b.progress("end-to-end latency at 1,000 events/s")
	in, err := b.start(ctx, "e2e", false)
	if err != nil {
		return err
	}
	defer in.stop()
	s, err := newLatencySink()
	if err != nil {
		return err
	}
	defer s.srv.Close()
	if err := subscribeAll(ctx, in.svc, s.url, "e2e", 1); err != nil {
		return err
	}
	n := int(b.cfg.duration/time.Millisecond) * 2
	failed := publishPaced(ctx, in.url+"/messages", n, time.Millisecond, func(int) string { return "e2e" })
	for deadline := time.Now().Add(30 * time.Second); s.count.Load() < int64(n) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if failed > 0 || s.count.Load() < int64(n) {
		return fmt.Errorf("end-to-end: %d publishes failed, %d of %d delivered", failed, s.count.Load(), n)
	}
	lat := s.latencies()
	b.row("end-to-end latency p50 at 1,000 events/s", ms(percentile(lat, 50)), "", "", "")
	b.row("end-to-end latency p99 at 1,000 events/s", ms(percentile(lat, 99)), "", "", "< 20 ms")
	return nil
}

// publishPaced publishes n messages to url, one every interval from a
// ticker, each from its own goroutine so that a slow answer does not hold
// back the next, and each carrying its send time (Unix nanoseconds) as its
// text; topic(i) is the topic of the i-th. It returns, once every publish
// is answered, how many were not answered 202.
func publishPaced(ctx context.Context, url string, n int, interval time.Duration, topic func(i int) string) int64 {
	client := benchClient(64)
	defer client.CloseIdleConnections()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			failed.Add(int64(n - i))
			wg.Wait()
			return failed.Load()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(url, "text/xml", bytes.NewReader(benchMessage(topic(i), strconv.FormatInt(time.Now().UnixNano(), 10))))
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

// The xpath measure publishes at 500 events/s (one every xpathInterval)
// over xpathTopics topics, with xpathPerTopic subscriptions on each topic
// that every event of it reaches, and xpathIdle more that no event
// reaches.
const (
	xpathTopics   = 1000
	xpathPerTopic = 10
	xpathIdle     = 100
	xpathInterval = 2 * time.Millisecond
)

// xpathLatency measures publish-to-delivery latency with XPath
// subscriptions against the same load with topic subscriptions. Run (a)
// has xpathTopics×xpathPerTopic XPath filters that pin a topic by
// equality (which the dispatcher indexes under it, eventing.FilterTopic)
// and xpathIdle that pin none and never match, so that every event is
// evaluated against each of them; run (b), the baseline, has as many
// topic subscriptions on the same topics and xpathIdle on topics never
// published.
//
// The two run side by side, each on its own bbolt file and sink, and
// alternate in segments (ingestRounds of a third of the duration each;
// one with --quick), which goes first alternating too, so that the
// machine's drift weighs on both alike. After each segment its
// deliveries get a few seconds to arrive before the other's segment
// starts; a run whose deliveries do not is stopped there (it has fallen
// behind, and its backlog would slow the other run) and its missing
// deliveries count as later than the wait.
func (b *bench) xpathLatency(ctx context.Context) error {
	pinned := xpathTopics * xpathPerTopic
	ns := map[string]string{"m": eventing.MessageNS}
	xpath := func(i int) *eventing.FilterSpec {
		if i < pinned {
			return &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Namespaces: ns,
				Expression: fmt.Sprintf("/m:message[m:topic='topic-%d' and m:instanceId='i-bench']", i%xpathTopics)}
		}
		return &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Namespaces: ns,
			Expression: fmt.Sprintf("/m:message[starts-with(m:text,'never-%d')]", i-pinned)}
	}
	topics := func(i int) *eventing.FilterSpec {
		if i < pinned {
			return eventing.TopicFilter(fmt.Sprintf("topic-%d", i%xpathTopics))
		}
		return eventing.TopicFilter(fmt.Sprintf("idle-%d", i-pinned))
	}
	label := fmt.Sprintf("%s pinned + %d unpinned XPath", thousands(pinned), xpathIdle)
	var runs [2]*deliveryRun
	for i, r := range []struct {
		name, label string
		filter      func(int) *eventing.FilterSpec
	}{{"xpath", label, xpath}, {"xpath-topics", fmt.Sprintf("%s + %d topic subscriptions", thousands(pinned), xpathIdle), topics}} {
		run, err := b.setupDelivery(ctx, r.name, r.label, pinned+xpathIdle, r.filter)
		if err != nil {
			return err
		}
		defer run.close()
		runs[i] = run
	}
	rounds, seg := ingestRounds, b.cfg.duration/3
	// A segment's deliveries get settle to arrive before the other run's
	// segment starts; a run that needs longer has fallen behind for good
	// at this rate, and is stopped (see deliveryRun.settle).
	settle := 3 * time.Second
	if b.cfg.quick {
		rounds, seg, settle = 1, b.cfg.duration, time.Second
	}
	b.progress("publish-to-delivery at %.0f events/s, %d rounds of %s on each, alternating", float64(time.Second)/float64(xpathInterval), rounds, seg)
	for r := range rounds {
		for k := range 2 {
			run := runs[(r+k)%2]
			if run.res != nil {
				continue // fell behind and stopped
			}
			if err := run.publish(ctx, int(seg/xpathInterval)); err != nil {
				return err
			}
			if err := run.settle(ctx, settle); err != nil {
				return err
			}
		}
		b.progress("  round %d: %s; %s", r+1, runs[0].status(), runs[1].status())
	}
	var res [2]deliveryResult
	for i, run := range runs {
		if run.res == nil {
			if err := run.stop(settle); err != nil {
				return err
			}
		}
		res[i] = *run.res
		b.progress("  %s: %s; p50 / p99 %s", run.label, run.status(), res[i])
	}
	got, base := res[0], res[1]
	ratio := fmt.Sprintf("p99 %.2f×", float64(got.p(99))/float64(base.p(99)))
	if got.missing > 0 && got.p(99) == got.wait {
		ratio = fmt.Sprintf("p99 > %.2f×", float64(got.p(99))/float64(base.p(99)))
	}
	b.row("publish-to-delivery p50 / p99, "+label, got.String(), base.String(), ratio, "p99 ≤ 2× topic-only")
	return nil
}

// A deliveryRun is Herald with seeded subscriptions that all deliver to
// one latency sink, and the events published to it so far.
type deliveryRun struct {
	label  string
	in     *instance
	sink   *latencySink
	events int
	// res is the result once the run is stopped.
	res *deliveryResult
}

// setupDelivery seeds n subscriptions (subscription i with filter(i), each
// with its own NotifyTo on one sink) into the bbolt file named name, as
// publishLatency does, and starts Herald on it with fsync.
func (b *bench) setupDelivery(ctx context.Context, name, label string, n int, filter func(i int) *eventing.FilterSpec) (*deliveryRun, error) {
	s, err := newLatencySink()
	if err != nil {
		return nil, err
	}
	b.progress("publish-to-delivery, %s (setting them up)", label)
	if err := b.seed(ctx, name, s.url, n, filter); err != nil {
		s.srv.Close()
		return nil, err
	}
	t0 := time.Now()
	in, err := b.start(ctx, name, false)
	if err != nil {
		s.srv.Close()
		return nil, err
	}
	b.progress("%d subscriptions loaded in %s", n, time.Since(t0).Round(time.Millisecond))
	return &deliveryRun{label: label, in: in, sink: s}, nil
}

func (r *deliveryRun) close() {
	if r.res == nil {
		r.in.stop()
	}
	r.sink.srv.Close()
}

// settle waits until every delivery of the events published so far has
// arrived, for at most wait. If some have not, the run has fallen behind
// and would load the machine under the other run: it is stopped, with
// what it delivered by then as its result.
func (r *deliveryRun) settle(ctx context.Context, wait time.Duration) error {
	for deadline := time.Now().Add(wait); r.sink.count.Load() < int64(r.want()); {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return r.stop(wait)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// stop stops Herald and records the run's result (waited is how long the
// run waited for the deliveries after its last publish).
func (r *deliveryRun) stop(waited time.Duration) error {
	res, err := r.result(waited)
	r.in.stop()
	r.res = &res
	return err
}

// publish publishes n events, one every xpathInterval, the topics going
// round the xpathTopics from where the last call stopped.
func (r *deliveryRun) publish(ctx context.Context, n int) error {
	first := r.events
	r.events += n
	if failed := publishPaced(ctx, r.in.url+"/messages", n, xpathInterval, func(i int) string { return fmt.Sprintf("topic-%d", (first+i)%xpathTopics) }); failed > 0 {
		return fmt.Errorf("%s: %d publishes failed", r.label, failed)
	}
	return nil
}

// want is how many deliveries the events published so far make.
func (r *deliveryRun) want() int { return r.events * xpathPerTopic }

// status tells how many deliveries have arrived (by the time the run was
// stopped, if it was).
func (r *deliveryRun) status() string {
	n := int(r.sink.count.Load())
	if r.res != nil {
		n = len(r.res.lat)
	}
	return fmt.Sprintf("%s of %s delivered (%s events × %d subscriptions)", thousands(n), thousands(r.want()), thousands(r.events), xpathPerTopic)
}

// result returns the latencies recorded so far, with the deliveries still
// missing after a wait of wait; an error if more arrived than the events
// make (a filter that matched what it should not).
func (r *deliveryRun) result(wait time.Duration) (deliveryResult, error) {
	res := deliveryResult{lat: r.sink.latencies(), wait: wait}
	if len(res.lat) > r.want() {
		return res, fmt.Errorf("%s: %d deliveries, expected %d", r.label, len(res.lat), r.want())
	}
	res.missing = r.want() - len(res.lat)
	return res, nil
}

// A deliveryResult is the latencies of a deliveryRun, and how many
// deliveries had not arrived when the measure stopped waiting (after
// wait).
type deliveryResult struct {
	lat     []time.Duration
	missing int
	wait    time.Duration
}

// p returns the q-th percentile, counting the missing deliveries as later
// than any that arrived: when it falls among them, the latency is only
// known to exceed the wait, which p returns.
func (r deliveryResult) p(q int) time.Duration {
	all := slices.Clone(r.lat)
	for range r.missing {
		all = append(all, time.Duration(1<<62))
	}
	if v := percentile(all, q); v < time.Duration(1<<62) {
		return v
	}
	return r.wait
}

// String returns "p50 / p99 ms", a percentile among the missing
// deliveries as "> wait", and how many are missing if any are.
func (r deliveryResult) String() string {
	late := func(q int) bool { return r.missing > 0 && r.p(q) == r.wait }
	var s string
	switch {
	case late(50):
		s = fmt.Sprintf("> %s / > %s", r.wait, r.wait)
	case late(99):
		s = fmt.Sprintf("%.2f ms / > %s", msf(r.p(50)), r.wait)
	default:
		s = fmt.Sprintf("%.2f / %.2f ms", msf(r.p(50)), msf(r.p(99)))
	}
	if r.missing > 0 {
		s += fmt.Sprintf(" (%s undelivered)", thousands(r.missing))
	}
	return s
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func rate(v float64) string     { return fmt.Sprintf("%.0f", v) }
func pct(v float64) string      { return fmt.Sprintf("%.0f %%", 100*v) }
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func mib(n int64) string        { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// rss reads a memory figure of this process from /proc (Linux); 0 elsewhere.
func rss(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

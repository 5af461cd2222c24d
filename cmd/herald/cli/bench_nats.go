package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/eventcodec"
	"github.com/herald-eventing/herald/store/jetstream"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/soap"
)

// herald bench --store nats measures Herald on a 3-node JetStream cluster
// running in this process (loopback, sync_interval: always, every stream
// R3) beside Herald on bbolt, in the same run: the two alternate as the
// default bench alternates Herald and its baselines, so that the
// machine's drift weighs on both alike. The cluster, Herald, its
// publishers and its sinks share the machine.

// storeBenchNATS is the bench's --store value for the JetStream cluster.
const storeBenchNATS = "nats"

// runNATS runs the JetStream measures and prints their table.
func (b *bench) runNATS(ctx context.Context, stdout io.Writer) error {
	fmt.Fprintf(stdout, "Herald bench --store nats: %d CPUs, %s per throughput run, %s\n\n", runtimeCPUs(), b.cfg.duration, time.Now().UTC().Format(time.RFC3339))
	t0 := time.Now()
	cl, err := jetstream.StartCluster(ctx, filepath.Join(b.dir, "nats"), 3)
	if err != nil {
		return err
	}
	defer cl.Shutdown()
	b.progress("3-node JetStream cluster formed in %s", time.Since(t0).Round(time.Millisecond))
	b.row("3-node JetStream cluster formed", ms(time.Since(t0)), "", "", "")
	for _, m := range []struct {
		name string
		run  func(context.Context, *jetstream.Cluster) error
	}{{"ingest", b.natsIngest}, {"fanout", b.natsFanout}, {"e2e", b.natsEndToEnd}, {"failover", b.natsFailover}} {
		if b.cfg.only != "" && !slices.Contains(strings.Split(b.cfg.only, ","), m.name) {
			continue
		}
		if err := m.run(ctx, cl); err != nil {
			return err
		}
	}
	b.printRows(stdout, "JETSTREAM R3", "BBOLT")
	fmt.Fprintf(stdout, "\nRSS %s (peak %s). JETSTREAM R3 is Herald on 3 nats-servers in this process (sync_interval: always, every stream and bucket R3); BBOLT is Herald on one fsynced bbolt file; RATIO is JetStream / bbolt, the median of alternating rounds.\n", mib(rss("VmRSS")), mib(rss("VmHWM")))
	return nil
}

// startNATS runs Herald on the cluster, its streams and buckets named by
// prefix (one set per measure), as serve --store nats://… runs it.
func (b *bench) startNATS(ctx context.Context, cl *jetstream.Cluster, prefix string) (*instance, *jetstream.Store, error) {
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := jetstream.Open(octx, jetstream.Options{URLs: cl.URLs(), Replicas: 3, Prefix: prefix, Name: "herald-bench-" + prefix})
	if err != nil {
		return nil, nil, err
	}
	client := benchClient(4096)
	svc, err := newService(ctx, eventing.Options{Store: st, Ender: &soap.Ender{Client: client}, HTTPClient: client,
		Dispatcher: eventing.DispatcherOptions{Workers: 256}})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if err := svc.Start(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	h, err := httpapi.New(httpapi.Options{Service: svc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		svc.Shutdown(context.Background())
		st.Close()
		return nil, nil, err
	}
	srv, url, err := serveLocal(h)
	if err != nil {
		svc.Shutdown(context.Background())
		st.Close()
		return nil, nil, err
	}
	return &instance{svc: svc, srv: srv, url: url, close: func() { st.Close() }}, st, nil
}

// startPair starts Herald on the cluster and on a bbolt file, both named
// name: [0] is JetStream, [1] bbolt.
func (b *bench) startPair(ctx context.Context, cl *jetstream.Cluster, name string) ([2]*instance, error) {
	var ins [2]*instance
	in, _, err := b.startNATS(ctx, cl, name)
	if err != nil {
		return ins, err
	}
	ins[0] = in
	if ins[1], err = b.start(ctx, name+"-bbolt", false); err != nil {
		in.stop()
		return ins, err
	}
	return ins, nil
}

func (b *bench) rounds() (int, time.Duration) {
	if b.cfg.quick {
		return 1, b.cfg.duration
	}
	return ingestRounds, b.cfg.duration / 3
}

// natsIngest measures durable ingest over HTTP at 1, 16, 64 and 256
// publishers, JetStream and bbolt alternating (see alternate).
func (b *bench) natsIngest(ctx context.Context, cl *jetstream.Cluster) error {
	var ins [2]*instance
	in, st, err := b.startNATS(ctx, cl, "ingest")
	if err != nil {
		return err
	}
	defer in.stop()
	ins[0] = in
	if ins[1], err = b.start(ctx, "ingest-bbolt", false); err != nil {
		return err
	}
	defer ins[1].stop()
	if err := b.natsIngestLayers(ctx, cl, in, st); err != nil {
		return err
	}
	for _, n := range []int{1, 16, 64, 256} {
		got, base, ratio, err := b.alternate(ctx, fmt.Sprintf("durable ingest, %d publishers", n), n,
			ingestTarget{"JetStream", ins[0].url + "/messages", nil}, ingestTarget{"bbolt", ins[1].url + "/messages", nil})
		if err != nil {
			return err
		}
		target := ""
		if n == 64 {
			target = "≥ 10,000/s (sync-always)"
		}
		b.row(fmt.Sprintf("durable ingest, %d publishers (events/s)", n), rate(got), rate(base), pct(ratio), target)
	}
	return nil
}

// natsIngestLayers measures, at 64 publishers, the layers under Herald's
// durable ingest on the cluster, alternating in rounds (as alternate
// does): the whole (HTTP publishes to in), its Store.Append called
// directly, and the raw durable publish that Append wraps (js.PublishMsg
// on a connection of its own, to the same stream and subject, with a
// Nats-Msg-Id and the expected stream, as Append sends it). What the
// first lacks of the second is Herald's HTTP and message handling, what
// the second lacks of the third is Append's own. st is in's store.
func (b *bench) natsIngestLayers(ctx context.Context, cl *jetstream.Cluster, in *instance, st *jetstream.Store) error {
	const n = 64
	nc, err := nats.Connect(strings.Join(cl.URLs(), ","))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		return err
	}
	m := &eventing.Message{Topic: "ingest", InstanceID: "i-bench", Timestamp: "2026-11-22 10:00:00 GMT", Text: "x", Info: "bench"}
	data := eventcodec.Encode(time.Now(), m)
	client := benchClient(n)
	defer client.CloseIdleConnections()
	layers := []struct {
		name string
		run  func(seg time.Duration) (float64, error)
	}{
		{"HTTP ingest", func(seg time.Duration) (float64, error) {
			return hammer(ctx, client, in.url+"/messages", nil, n, seg)
		}},
		{"Store.Append", func(seg time.Duration) (float64, error) {
			return callFor(n, seg, func() error { _, err := st.Append(ctx, m, time.Now()); return err })
		}},
		{"raw js.PublishMsg", func(seg time.Duration) (float64, error) {
			return callFor(n, seg, func() error {
				msg := &nats.Msg{Subject: "ingest.ev.ingest", Data: data, Header: nats.Header{}}
				_, err := js.PublishMsg(ctx, msg, natsjs.WithMsgID(nuid.Next()), natsjs.WithExpectStream("ingest_events"))
				return err
			})
		}},
	}
	rounds, seg := ingestRounds, b.cfg.duration/3
	if b.cfg.quick {
		rounds, seg = 1, b.cfg.duration
	}
	b.progress("durable ingest layers, %d publishers, %d rounds", n, rounds)
	rates := make([][]float64, len(layers))
	for r := range rounds {
		line := ""
		for k := range layers {
			j := (r + k) % len(layers)
			v, err := layers[j].run(seg)
			if err != nil {
				return fmt.Errorf("durable ingest layers, %s: %w", layers[j].name, err)
			}
			rates[j] = append(rates[j], v)
		}
		for j, l := range layers {
			line += fmt.Sprintf(", %s %s", l.name, rate(rates[j][r]))
		}
		b.progress("  round %d%s", r+1, line)
	}
	raw := median(rates[2])
	for j, l := range layers {
		b.row(fmt.Sprintf("durable ingest, %d publishers: %s (events/s)", n, l.name), rate(median(rates[j])), "", pct(median(rates[j])/raw)+" of raw", "")
	}
	return nil
}

// callFor calls f from n goroutines for d and returns the rate of calls
// that succeeded; the first error stops it.
func callFor(n int, d time.Duration, f func() error) (float64, error) {
	var wg sync.WaitGroup
	var ok atomic.Int64
	var first atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	for range n {
		wg.Go(func() {
			for time.Now().Before(deadline) && first.Load() == nil {
				if err := f(); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if err, isErr := first.Load().(error); isErr {
		return 0, err
	}
	return float64(ok.Load()) / time.Since(start).Seconds(), nil
}

// subscribeConcurrently subscribes url/0 … url/n-1 to topic from 32
// goroutines (setup, not measured: a JetStream subscribe is a few
// replicated writes, and one at a time would take a while).
func subscribeConcurrently(ctx context.Context, svc *eventing.Service, url, topic string, n int) error {
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && first.Load() == nil; i = int(next.Add(1)) - 1 {
				if err := subscribeOne(ctx, svc, url, topic, i); err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return err
	}
	return nil
}

// natsFanout measures deliveries per second to 1,000 subscriptions of one
// topic: each round publishes a batch of events and waits until every
// subscription received them all, JetStream and bbolt alternating.
func (b *bench) natsFanout(ctx context.Context, cl *jetstream.Cluster) error {
	const subs = 1000
	events := 50
	rounds, _ := b.rounds()
	if b.cfg.quick {
		events = 20
	}
	ins, err := b.startPair(ctx, cl, "fanout")
	if err != nil {
		return err
	}
	defer ins[1].stop()
	defer ins[0].stop()
	var sinks [2]*sink
	for i, in := range ins {
		if sinks[i], err = newSink(nil); err != nil {
			return err
		}
		defer sinks[i].srv.Close()
		t0 := time.Now()
		if err := subscribeConcurrently(ctx, in.svc, sinks[i].url, "fan", subs); err != nil {
			return err
		}
		b.progress("fan-out: %d subscriptions made on %s in %s", subs, [2]string{"JetStream", "bbolt"}[i], time.Since(t0).Round(time.Millisecond))
	}
	b.progress("fan-out to %d subscriptions, %d events a round, %d rounds", subs, events, rounds)
	var rates [2][]float64
	var ratios []float64
	for r := range rounds {
		var v [2]float64
		for k := range 2 {
			j := (r + k + 1) % 2 // bbolt first in even rounds
			want := sinks[j].count.Load() + int64(events*subs)
			start := time.Now()
			for i := range events {
				if _, err := ins[j].svc.Publish(ctx, &eventing.Message{Topic: "fan", Text: strconv.Itoa(i)}); err != nil {
					return err
				}
			}
			for sinks[j].count.Load() < want {
				if time.Since(start) > 2*time.Minute || ctx.Err() != nil {
					return fmt.Errorf("fan-out to %d: %d deliveries missing after 2 minutes", subs, want-sinks[j].count.Load())
				}
				time.Sleep(time.Millisecond)
			}
			v[j] = float64(events*subs) / time.Since(start).Seconds()
		}
		b.progress("  round %d: JetStream %s, bbolt %s deliveries/s, %s", r+1, rate(v[0]), rate(v[1]), pct(v[0]/v[1]))
		rates[0], rates[1], ratios = append(rates[0], v[0]), append(rates[1], v[1]), append(ratios, v[0]/v[1])
	}
	b.row(fmt.Sprintf("fan-out, %s subscriptions (deliveries/s)", thousands(subs)), rate(median(rates[0])), rate(median(rates[1])), pct(median(ratios)), "≥ 20,000/s")
	return nil
}

// natsEndToEnd measures publish-to-delivery latency at 1,000 events/s to
// one subscription: each round publishes for a segment on one backend and
// waits for its deliveries before the other's segment, JetStream and
// bbolt alternating.
func (b *bench) natsEndToEnd(ctx context.Context, cl *jetstream.Cluster) error {
	ins, err := b.startPair(ctx, cl, "e2e")
	if err != nil {
		return err
	}
	defer ins[1].stop()
	defer ins[0].stop()
	var sinks [2]*latencySink
	for i, in := range ins {
		if sinks[i], err = newLatencySink(); err != nil {
			return err
		}
		defer sinks[i].srv.Close()
		if err := subscribeAll(ctx, in.svc, sinks[i].url, "e2e", 1); err != nil {
			return err
		}
	}
	rounds, seg := b.rounds()
	n := int(seg / time.Millisecond)
	b.progress("end-to-end latency at 1,000 events/s, %d rounds of %d events on each, alternating", rounds, n)
	var sent [2]int64
	for r := range rounds {
		for k := range 2 {
			j := (r + k + 1) % 2
			if failed := publishPaced(ctx, ins[j].url+"/messages", n, time.Millisecond, func(int) string { return "e2e" }); failed > 0 {
				return fmt.Errorf("end-to-end: %d publishes failed", failed)
			}
			sent[j] += int64(n)
			for deadline := time.Now().Add(30 * time.Second); sinks[j].count.Load() < sent[j]; {
				if time.Now().After(deadline) || ctx.Err() != nil {
					return fmt.Errorf("end-to-end: %d of %d delivered 30 s after the last publish", sinks[j].count.Load(), sent[j])
				}
				time.Sleep(time.Millisecond)
			}
		}
		b.progress("  round %d: delivered %d on JetStream, %d on bbolt", r+1, sinks[0].count.Load(), sinks[1].count.Load())
	}
	lat := [2][]time.Duration{sinks[0].latencies(), sinks[1].latencies()}
	for _, q := range []int{50, 99} {
		got, base := percentile(lat[0], q), percentile(lat[1], q)
		target := ""
		if q == 99 {
			target = "< 50 ms"
		}
		b.row(fmt.Sprintf("end-to-end latency p%d at 1,000 events/s", q), ms(got), ms(base), fmt.Sprintf("%.2f×", float64(got)/float64(base)), target)
	}
	return nil
}

// failoverPublishers is how many publishers the failover measure runs.
const failoverPublishers = 16

// An ackLog records when each publish was answered 202, and its text.
type ackLog struct {
	mu     sync.Mutex
	at     []time.Time
	texts  []string
	failed int
	first  string // the first failure
}

func (a *ackLog) acked(text string) {
	a.mu.Lock()
	a.at, a.texts = append(a.at, time.Now()), append(a.texts, text)
	a.mu.Unlock()
}

func (a *ackLog) fail(what string) {
	a.mu.Lock()
	if a.failed == 0 {
		a.first = what
	}
	a.failed++
	a.mu.Unlock()
}

func (a *ackLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

// pause returns the longest time without an acknowledgement that ends
// in (from, to]: how long publishing stopped around an event at from,
// until the next one at to.
func (a *ackLog) pause(from, to time.Time) time.Duration {
	a.mu.Lock()
	at := slices.Clone(a.at)
	a.mu.Unlock()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	var longest time.Duration
	for i := 1; i < len(at); i++ {
		// A pause belongs to the window it ends in: the one that ends
		// after to is the next window's (the step-down's window counted
		// the stopped server's pause too).
		if at[i].After(from) && !at[i].After(to) {
			longest = max(longest, at[i].Sub(at[i-1]))
		}
	}
	return longest
}

// natsFailover publishes over HTTP from failoverPublishers while the
// event stream's leader changes twice: first it steps down (a planned
// change), then its server is stopped (the cluster runs on two servers
// from then on, so this measure runs last). It reports the longest pause
// in acknowledgements after each, and reads the log back to check that
// every acknowledged event is in it, once.
func (b *bench) natsFailover(ctx context.Context, cl *jetstream.Cluster) error {
	const prefix = "failover"
	stream := prefix + "_events"
	in, st, err := b.startNATS(ctx, cl, prefix)
	if err != nil {
		return err
	}
	defer in.stop()
	nc, err := nats.Connect(strings.Join(cl.URLs(), ","), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	settle := max(b.cfg.duration, time.Second)
	b.progress("failover: %d publishers; the %s leader steps down, then its server stops", failoverPublishers, stream)
	var acks ackLog
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := benchClient(failoverPublishers)
	defer client.CloseIdleConnections()
	for p := range failoverPublishers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("p%d-%d", p, i)
				resp, err := client.Post(in.url+"/messages", "text/xml", bytes.NewReader(benchMessage("failover", text)))
				if err != nil {
					acks.fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					acks.acked(text)
				} else {
					acks.fail(fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, body))
				}
			}
		})
	}
	// waitAcks waits until publishing has gone on for settle past the
	// first acknowledgement after since (at most a minute).
	waitAcks := func(since int) error {
		for deadline := time.Now().Add(time.Minute); acks.count() == since; {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("failover: no acknowledgement for a minute")
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(settle)
		return nil
	}
	leader := func() *jetstream.Server {
		for _, s := range cl.Servers {
			if s.IsStreamLeader(stream) {
				return s
			}
		}
		return nil
	}
	fail := func(err error) error {
		close(stop)
		wg.Wait()
		return err
	}
	time.Sleep(settle)
	old := leader()
	tStep := time.Now()
	before := acks.count()
	if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 10*time.Second); err != nil {
		return fail(fmt.Errorf("failover: step down: %w", err))
	}
	if err := waitAcks(before); err != nil {
		return fail(err)
	}
	victim := leader()
	if victim == nil {
		return fail(fmt.Errorf("failover: %s has no leader after the step-down", stream))
	}
	b.progress("  leader moved from %s to %s; stopping %s", serverName(old), serverName(victim), victim.Name())
	tStop := time.Now()
	before = acks.count()
	victim.Shutdown()
	if err := waitAcks(before); err != nil {
		return fail(err)
	}
	b.progress("  new leader %s", serverName(leader()))
	close(stop)
	wg.Wait()
	tEnd := time.Now()
	stepPause, stopPause := acks.pause(tStep, tStop), acks.pause(tStop, tEnd)

	// Every acknowledged event must be in the log, once.
	stored := map[string]int{}
	for after := uint64(0); ; {
		evs, through, err := st.ReadEvents(ctx, after, 1024, "failover")
		if err != nil {
			return fmt.Errorf("failover: read back: %w", err)
		}
		for _, ev := range evs {
			stored[ev.Text]++
		}
		if len(evs) == 0 && through >= st.Head() {
			break
		}
		after = through
	}
	lost, dup := 0, 0
	for _, t := range acks.texts {
		switch n := stored[t]; {
		case n == 0:
			lost++
		case n > 1:
			dup += n - 1
		}
	}
	b.progress("  %d acknowledged, %d stored, %d lost, %d stored twice, %d publishes failed (first: %s)", len(acks.texts), len(stored), lost, dup, acks.failed, acks.first)
	label := fmt.Sprintf("publishing across a leader change, %d publishers: ", failoverPublishers)
	b.row(label+"longest pause, leader steps down", ms(stepPause), "n/a (one file)", "", "")
	b.row(label+"longest pause, leader's server stopped", ms(stopPause), "n/a (one file)", "", "")
	b.row(label+"acknowledged events lost", fmt.Sprintf("%d of %s", lost, thousands(len(acks.texts))), "", "", "0")
	b.row(label+"stored twice / publishes failed", fmt.Sprintf("%d / %d", dup, acks.failed), "", "", "")
	return nil
}

func serverName(s *jetstream.Server) string {
	if s == nil {
		return "none"
	}
	return s.Name()
}

package jetstream_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/store/eventcodec"
	"github.com/herald-eventing/herald/store/jetstream"
)

// BenchmarkAppend measures durable ingest at 1, 16 and 64 concurrent
// publishers: bbolt with fsync, one embedded JetStream server and a
// 3-node in-process cluster (R3), both fsyncing every write. Run with
//
//	go test ./store/jetstream -run '^$' -bench Append -benchtime 3s
func BenchmarkAppend(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) eventing.EventLog
	}{
		{"bbolt", func(b *testing.B) eventing.EventLog {
			db, err := store.Open(b.TempDir(), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db
		}},
		{"jetstream_R1", func(b *testing.B) eventing.EventLog {
			s, err := jetstream.Embedded(b.Context(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Shutdown)
			return openBench(b, []string{s.URL()}, 1)
		}},
		{"jetstream_R3", func(b *testing.B) eventing.EventLog {
			start := time.Now()
			c, err := jetstream.StartCluster(b.Context(), b.TempDir(), 3)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("3-node cluster formed in %v", time.Since(start))
			b.Cleanup(c.Shutdown)
			return openBench(b, c.URLs(), 3)
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			log := be.open(b)
			for _, publishers := range []int{1, 16, 64} {
				b.Run(fmt.Sprintf("publishers=%d", publishers), func(b *testing.B) {
					benchAppend(b, log, publishers)
				})
			}
		})
	}
}

func openBench(b *testing.B, urls []string, replicas int) eventing.EventLog {
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	defer cancel()
	st, err := jetstream.Open(ctx, jetstream.Options{URLs: urls, Replicas: replicas})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func benchAppend(b *testing.B, log eventing.EventLog, publishers int) {
	m := &eventing.Message{Topic: "bench", Text: "a benchmark event of a typical size, with some text in it", Info: "info"}
	var wg sync.WaitGroup
	per := (b.N + publishers - 1) / publishers
	b.ResetTimer()
	start := time.Now()
	for range publishers {
		wg.Go(func() {
			for range per {
				if _, err := log.Append(b.Context(), m, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(per*publishers)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkAppendVsRaw compares Store.Append with the raw durable publish
// it wraps (js.PublishMsg on its own connection, to the same stream and
// subject, with the same data, without and with Append's Nats-Msg-Id and
// expected stream), on one 3-node cluster at 64 publishers. The three
// alternate in rounds of a second (which goes first rotating), so that
// the machine's drift weighs on each alike, and each reports its median:
//
//	go test ./store/jetstream -run '^$' -bench AppendVsRaw -benchtime 1x
func BenchmarkAppendVsRaw(b *testing.B) {
	c, err := jetstream.StartCluster(b.Context(), b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Shutdown)
	log := openBench(b, c.URLs(), 3)
	nc, err := nats.Connect(strings.Join(c.URLs(), ","))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	m := &eventing.Message{Topic: "bench", Text: "a benchmark event of a typical size, with some text in it", Info: "info"}
	data := eventcodec.Encode(time.Now(), m)
	raw := func(msgID bool) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			msg := &nats.Msg{Subject: "herald.ev.bench", Data: data, Header: nats.Header{}}
			var opts []natsjs.PublishOpt
			if msgID {
				opts = append(opts, natsjs.WithMsgID(nuid.Next()), natsjs.WithExpectStream("herald_events"))
			}
			_, err := js.PublishMsg(ctx, msg, opts...)
			return err
		}
	}
	runs := []struct {
		name    string
		publish func(ctx context.Context) error
	}{
		{"raw", raw(false)},
		{"raw_msgid", raw(true)},
		{"append", func(ctx context.Context) error {
			_, err := log.Append(ctx, m, time.Now())
			return err
		}},
	}
	const publishers, rounds = 64, 5
	rates := make([][]float64, len(runs))
	for r := range rounds {
		for k := range runs {
			j := (r + k) % len(runs)
			v, err := publishFor(b.Context(), publishers, time.Second, runs[j].publish)
			if err != nil {
				b.Fatalf("%s: %v", runs[j].name, err)
			}
			rates[j] = append(rates[j], v)
		}
	}
	for j, run := range runs {
		b.Logf("%s: %v", run.name, rates[j])
		b.ReportMetric(medianOf(rates[j]), run.name+"_events/s")
	}
}

// publishFor calls publish from n goroutines for d and returns the rate.
func publishFor(ctx context.Context, n int, d time.Duration, publish func(context.Context) error) (float64, error) {
	var wg sync.WaitGroup
	var done atomic.Int64
	var first atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	for range n {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := publish(ctx); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return 0, err
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkWatchDelay measures how long after Append returned the Store's
// watchers get the event, at 1,000 appends a second on a 3-node cluster,
// beside an ordered consumer of the same stream placed on a follower (where
// the Store's consumer was two times in three before it moved it to the
// stream leader), in the same run. It reports the p50 and p99 of each:
//
//	go test ./store/jetstream -run '^$' -bench WatchDelay -benchtime 1x
func BenchmarkWatchDelay(b *testing.B) {
	ctx := b.Context()
	c, err := jetstream.StartCluster(ctx, b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Shutdown)
	st := openBench(b, c.URLs(), 3).(*jetstream.Store)
	nc, err := nats.Connect(strings.Join(c.URLs(), ","))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	var leader string
	for _, s := range c.Servers {
		if s.IsStreamLeader("herald_events") {
			leader = s.Name()
		}
	}
	if err := st.PlaceWatch(); err != nil {
		b.Fatal(err)
	}
	if on, err := st.WatchServer(ctx); err != nil || on != leader {
		b.Logf("the Store's watcher is on %s, not on the leader %s (%v)", on, leader, err)
	}
	var mu sync.Mutex
	got := map[string]map[uint64]time.Time{"store": {}, "follower": {}}
	st.Watch(func(evs []*eventing.Event) {
		now := time.Now()
		mu.Lock()
		for _, ev := range evs {
			got["store"][ev.Seq] = now
		}
		mu.Unlock()
	})
	for try := 0; ; try++ {
		cons, err := js.OrderedConsumer(ctx, "herald_events", natsjs.OrderedConsumerConfig{DeliverPolicy: natsjs.DeliverNewPolicy})
		if err != nil {
			b.Fatal(err)
		}
		cc, err := cons.Consume(func(m natsjs.Msg) {
			now := time.Now()
			if meta, err := m.Metadata(); err == nil {
				mu.Lock()
				got["follower"][meta.Sequence.Stream] = now
				mu.Unlock()
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if ci.Cluster != nil && ci.Cluster.Leader != leader {
			b.Cleanup(cc.Stop)
			break
		}
		cc.Stop()
		if try == 20 {
			b.Fatal("no consumer landed on a follower")
		}
	}
	acked := map[uint64]time.Time{}
	m := &eventing.Message{Topic: "bench", Text: "a benchmark event of a typical size, with some text in it", Info: "info"}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 2000 {
		<-tick.C
		wg.Go(func() {
			ev, err := st.Append(ctx, m, time.Now())
			now := time.Now()
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			acked[ev.Seq] = now
			mu.Unlock()
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := min(len(got["store"]), len(got["follower"]))
		mu.Unlock()
		if n >= len(acked) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, who := range []string{"store", "follower"} {
		var d []time.Duration
		for seq, a := range acked {
			if at, ok := got[who][seq]; ok {
				d = append(d, at.Sub(a))
			}
		}
		if len(d) < len(acked) {
			b.Errorf("%s: %d of %d events watched", who, len(d), len(acked))
			continue
		}
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, who+"_p50_ms")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, who+"_p99_ms")
	}
}

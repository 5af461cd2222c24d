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

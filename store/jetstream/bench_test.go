package jetstream_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
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

package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// BenchmarkAppend measures durable appends (fsync) from concurrent
// publishers: one op is one event.
func BenchmarkAppend(b *testing.B) {
	for _, publishers := range []int{1, 16, 64} {
		b.Run("publishers="+itoa(publishers), func(b *testing.B) {
			db, err := store.Open(b.TempDir(), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			m := &eventing.Message{Topic: "bench", InstanceID: "i-1", Text: "disk full", Info: "sda1"}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range publishers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := db.Append(b.Context(), m, time.Now()); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

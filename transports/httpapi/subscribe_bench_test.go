package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
)

// BenchmarkSubscribe_16Clients creates Cloud42 subscriptions (the seed
// request, each with its own topic and NotifyTo) over SOAP and HTTP from 16
// concurrent clients, into a real bbolt file: the path issue 12's subscribe
// rate measures. It reports subscribes/s.
func BenchmarkSubscribe_16Clients(b *testing.B) {
	h := httpapitest.Start(b, b.TempDir(), eventing.Options{})
	seed, err := os.ReadFile("../../testdata/subscribe-request-soap.xml")
	if err != nil {
		b.Fatal(err)
	}
	seedReq := string(seed)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				body := strings.Replace(seedReq, "myTopic", fmt.Sprintf("t-%d", i), 1)
				body = strings.Replace(body, "/monitor", fmt.Sprintf("/m/%d", i), 1)
				resp, err := client.Post(h.URL+"/eventing", soap12, strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "subscribes/s")
}

package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// The scale measures of issue 12: what many subscriptions cost at rest
// (memory, file, background CPU), how long a start takes to deliver, how
// long a shutdown takes, and how fast subscriptions are made over SOAP.

// scaleFigures are measured on the instance with many subscriptions of
// the publish-latency run (see publishLatency), so that the subscriptions
// are set up once.
type scaleFigures struct {
	subs                int
	rssBefore, rssAfter int64 // after a GC, before the seed and with the instance started
	file                int64
	startToDelivery     time.Duration
}

// measureStart starts the instance name (seeded with subs subscriptions)
// and measures the time from the start to the delivery of an event
// published to the last subscription's topic, as soon as the instance
// answers.
func (b *bench) measureStart(ctx context.Context, name string, subs int, s *sink) (*instance, time.Duration, error) {
	before := s.count.Load()
	t0 := time.Now()
	in, err := b.start(ctx, name, false)
	if err != nil {
		return nil, 0, err
	}
	loaded := time.Since(t0)
	client := benchClient(1)
	resp, err := client.Post(in.url+"/messages", "text/xml", bytes.NewReader(benchMessage(fmt.Sprintf("topic-%d", subs-1), "first")))
	if err != nil {
		in.stop()
		return nil, 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for s.count.Load() == before {
		if time.Since(t0) > 5*time.Minute {
			in.stop()
			return nil, 0, fmt.Errorf("no delivery to the last of %d subscriptions 5 minutes after the start", subs)
		}
		time.Sleep(time.Millisecond)
	}
	b.progress("%d subscriptions: started in %s, first delivery %s after the start", subs, loaded.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	return in, time.Since(t0), nil
}

// footprintScale is the smaller scale whose footprint the bench measures
// beside --subscriptions.
const footprintScale = 100000

// footprints measures memory, file and start to first delivery of
// instances beside the latency run's: footprintScale topic subscriptions
// (when --subscriptions is more), and --subscriptions of which every tenth
// has an XPath filter, each its own expression (pinned to its topic, as
// the dispatcher indexes them), the rest topic filters. Each instance is
// seeded, started, measured and stopped on its own.
func (b *bench) footprints(ctx context.Context) error {
	ns := map[string]string{"m": eventing.MessageNS}
	topics := func(i int) *eventing.FilterSpec { return eventing.TopicFilter(fmt.Sprintf("topic-%d", i)) }
	mixed := func(i int) *eventing.FilterSpec {
		if i%10 != 9 {
			return topics(i)
		}
		return &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Namespaces: ns,
			Expression: fmt.Sprintf("/m:message[m:topic='topic-%d' and m:instanceId='i-bench']", i)}
	}
	type scale struct {
		subs          int
		label, target string
		filter        func(int) *eventing.FilterSpec
	}
	var scales []scale
	if b.cfg.subs > footprintScale {
		scales = append(scales, scale{footprintScale, thousands(footprintScale) + " topic subscriptions", "", topics})
	}
	scales = append(scales, scale{b.cfg.subs, thousands(b.cfg.subs) + " subscriptions, 10 % XPath", "≤ 1.5 GiB at 1,000,000 (≤ 1,611 B each)", mixed})
	for _, sc := range scales {
		b.progress("footprint of %s (setting them up)", sc.label)
		s, err := newSink(nil)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("footprint-%d-%p", sc.subs, sc.filter)
		before := heapRSS()
		if err := b.seed(ctx, name, s.url, sc.subs, sc.filter); err != nil {
			s.srv.Close()
			return err
		}
		in, took, err := b.measureStart(ctx, name, sc.subs, s)
		if err != nil {
			s.srv.Close()
			return err
		}
		after, file := heapRSS(), fileSize(in.path)
		in.stop()
		s.srv.Close()
		b.row("RSS with "+sc.label+" (after GC)", fmt.Sprintf("%s (%.0f B each)", mib(after), float64(after-before)/float64(sc.subs)), mib(before), "", sc.target)
		b.row("bbolt file with "+sc.label, fmt.Sprintf("%s (%.0f B each)", mib(file), float64(file)/float64(sc.subs)), "", "", "")
		b.row("start to first delivery, "+sc.label, ms(took), "", "", "")
	}
	return nil
}

// heapRSS returns this process's RSS after a GC that returns freed memory
// to the system.
func heapRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rss("VmRSS")
}

// writeHeapProfile writes the heap profile --memprofile asks for.
func (b *bench) writeHeapProfile() error {
	if b.cfg.memprof == "" {
		return nil
	}
	f, err := os.Create(b.cfg.memprof)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

// cpuTime returns the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleCPU measures the CPU this process uses over d while in carries
// subs idle subscriptions and gets one event a second, to topic-0.
func (b *bench) idleCPU(ctx context.Context, in *instance, d time.Duration) (float64, error) {
	client := benchClient(1)
	runtime.GC()
	c0, t0 := cpuTime(), time.Now()
	for i := 0; time.Since(t0) < d; i++ {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		resp, err := client.Post(in.url+"/messages", "text/xml", bytes.NewReader(benchMessage("topic-0", "idle-"+strconv.Itoa(i))))
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(time.Until(t0.Add(time.Duration(i+1) * time.Second)))
	}
	return float64(cpuTime()-c0) / float64(time.Since(t0)), nil
}

// scaleRows adds the rows of the figures measured on the instance with
// many subscriptions.
func (b *bench) scaleRows(f scaleFigures, idle float64, shutdown time.Duration) {
	n := thousands(f.subs)
	per := float64(f.rssAfter-f.rssBefore) / float64(max(f.subs, 1))
	b.row(fmt.Sprintf("RSS with %s subscriptions (after GC)", n), fmt.Sprintf("%s (%.0f B each)", mib(f.rssAfter), per), mib(f.rssBefore), "", "≤ 1 GiB at 1,000,000 (≤ 1,074 B each)")
	b.row(fmt.Sprintf("bbolt file with %s subscriptions", n), fmt.Sprintf("%s (%.0f B each)", mib(f.file), float64(f.file)/float64(max(f.subs, 1))), "", "", "")
	b.row(fmt.Sprintf("start to first delivery, %s subscriptions", n), ms(f.startToDelivery), "", "", "≤ 3 s at 1,000,000")
	b.row(fmt.Sprintf("background CPU, %s idle subscriptions, 1 event/s", n), pct(idle)+" of a core", "", "", "< 5 % of a core")
	b.row(fmt.Sprintf("shutdown, %s subscriptions", n), ms(shutdown), "", "", "≤ --shutdown-timeout (10 s)")
}

// cloud42Subscribe is the Cloud42 seed's subscribe request
// (testdata/subscribe-request-soap.xml), with a topic and a NotifyTo per
// request.
const cloud42Subscribe = `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:web="http://webservice.cloud42.jw.de">
  <soap:Header/>
  <soap:Body>
    <web:subscribe>
      <web:subscriptionProcessor>
         de.jw.cloud42.core.eventing.subscriptionProcessor.SOAPSubscriptionProcessor
      </web:subscriptionProcessor>
      <web:topic>{{TOPIC}}</web:topic>
      <!-- web:subscriptionMessage contains the variable part -->
      <web:subscriptionMessage>
        <wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing">
          <wse:Delivery>
            <wse:NotifyTo>
              <wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">
                {{NOTIFY}}
              </wsa:Address>
            </wse:NotifyTo>
          </wse:Delivery>
        </wse:Subscribe>
      </web:subscriptionMessage>
    </web:subscribe>
  </soap:Body>
</soap:Envelope>`

// subscribeRate measures Cloud42 subscribes over SOAP (HTTP to
// /eventing, each with its own topic and NotifyTo, answered after fsync)
// from 16 concurrent clients.
func (b *bench) subscribeRate(ctx context.Context) error {
	const clients = 16
	d := b.cfg.duration
	b.progress("subscribe rate: %d clients for %s", clients, d)
	in, err := b.start(ctx, "subscribe", false)
	if err != nil {
		return err
	}
	defer in.stop()
	a, rest, _ := strings.Cut(cloud42Subscribe, "{{TOPIC}}")
	mid, c, _ := strings.Cut(rest, "{{NOTIFY}}")
	client := benchClient(2 * clients)
	var next, ok, bad atomic.Int64
	var firstBad atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := strconv.FormatInt(next.Add(1), 10)
				body := a + "sub-" + i + mid + "http://127.0.0.1:9/s/" + i + c
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, in.url+"/eventing", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, err.Error())
					continue
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && bytes.Contains(got, []byte("subscribeResponse")) {
					ok.Add(1)
				} else {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, got))
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		return fmt.Errorf("subscribe rate: %d of %d subscribes failed; first: %v", bad.Load(), bad.Load()+ok.Load(), firstBad.Load())
	}
	got := float64(ok.Load()) / time.Since(start).Seconds()
	b.row(fmt.Sprintf("subscribe rate, %d clients, Cloud42 over SOAP (subscriptions/s; %s made)", clients, thousands(int(ok.Load()))), rate(got), "", "", "≥ 5,000/s")
	return nil
}

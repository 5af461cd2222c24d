package main_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder is a subscriber that records the texts of the notifications it
// acknowledges, in arrival order.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	texts []string
}

var textRE = regexp.MustCompile(`<text>([^<]*)</text>`)

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if m := textRE.FindSubmatch(b); m != nil {
			r.mu.Lock()
			r.texts = append(r.texts, string(m[1]))
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...)
}

// TestCrash_AcknowledgedEventsSurviveSIGKILL publishes from several
// goroutines, kills Herald with SIGKILL mid-stream, restarts it and checks
// that every event that got a 202 reaches every matching subscriber at
// least once, in order per publisher, and that no subscription was lost.
func TestCrash_AcknowledgedEventsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	data := t.TempDir()
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	addr := serve.wait(t, `herald listening" addr=(\S+)`)
	server := "http://" + addr
	all1, all2, odd := newRecorder(t), newRecorder(t), newRecorder(t)
	ids := []string{
		runCmd(t, "subscribe", "--server", server, "--topic", "crash", "--notify-to", all1.URL),
		runCmd(t, "subscribe", "--server", server, "--topic", "crash", "--notify-to", all2.URL),
		firstLine(runCmd(t, "subscribe", "--server", server, "--notify-to", odd.URL, "--expires", "PT1H",
			"--filter", "/m:message[m:topic='crash' and (starts-with(m:text, 'p1-') or starts-with(m:text, 'p3-'))]")),
	}

	type ack struct{ pub, i int }
	var mu sync.Mutex
	var acked []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`<message xmlns="http://cloud42.jw.de/message"><topic>crash</topic><text>p%d-%05d</text></message>`, p, i)
				resp, err := client.Post(server+"/messages", "text/xml", bytes.NewReader([]byte(body)))
				if err != nil {
					return // Herald is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked = append(acked, ack{p, i})
					mu.Unlock()
				}
			}
		}()
	}
	// Kill Herald once a few hundred events were acknowledged.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 400 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events acknowledged in 30s", n)
		}
	}
	serve.cmd.Process.Signal(syscall.SIGKILL)
	<-serve.done
	close(stop)
	wg.Wait()

	serve = startProc(t, "serve", "--addr", addr, "--data", data)
	serve.wait(t, `herald listening`)
	want := map[*recorder][]string{}
	for _, a := range acked {
		text := fmt.Sprintf("p%d-%05d", a.pub, a.i)
		want[all1] = append(want[all1], text)
		want[all2] = append(want[all2], text)
		if a.pub == 1 || a.pub == 3 {
			want[odd] = append(want[odd], text)
		}
	}
	for name, r := range map[string]*recorder{"topic subscriber 1": all1, "topic subscriber 2": all2, "XPath subscriber": odd} {
		deadline := time.Now().Add(60 * time.Second)
		for {
			got := map[string]bool{}
			for _, s := range r.seen() {
				got[s] = true
			}
			var missing []string
			for _, w := range want[r] {
				if !got[w] {
					missing = append(missing, w)
				}
			}
			if len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d acknowledged events never arrived, e.g. %v", name, len(missing), len(want[r]), missing[:min(3, len(missing))])
			}
			time.Sleep(20 * time.Millisecond)
		}
		// In order per publisher: first arrivals of each publisher's
		// events are increasing.
		last := map[string]int{}
		first := map[string]bool{}
		for _, s := range r.seen() {
			if first[s] {
				continue
			}
			first[s] = true
			pub, n := s[:2], atoiSuffix(s)
			if prev, ok := last[pub]; ok && n < prev {
				t.Fatalf("%s: %s arrived after %s%05d", name, s, pub+"-", prev)
			}
			last[pub] = n
		}
		if name == "XPath subscriber" {
			for s := range first {
				if s[:2] != "p1" && s[:2] != "p3" {
					t.Fatalf("XPath subscriber got %s", s)
				}
			}
		}
	}
	t.Logf("%d events acknowledged before SIGKILL; all delivered after the restart", len(acked))
	for _, id := range ids {
		if out := runCmd(t, "status", "--server", server, id); !regexp.MustCompile(`subscription\s+` + regexp.QuoteMeta(id)).MatchString(out) {
			t.Fatalf("subscription %s lost:\n%s", id, out)
		}
	}
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func atoiSuffix(s string) int {
	n, _ := strconv.Atoi(s[3:])
	return n
}

package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/store/jetstream"
)

// post sends body to url and returns the status and the answer.
func post(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func seedFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var returnRE = regexp.MustCompile(`<(?:\w+:)?return>\s*([^<\s]+)\s*</`)

// herald serve --store nats://… keeps its subscriptions and events on a
// nats-server: a Cloud42 subscription made before a restart delivers
// after it, and nothing lands in --data.
func TestJetStream_ServeOnNATSSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ns, err := jetstream.Embedded(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	data := t.TempDir()
	args := func(addr string) []string {
		return []string{"serve", "--addr", addr, "--data", data, "--store", ns.URL(), "--replicas", "0"}
	}
	serve := startProc(t, args("127.0.0.1:0")...)
	addr := serve.wait(t, `herald listening" addr=(\S+)`)
	server := "http://" + addr
	serve.wait(t, `store on NATS JetStream`)

	rec := newRecorder(t)
	body := strings.Replace(seedFile(t, "subscribe-request-soap.xml"), "http://localhost:8085/monitor", rec.URL+"/monitor", 1)
	status, answer := post(t, server+"/eventing", "application/soap+xml; charset=utf-8", body)
	m := returnRE.FindStringSubmatch(answer)
	if status != http.StatusOK || m == nil || !strings.HasPrefix(m[1], "uuid:") {
		t.Fatalf("Cloud42 subscribe: HTTP %d\n%s", status, answer)
	}
	id := m[1]
	publish := func(text string) {
		t.Helper()
		ev := strings.Replace(seedFile(t, "event-message.xml"), "<text>message text</text>", "<text>"+text+"</text>", 1)
		if status, answer := post(t, server+"/messages", "text/xml", ev); status != http.StatusAccepted {
			t.Fatalf("publish %s: HTTP %d %s", text, status, answer)
		}
	}
	publish("before restart")
	waitTexts(t, rec, "before restart")

	serve.stop()
	serve = startProc(t, args(addr)...)
	serve.wait(t, `herald listening`)
	if out := runCmd(t, "status", "--server", server, id); !strings.Contains(out, id) {
		t.Fatalf("subscription %s lost across the restart:\n%s", id, out)
	}
	publish("after restart")
	waitTexts(t, rec, "before restart", "after restart")
	// Delivered once each: the first event is not sent again.
	time.Sleep(200 * time.Millisecond)
	if got := rec.seen(); !slices.Equal(got, []string{"before restart", "after restart"}) {
		t.Fatalf("deliveries %q; want each event once", got)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Fatalf("--store nats:// wrote into --data: %v", entries)
	}
}

// A --store that names no NATS server, or NATS flags without one, are
// refused with a message naming the flag.
func TestJetStream_StoreFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--store", "postgres://x"}, "--store \"postgres://x\": want nats://"},
		{[]string{"--store", ","}, "no server URL"},
		{[]string{"--nats-creds", "x.creds"}, "--nats-creds and --nats-tls-ca need --store nats://"},
		{[]string{"--store", "nats://127.0.0.1:4222", "--replicas", "-1"}, "--replicas -1"},
	} {
		r := execHerald(t, cmdOpts{}, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("serve %q: want a failure naming %q:\n%s", c.args, c.msg, r)
		}
	}
	r := execHerald(t, cmdOpts{env: []string{"HERALD_STORE=nats://h1:4222,h2:4222", "HERALD_REPLICAS=1"}}, "config")
	if r.code != 0 || !regexp.MustCompile(`store = "nats://h1:4222,h2:4222"\s+# env HERALD_STORE`).MatchString(r.stdout) || !strings.Contains(r.stdout, "replicas = 1") {
		t.Fatalf("herald config with HERALD_STORE:\n%s", r)
	}
}

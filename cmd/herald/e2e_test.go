package main_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests build the herald binary and drive it as separate
// processes, as a user would.

// A binary is a program the tests build once per run.
type binary struct {
	name, pkg string
	once      sync.Once
	path      string
	err       error
}

// get builds the binary on the first call and returns its path.
func (b *binary) get(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "herald-test-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, b.name)
		if out, err := exec.Command("go", "build", "-o", b.path, b.pkg).CombinedOutput(); err != nil {
			b.err, b.path = err, string(out)
		}
	})
	if b.err != nil {
		t.Fatalf("go build %s: %v\n%s", b.pkg, b.err, b.path)
	}
	return b.path
}

var heraldBinary = &binary{name: "herald", pkg: "."}

func herald(t *testing.T) string { t.Helper(); return heraldBinary.get(t) }

// proc is a running herald subcommand whose output lines are collected.
type proc struct {
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited
	mu    sync.Mutex
	lines []string
	grew  chan struct{}
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(herald(t), args...), grew: make(chan struct{}, 1), done: make(chan struct{})}
	startCmd(t, p)
	return p
}

// startCmd starts p's command and collects its output lines.
func startCmd(t *testing.T, p *proc) {
	t.Helper()
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.grew <- struct{}{}:
			default:
			}
		}
	}()
	go func() { p.cmd.Wait(); w.Close(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// output returns the lines collected so far.
func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// wait returns the first submatch of re in the output, waiting up to 20 s.
func (p *proc) wait(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if m := rx.FindStringSubmatch(l); m != nil {
				p.mu.Unlock()
				if len(m) > 1 {
					return m[1]
				}
				return m[0]
			}
		}
		out := strings.Join(p.lines, "\n")
		p.mu.Unlock()
		select {
		case <-p.grew:
		case <-deadline:
			t.Fatalf("no output matching %q; got:\n%s", re, out)
		}
	}
}

func runCmd(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, herald(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("herald %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestEndToEnd_ServeListenSubscribePublish(t *testing.T) {
	data := t.TempDir()
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	addr := serve.wait(t, `herald listening" addr=(\S+)`)
	server := "http://" + addr
	listen := startProc(t, "listen", "--addr", "127.0.0.1:0", "-v")
	sink := listen.wait(t, `listening on (\S+)`)

	id := runCmd(t, "subscribe", "--server", server, "--topic", "myTopic", "--notify-to", sink)
	if !regexp.MustCompile(`^uuid:[0-9a-f-]{36}$`).MatchString(id) {
		t.Fatalf("subscribe printed %q; want a uuid: id", id)
	}
	runCmd(t, "publish", "--server", server, "--topic", "myTopic", "--instance", "i-1", "--text", "disk full", "--info", "sda1")
	listen.wait(t, `notification topic="myTopic" instance="i-1" time="[^"]+" text="disk full" info="sda1"`)
	listen.wait(t, `wsa:Action: http://herald-eventing.github.io/ns/2026/herald/Notify`)

	// Herald restarts on the same data: the subscription is still there.
	serve.stop()
	serve = startProc(t, "serve", "--addr", addr, "--data", data)
	serve.wait(t, `herald listening`)
	runCmd(t, "publish", "--server", server, "--topic", "myTopic", "--text", "after restart")
	listen.wait(t, `text="after restart"`)

	if out := runCmd(t, "unsubscribe", "--server", server, id); !strings.Contains(out, id) {
		t.Fatalf("unsubscribe printed %q", out)
	}
	out, err := exec.Command(herald(t), "unsubscribe", "--server", server, id).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not known") {
		t.Fatalf("second unsubscribe: %v %s; want a failure saying the subscription is not known", err, out)
	}
}

func TestEndToEnd_WSEventingLifecycle(t *testing.T) {
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	listen := startProc(t, "listen", "--addr", "127.0.0.1:0")
	sink := listen.wait(t, `listening on (\S+)`)

	id := runCmd(t, "subscribe", "--server", server, "--notify-to", sink, "--end-to", sink,
		"--expires", "PT1H", "--filter", "/m:message[m:topic='disk' and contains(m:text, 'full')]")
	id = strings.SplitN(id, "\n", 2)[0]
	runCmd(t, "publish", "--server", server, "--topic", "disk", "--text", "almost empty")
	runCmd(t, "publish", "--server", server, "--topic", "disk", "--text", "sda1 full")
	listen.wait(t, `text="sda1 full"`)

	status := runCmd(t, "status", "--server", server, id)
	for _, want := range []string{"subscription  " + id, "processor     soap", "XPath /m:message", "end to        true", "delivered"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if out := runCmd(t, "renew", id, "--server", server, "--expires", "PT2H"); !strings.Contains(out, "renewed "+id+" until PT2H") {
		t.Errorf("renew printed %q", out)
	}
	runCmd(t, "cancel", "--server", server, "--reason", "maintenance", id)
	listen.wait(t, `subscription-end id="`+regexp.QuoteMeta(id)+`" status=SourceCancelling reason="maintenance"`)
	out, err := exec.Command(herald(t), "status", "--server", server, id).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "UnknownSubscription") {
		t.Fatalf("status after cancel: %v %s", err, out)
	}
}

func TestEndToEnd_HelpOnEveryCommand(t *testing.T) {
	for _, c := range []string{"serve", "config", "listen", "subscribe", "unsubscribe", "publish", "renew", "status", "cancel",
		"deadletters", "replay", "bench", "compact", "export", "import", "pull", "version", "keys create", "keys list", "keys revoke"} {
		args := append(strings.Fields(c), "--help")
		var stdout, stderr strings.Builder
		cmd := exec.Command(herald(t), args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil || stderr.Len() > 0 || !strings.Contains(stdout.String(), "Usage: herald "+c) {
			t.Errorf("herald %s --help: want its usage on stdout and exit 0; got %v\n%s\nstderr: %s", c, err, stdout.String(), stderr.String())
		}
	}
	out, err := exec.Command(herald(t), "bogus").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), `unknown command "bogus"`) {
		t.Errorf("herald bogus: %v %s", err, out)
	}
}

func TestEndToEnd_DeadLettersAndReplay(t *testing.T) {
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--retry-schedule", "")
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	var mu sync.Mutex
	failing := true
	var got []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got = append(got, string(b))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	id := runCmd(t, "subscribe", "--server", server, "--topic", "dl", "--notify-to", sink.URL)
	runCmd(t, "publish", "--server", server, "--topic", "dl", "--text", "first try fails")
	var list string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(list, "first try fails"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter:\n%s", list)
		}
		list = runCmd(t, "deadletters", "--server", server, id)
	}
	if !strings.Contains(list, "HTTP 503") {
		t.Errorf("dead letter does not show the last error:\n%s", list)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if out := runCmd(t, "replay", "--server", server, id); !strings.Contains(out, "replaying 1 dead letters") {
		t.Fatalf("replay printed %q", out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replayed dead letter was not delivered")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); runCmd(t, "deadletters", "--server", server, id) != "no dead letters"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the delivered dead letter is still listed")
		}
	}
}

// A replayed dead letter that fails again waits for its own next attempt;
// herald status shows it, also after a restart.
func TestEndToEnd_ReplayRetryInStatus(t *testing.T) {
	data := t.TempDir()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sink.Close()
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--retry-schedule", "")
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	id := runCmd(t, "subscribe", "--server", server, "--topic", "dl", "--notify-to", sink.URL)
	runCmd(t, "publish", "--server", server, "--topic", "dl", "--text", "fails")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(runCmd(t, "deadletters", "--server", server, id), "fails"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter")
		}
	}
	serve.stop()

	status := func(server string) string {
		var out string
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out, "replaying"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("status shows no replay:\n%s", out)
			}
			out = runCmd(t, "status", "--server", server, id)
		}
		return regexp.MustCompile(`replaying\s+(.*)`).FindStringSubmatch(out)[1]
	}
	serve = startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--retry-schedule", "1h")
	server = "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	runCmd(t, "replay", "--server", server, id)
	before := status(server)
	if !regexp.MustCompile(`^dead letter \d+ after 1 failed attempts, next at \S+$`).MatchString(before) {
		t.Fatalf("status shows replaying %q", before)
	}
	serve.stop()
	serve = startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--retry-schedule", "1h")
	server = "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	if after := status(server); after != before {
		t.Fatalf("after a restart status shows replaying %q; want %q", after, before)
	}
}

func TestEndToEnd_Compact(t *testing.T) {
	data := t.TempDir()
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	runCmd(t, "publish", "--server", server, "--topic", "t")
	out, err := exec.Command(herald(t), "compact", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "stop Herald first") {
		t.Fatalf("compact of a running server: %v %s", err, out)
	}
	serve.stop()
	if out := runCmd(t, "compact", "--data", data); !strings.Contains(out, "compacted") {
		t.Fatalf("compact printed %q", out)
	}
}

func TestEndToEnd_PullAndStream(t *testing.T) {
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	stream := startProc(t, "listen", "--stream", "--server", server, "--topic", "live")
	stream.wait(t, `following`)
	id := runCmd(t, "subscribe", "--server", server, "--processor", "pull", "--topic", "pulled")
	runCmd(t, "publish", "--server", server, "--topic", "pulled", "--text", "one")
	runCmd(t, "publish", "--server", server, "--topic", "pulled", "--text", "two")
	runCmd(t, "publish", "--server", server, "--topic", "live", "--text", "streamed")
	out := runCmd(t, "pull", "--server", server, id, "--max", "1")
	cursor := regexp.MustCompile(`cursor (\d+)`).FindStringSubmatch(out)
	if !strings.Contains(out, `text="one"`) || cursor == nil {
		t.Fatalf("pull printed:\n%s", out)
	}
	if again := runCmd(t, "pull", "--server", server, id, "--max", "1"); !strings.Contains(again, `text="one"`) {
		t.Fatalf("the same position gave:\n%s", again)
	}
	if next := runCmd(t, "pull", "--server", server, id, "--cursor", cursor[1]); !strings.Contains(next, `text="two"`) || strings.Contains(next, `text="one"`) {
		t.Fatalf("the next cursor gave:\n%s", next)
	}
	stream.wait(t, `event seq=\d+ topic="live" instance="[^"]*" time="[^"]+" text="streamed"`)
}

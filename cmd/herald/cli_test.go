package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of the command line's conventions: help, version, usage
// errors and exit statuses, --output json, stdin, --message-file.

// result is one finished herald command.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// cmdOpts are what a test gives a command besides its arguments.
type cmdOpts struct {
	stdin string
	env   []string // added to the environment
}

// execHerald runs herald and returns its output and exit status; stdin is
// empty (not a terminal) unless given.
func execHerald(t *testing.T, o cmdOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, herald(t), args...)
	cmd.Stdin = strings.NewReader(o.stdin)
	cmd.Env = append(cleanEnv(), o.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	r := result{stdout: out.String(), stderr: errb.String()}
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("herald %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// cleanEnv is this process's environment without HERALD_ variables, so
// that a developer's settings do not leak into the tests.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			env = append(env, kv)
		}
	}
	return env
}

// startServer starts herald serve on a free port and returns its URL.
func startServer(t *testing.T, args ...string) (string, *proc) {
	t.Helper()
	serve := startProc(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...)...)
	return "http://" + serve.wait(t, `herald listening" addr=(\S+)`), serve
}

func mustJSON(t *testing.T, r result) map[string]any {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want success:\n%s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line of JSON on stdout:\n%s", r)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r)
	}
	return m
}

func TestCLI_HelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{}, {"--help"}, {"-h"}, {"help"}} {
		r := execHerald(t, cmdOpts{}, args...)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "subscribe") || !strings.Contains(r.stdout, "publish") {
			t.Errorf("herald %v: want the command list on stdout, exit 0:\n%s", args, r)
		}
		for _, want := range []string{"Exit status:", "2  usage", "3  not found", "4  unauthorized"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("herald %v does not document the exit status (%q):\n%s", args, want, r.stdout)
			}
		}
	}
	for _, args := range [][]string{{"help", "subscribe"}, {"subscribe", "--help"}, {"subscribe", "-h"}} {
		r := execHerald(t, cmdOpts{}, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("herald %v: %s", args, r)
		}
		for _, want := range []string{"Usage: herald subscribe", "--topic", "--notify-to", "--message-file", "--processor", "--output FORMAT"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("herald %v lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
	if r := execHerald(t, cmdOpts{}, "help", "keys", "create"); r.code != 0 || !strings.Contains(r.stdout, "--role") {
		t.Errorf("herald help keys create:\n%s", r)
	}
	if r := execHerald(t, cmdOpts{}, "keys", "--help"); r.code != 0 || !strings.Contains(r.stdout, "keys revoke NAME") {
		t.Errorf("herald keys --help:\n%s", r)
	}
	if r := execHerald(t, cmdOpts{}, "help", "serve"); r.code != 0 || !strings.Contains(r.stdout, "--config") || !strings.Contains(r.stdout, "(HERALD_SMTP_PASSWORD)") {
		t.Errorf("herald help serve names neither --config nor each setting's environment variable:\n%s", r)
	}
}

func TestCLI_Version(t *testing.T) {
	line := regexp.MustCompile(`^herald (\S+) \(go1\.\d+[^)]*\)$`)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := execHerald(t, cmdOpts{}, args...)
		if r.code != 0 || !line.MatchString(strings.TrimSpace(r.stdout)) || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("herald %v: want one version line:\n%s", args, r)
		}
	}
	m := mustJSON(t, execHerald(t, cmdOpts{}, "version", "--output", "json"))
	if m["version"] == "" || !strings.HasPrefix(m["go"].(string), "go1.") {
		t.Errorf("version --output json: %v", m)
	}

	// A version set at link time, and the commit when built with VCS
	// stamping from a git work tree.
	if testing.Short() {
		return
	}
	bin := filepath.Join(t.TempDir(), "herald")
	build := exec.Command("go", "build", "-buildvcs=true", "-ldflags", "-X github.com/herald-eventing/herald/cmd/herald/cli.version=v1.2.3", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("no VCS-stamped build here (%v): %s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	want := regexp.MustCompile(`^herald v1\.2\.3 \(go1\.\d+[^,)]*\)$`)
	// The go command stamps the commit only in a plain clone (not, e.g.,
	// in a git worktree).
	if info, _ := exec.Command("go", "version", "-m", bin).Output(); strings.Contains(string(info), "vcs.revision=") {
		want = regexp.MustCompile(`^herald v1\.2\.3 \(go1\.\d+\S*, commit [0-9a-f]{12}, \d{4}-\d\d-\d\dT[^)]*\)$`)
	} else {
		t.Log("this build has no VCS stamp: not checking the commit")
	}
	if err != nil || !want.MatchString(strings.TrimSpace(string(out))) {
		t.Errorf("version of a stamped build: %v %q; want %s", err, out, want)
	}
}

// Every usage error: exit status 2, nothing on stdout, one line and a
// hint on stderr.
func TestCLI_UsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		msg  string // the first line, a regexp
		help string // the command the hint names
	}{
		{[]string{"subscribe", "--bogus"}, `^herald: unknown flag --bogus$`, "subscribe"},
		{[]string{"publish", "--topic", "t", "extra-arg"}, `unexpected argument "extra-arg"`, "publish"},
		{[]string{"publish", "--topic"}, `--topic needs a value`, "publish"},
		{[]string{"publish", "--text", "x"}, `--text goes with --topic`, "publish"},
		{[]string{"publish", "--topic", "t", "--text", "-", "--info", "-"}, `only one of --text and --info`, "publish"},
		{[]string{"pull", "uuid:x", "--max", "zero"}, `invalid value "zero" for --max`, "pull"},
		{[]string{"status"}, `give a subscription id`, "status"},
		{[]string{"status", "uuid:a", "uuid:b"}, `unexpected argument "uuid:b"`, "status"},
		{[]string{"status", "uuid:a", "--output", "yaml"}, `invalid value "yaml" for --output`, "status"},
		{[]string{"unsubscribe"}, `give a subscription id`, "unsubscribe"},
		{[]string{"renew", "a", "b"}, `unexpected argument "b"`, "renew"},
		{[]string{"cancel"}, `give a subscription id`, "cancel"},
		{[]string{"deadletters", "a", "b"}, `unexpected argument`, "deadletters"},
		{[]string{"replay", "a", "--since", "yesterday"}, `--since`, "replay"},
		{[]string{"subscribe", "--notify-to", "http://x/"}, `--topic is required`, "subscribe"},
		{[]string{"subscribe", "--topic", "t", "--processor", "sms", "--notify-to", "http://x/"}, `--notify-to goes with --processor soap`, "subscribe"},
		{[]string{"subscribe", "--topic", "t", "--message-file", "f.xml", "--notify-to", "http://x/"}, `leave out --notify-to`, "subscribe"},
		{[]string{"subscribe", "--topic", "t", "extra"}, `unexpected argument "extra"`, "subscribe"},
		{[]string{"keys"}, `give a subcommand`, "keys"},
		{[]string{"keys", "bogus"}, `unknown subcommand "bogus"`, "keys"},
		{[]string{"keys", "create"}, `--role is required`, "keys create"},
		{[]string{"keys", "list", "extra"}, `unexpected argument "extra"`, "keys list"},
		{[]string{"keys", "revoke"}, `give a key name`, "keys revoke"},
		{[]string{"listen", "extra"}, `unexpected argument`, "listen"},
		{[]string{"compact", "extra"}, `unexpected argument`, "compact"},
		{[]string{"bench", "extra"}, `unexpected argument`, "bench"},
		{[]string{"bench", "--store", "pg"}, `the bench knows only "nats"`, "bench"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`, "serve"},
		{[]string{"serve", "--bogus"}, `unknown flag --bogus`, "serve"},
		{[]string{"config", "extra"}, `unexpected argument`, "config"},
		{[]string{"version", "extra"}, `unexpected argument`, "version"},
		{[]string{"bogus"}, `unknown command "bogus"`, ""},
		{[]string{"sbuscribe"}, `did you mean "subscribe"`, ""},
		{[]string{"help", "bogus"}, `unknown command "bogus"`, ""},
		{[]string{"--bogus"}, `unknown flag --bogus`, ""},
	}
	for _, c := range cases {
		r := execHerald(t, cmdOpts{}, c.args...)
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		hint := "Run 'herald help' for usage."
		if c.help != "" {
			hint = "Run 'herald help " + c.help + "' for usage."
		}
		if r.code != 2 || r.stdout != "" || len(lines) != 2 || !regexp.MustCompile(c.msg).MatchString(lines[0]) || lines[1] != hint {
			t.Errorf("herald %s: want exit 2, %q and %q on stderr, nothing on stdout; got\n%s", strings.Join(c.args, " "), c.msg, hint, r)
		}
	}
}

func TestCLI_ExitStatus(t *testing.T) {
	const admin = "e2e-admin-key-exit-status-0123456789"
	serve := &proc{cmd: exec.Command(herald(t), "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--auth", "on"), grew: make(chan struct{}, 1), done: make(chan struct{})}
	serve.cmd.Env = append(cleanEnv(), "HERALD_ADMIN_KEY="+admin)
	startCmd(t, serve)
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	for _, c := range []struct {
		args []string
		key  string
		code int
		msg  string
	}{
		{[]string{"status", "uuid:00000000-0000-0000-0000-000000000000"}, admin, 3, "UnknownSubscription"},
		{[]string{"unsubscribe", "uuid:00000000-0000-0000-0000-000000000000"}, admin, 3, "not known"},
		{[]string{"keys", "revoke", "nobody"}, admin, 3, "HTTP 404"},
		{[]string{"status", "uuid:00000000-0000-0000-0000-000000000000"}, "hk_wrong", 4, "FailedAuthentication"},
		{[]string{"keys", "list"}, "hk_wrong", 4, "HTTP 401"},
		{[]string{"publish", "--topic", "t"}, "hk_wrong", 4, "FailedAuthentication"},
		{[]string{"subscribe", "--topic", "t", "--notify-to", "not a url"}, admin, 1, "herald: "},
	} {
		r := execHerald(t, cmdOpts{}, append(c.args, "--server", server, "--key", c.key)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("herald %s: want exit %d and %q; got\n%s", strings.Join(c.args, " "), c.code, c.msg, r)
		}
	}
	// Nothing listens: a network error.
	ln := httptest.NewServer(http.NotFoundHandler())
	gone := ln.URL
	ln.Close()
	if r := execHerald(t, cmdOpts{}, "status", "uuid:x", "--server", gone); r.code != 1 || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("status against a closed port: %s", r)
	}
}

func TestCLI_OutputJSON(t *testing.T) {
	server, _ := startServer(t, "--retry-schedule", "")
	srv := []string{"--server", server, "--output", "json"}
	var failing atomic.Bool
	failing.Store(true)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()

	sub := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"subscribe", "--topic", "j", "--notify-to", sink.URL}, srv...)...))
	id, _ := sub["id"].(string)
	if !strings.HasPrefix(id, "uuid:") || sub["topic"] != "j" {
		t.Fatalf("subscribe: %v", sub)
	}
	pub := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"publish", "--topic", "j", "--text", "dies"}, srv...)...))
	if seq, ok := pub["sequence"].(float64); !ok || seq < 1 || pub["topic"] != "j" {
		t.Fatalf("publish: %v", pub)
	}
	var dls []any
	for deadline := time.Now().Add(10 * time.Second); len(dls) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter")
		}
		m := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"deadletters", id}, srv...)...))
		dls, _ = m["deadLetters"].([]any)
		if m["id"] != id || dls == nil {
			t.Fatalf("deadletters: %v", m)
		}
	}
	if dl := dls[0].(map[string]any); dl["message"].(map[string]any)["text"] != "dies" || !strings.Contains(dl["error"].(string), "503") {
		t.Errorf("dead letter: %v", dl)
	}
	st := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"status", id}, srv...)...))
	if st["id"] != id || st["processor"] != "soap" || st["deadLetters"] != 1.0 || st["filter"].(map[string]any)["expression"] != "j" {
		t.Errorf("status: %v", st)
	}
	if at, _ := st["attempts"].([]any); len(at) == 0 || at[0].(map[string]any)["status"] != 503.0 {
		t.Errorf("status attempts: %v", st["attempts"])
	}
	failing.Store(false)
	rep := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"replay", id, "--wait", "--poll", "50ms"}, srv...)...))
	if rep["replaying"] != 1.0 || rep["delivered"] != 1.0 || rep["deadAgain"] != 0.0 {
		t.Errorf("replay --wait: %v", rep)
	}
	if m := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"cancel", id}, srv...)...)); m["id"] != id || m["cancelled"] != true {
		t.Errorf("cancel: %v", m)
	}

	wsub := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"subscribe", "--topic", "j", "--notify-to", sink.URL + "/w", "--expires", "PT1H"}, srv...)...))
	wid := wsub["id"].(string)
	if wsub["expires"] != "PT1H" {
		t.Errorf("WS-Eventing subscribe: %v", wsub)
	}
	if m := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"renew", wid, "--expires", "PT2H"}, srv...)...)); m["id"] != wid || m["expires"] != "PT2H" {
		t.Errorf("renew: %v", m)
	}
	if m := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"unsubscribe", wid}, srv...)...)); m["unsubscribed"] != true {
		t.Errorf("unsubscribe: %v", m)
	}

	pid := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"subscribe", "--topic", "p", "--processor", "pull"}, srv...)...))["id"].(string)
	stream := startProc(t, "listen", "--stream", "--server", server, "--topic", "p", "--output", "json")
	stream.wait(t, `following`)
	execHerald(t, cmdOpts{}, append([]string{"publish", "--topic", "p", "--text", "pulled"}, srv...)...)
	pr := mustJSON(t, execHerald(t, cmdOpts{}, append([]string{"pull", pid}, srv...)...))
	if evs, _ := pr["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["text"] != "pulled" || pr["cursor"] == "" {
		t.Errorf("pull: %v", pr)
	}
	line := stream.wait(t, `^\{.*"text":"pulled".*\}$`)
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["topic"] != "p" || ev["seq"] == nil {
		t.Errorf("listen --stream --output json printed %q (%v)", line, err)
	}

	// listen as a sink: one object per notification.
	listen := startProc(t, "listen", "--addr", "127.0.0.1:0", "--output", "json")
	lsink := listen.wait(t, `listening on (\S+)`)
	execHerald(t, cmdOpts{}, append([]string{"subscribe", "--topic", "l", "--notify-to", lsink}, srv...)...)
	execHerald(t, cmdOpts{}, append([]string{"publish", "--topic", "l", "--text", "heard", "--instance", "i-9"}, srv...)...)
	line = listen.wait(t, `^\{.*"kind":"notification".*\}$`)
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["text"] != "heard" || ev["instanceId"] != "i-9" {
		t.Errorf("listen --output json printed %q (%v)", line, err)
	}
}

func TestCLI_KeysOutputJSON(t *testing.T) {
	const admin = "e2e-admin-key-json-0123456789abcdef"
	serve := &proc{cmd: exec.Command(herald(t), "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--auth", "on"), grew: make(chan struct{}, 1), done: make(chan struct{})}
	serve.cmd.Env = append(cleanEnv(), "HERALD_ADMIN_KEY="+admin)
	startCmd(t, serve)
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	srv := []string{"--server", server, "--output", "json"}
	env := cmdOpts{env: []string{"HERALD_ADMIN_KEY=" + admin}}
	k := mustJSON(t, execHerald(t, env, append([]string{"keys", "create", "--role", "publisher", "--name", "ci", "--topics", "ci.*"}, srv...)...))
	if k["name"] != "ci" || !strings.HasPrefix(k["key"].(string), "hk_") {
		t.Fatalf("keys create: %v", k)
	}
	l := mustJSON(t, execHerald(t, env, append([]string{"keys", "list"}, srv...)...))
	if keys, _ := l["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["role"] != "publisher" || strings.Contains(jsonString(l), k["key"].(string)) {
		t.Errorf("keys list: %v", l)
	}
	if m := mustJSON(t, execHerald(t, env, append([]string{"keys", "revoke", "ci"}, srv...)...)); m["name"] != "ci" || m["revoked"] != true {
		t.Errorf("keys revoke: %v", m)
	}
}

const seedMessage = `<message xmlns="http://cloud42.jw.de/message"><topic>doc</topic><instanceId>i-doc</instanceId>` +
	`<timestamp>2026-11-22 10:00:00 GMT</timestamp><text>from a document</text><info>stdin</info></message>`

func TestCLI_PublishFromStdin(t *testing.T) {
	server, _ := startServer(t)
	rec := newRecorder(t)
	srv := []string{"--server", server}
	for _, topic := range []string{"doc", "piped", "info"} {
		if r := execHerald(t, cmdOpts{}, append([]string{"subscribe", "--topic", topic, "--notify-to", rec.URL}, srv...)...); r.code != 0 {
			t.Fatal(r)
		}
	}
	if r := execHerald(t, cmdOpts{stdin: seedMessage}, append([]string{"publish", "--output", "json"}, srv...)...); r.code != 0 || !strings.Contains(r.stdout, `"topic":"doc"`) {
		t.Fatalf("publish < document:\n%s", r)
	}
	if r := execHerald(t, cmdOpts{stdin: "disk full\n"}, append([]string{"publish", "--topic", "piped", "--text", "-"}, srv...)...); r.code != 0 {
		t.Fatalf("publish --text -:\n%s", r)
	}
	if r := execHerald(t, cmdOpts{stdin: "sda1\r\n"}, append([]string{"publish", "--topic", "info", "--text", "x", "--info", "-"}, srv...)...); r.code != 0 {
		t.Fatalf("publish --info -:\n%s", r)
	}
	waitTexts(t, rec, "from a document", "disk full", "x")

	// A document that is not a message is refused before it is sent.
	for _, c := range []struct{ doc, msg string }{
		{`<message xmlns="http://cloud42.jw.de/message"><text>no topic</text></message>`, "topic"},
		{`<message xmlns="http://cloud42.jw.de/message"><topic>t</topic>`, "stdin is not a message Herald accepts"},
		{``, "empty"},
	} {
		r := execHerald(t, cmdOpts{stdin: c.doc}, append([]string{"publish"}, srv...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("publish < %q: want exit 1 and one line naming %q:\n%s", c.doc, c.msg, r)
		}
	}
}

// waitTexts waits until rec received the texts, in any order.
func waitTexts(t *testing.T, rec *recorder, want ...string) {
	t.Helper()
	slices.Sort(want)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := rec.seen()
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %q; want %q", got, want)
		}
	}
}

func TestCLI_SubscribeMessageFile(t *testing.T) {
	server, _ := startServer(t)
	rec := newRecorder(t)
	srv := []string{"--server", server}
	msg := `<?xml version="1.0"?>
<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing">
  <wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">` + rec.URL + `/file</wsa:Address></wse:NotifyTo></wse:Delivery>
</wse:Subscribe>
`
	file := filepath.Join(t.TempDir(), "subscription.xml")
	os.WriteFile(file, []byte(msg), 0o644)
	r := execHerald(t, cmdOpts{}, append([]string{"subscribe", "--topic", "mf", "--processor", "soap", "--message-file", file}, srv...)...)
	if r.code != 0 || !regexp.MustCompile(`^uuid:\S+\n$`).MatchString(r.stdout) {
		t.Fatalf("subscribe --message-file:\n%s", r)
	}
	// From stdin, with the seed's processor alias and a second element
	// (the signing secret) next to the processor's.
	stdinMsg := strings.Replace(msg, "/file", "/stdin", 1) + `<h:Secret xmlns:h="http://herald-eventing.github.io/ns/2026/herald">s3cret</h:Secret>`
	r = execHerald(t, cmdOpts{stdin: stdinMsg}, append([]string{"subscribe", "--topic", "mf2", "--processor",
		"de.jw.cloud42.core.eventing.subscriptionProcessor.SOAPSubscriptionProcessor", "--message-file", "-", "--output", "json"}, srv...)...)
	id := mustJSON(t, r)["id"].(string)
	if st := mustJSON(t, execHerald(t, cmdOpts{}, "status", id, "--server", server, "--output", "json")); st["signed"] != true {
		t.Errorf("the secret in the message file did not sign the subscription: %v", st)
	}
	execHerald(t, cmdOpts{}, append([]string{"publish", "--topic", "mf", "--text", "via file"}, srv...)...)
	execHerald(t, cmdOpts{}, append([]string{"publish", "--topic", "mf2", "--text", "via stdin"}, srv...)...)
	waitTexts(t, rec, "via file", "via stdin")

	for _, c := range []struct{ content, msg string }{
		{`<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing">`, "is not XML"},
		{`just text`, "text outside any element"},
		{`<x:Nothing xmlns:x="urn:x"/>`, "herald: "}, // the processor's fault
	} {
		r := execHerald(t, cmdOpts{stdin: c.content}, append([]string{"subscribe", "--topic", "bad", "--message-file", "-"}, srv...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("subscribe --message-file - < %q: want exit 1 and %q:\n%s", c.content, c.msg, r)
		}
	}
}

func TestCLI_ConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "herald.toml")
	os.WriteFile(file, []byte(`# Herald's settings
addr = "127.0.0.1:0"
data = "`+filepath.Join(dir, "data")+`"
log-format = "json"
retention = "48h"
rate-publish = 5
smtp-from = "file@example.org"
smtp-password = "from-the-file"
allow-targets = ["10.0.0.0/8", "::1/128"]
end-subscriptions-on-shutdown = true
`), 0o644)

	// serve takes its settings from the file.
	serve := startProc(t, "serve", "--config", file)
	serve.wait(t, `"msg":"herald listening".*"addr":"127\.0\.0\.1:\d+"`)
	serve.stop()

	// One precedence: flag, environment, file, default.
	r := execHerald(t, cmdOpts{env: []string{"HERALD_RETENTION=1h", "HERALD_CONFIG=" + file, "HERALD_ADMIN_KEY=admin-secret", "HERALD_SMS_TOKEN=sms-secret"}},
		"config", "--rate-publish", "7", "--smtp-password", "flag-secret")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{
		`rate-publish = 7 +# flag`,
		`retention = "1h0m0s" +# env HERALD_RETENTION`,
		`smtp-from = "file@example.org" +# ` + regexp.QuoteMeta(file) + `:7`,
		`allow-targets = "10.0.0.0/8,::1/128" +# ` + regexp.QuoteMeta(file) + `:9`,
		`end-subscriptions-on-shutdown = true +# ` + regexp.QuoteMeta(file) + `:10`,
		`delivery-workers = 64 +# default`,
		`# smtp-password = \(redacted\) +# flag`,
		`# admin-key = \(redacted\) +# env HERALD_ADMIN_KEY`,
		`# sms-token = \(redacted\) +# env HERALD_SMS_TOKEN`,
	} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(r.stdout) {
			t.Errorf("herald config lacks a line %q:\n%s", want, r.stdout)
		}
	}
	for _, secret := range []string{"from-the-file", "flag-secret", "admin-secret", "sms-secret"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("herald config printed the secret %q:\n%s", secret, r.stdout)
		}
	}

	// herald config's output is a config file itself: read back, it gives
	// the same settings (the redacted secrets aside).
	again := filepath.Join(dir, "again.toml")
	os.WriteFile(again, []byte(r.stdout), 0o644)
	r2 := execHerald(t, cmdOpts{}, "config", "--config", again)
	values := func(out string) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "#") || regexp.MustCompile(`^(smtp-password|admin-key|sms-token) =`).MatchString(l) {
				continue // the header, and the secrets redacted in the first
			}
			keep = append(keep, regexp.MustCompile(`\s+#.*$`).ReplaceAllString(l, ""))
		}
		return strings.Join(keep, "\n")
	}
	if r2.code != 0 || values(r2.stdout) != values(r.stdout) {
		t.Errorf("the printed configuration read back differs:\n%s\nwant:\n%s", r2, r.stdout)
	}

	m := mustJSON(t, execHerald(t, cmdOpts{}, "config", "--config", file, "--output", "json"))
	found := 0
	for _, s := range m["settings"].([]any) {
		s := s.(map[string]any)
		switch s["name"] {
		case "smtp-password":
			found++
			if s["value"] != "(redacted)" || s["redacted"] != true {
				t.Errorf("config --output json: %v", s)
			}
		case "rate-publish":
			found++
			if s["value"] != 5.0 || s["source"] != file+":6" {
				t.Errorf("config --output json: %v", s)
			}
		}
	}
	if found != 2 || m["file"] != file {
		t.Errorf("config --output json: %v", m)
	}

	// Mistakes in the file name the key and the line.
	for _, c := range []struct{ content, msg string }{
		{"addr = \"127.0.0.1:0\"\n\nsmtp-pasword = \"x\"\n", `:3: unknown key "smtp-pasword" (did you mean "smtp-password"?)`},
		{"[smtp]\npassword = \"x\"\n", `:1: unknown key "smtp"`},
		{"retention = \"forever\"\n", `:1: invalid value "forever" for retention`},
		{"addr = \n", `:1: `},
	} {
		bad := filepath.Join(dir, "bad.toml")
		os.WriteFile(bad, []byte(c.content), 0o644)
		for _, cmd := range []string{"config", "serve"} {
			r := execHerald(t, cmdOpts{}, cmd, "--config", bad, "--data", filepath.Join(dir, "bad"))
			if r.code != 1 || !strings.Contains(r.stderr, bad+c.msg) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("herald %s --config with %q: want exit 1 and %q:\n%s", cmd, c.content, bad+c.msg, r)
			}
		}
	}
	if r := execHerald(t, cmdOpts{env: []string{"HERALD_DELIVERY_WORKERS=many"}}, "config"); r.code != 1 || !strings.Contains(r.stderr, "HERALD_DELIVERY_WORKERS") {
		t.Errorf("a bad environment variable: %s", r)
	}
}

package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: what the command is given as its
// terminal, and the side that reads what it drew.
func openPTY(t *testing.T) (term *os.File, read func() string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the terminal: %v", err)
	}
	var mu sync.Mutex
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once every copy of the terminal is closed
			}
		}
	}()
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	return s, func() string {
		// The command has exited: close our copy, then read to the end.
		if !closed {
			s.Close()
			closed = true
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

// runOnTerminal runs herald with its stderr (and stdin) on a terminal
// and returns stdout, what the terminal showed, and the error.
func runOnTerminal(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	term, read := openPTY(t)
	cmd := exec.Command(herald(t), args...)
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term, &stdout, term
	err := cmd.Run()
	return stdout.String(), read(), err
}

// A progress bar appears only on a terminal: compact and replay --wait
// draw one there, and print nothing of it into a pipe.
func TestTerminal_ProgressBars(t *testing.T) {
	data := t.TempDir()
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--retry-schedule", "")
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
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
	id := runCmd(t, "subscribe", "--server", server, "--topic", "bar", "--notify-to", sink.URL)
	for i := range 3 {
		runCmd(t, "publish", "--server", server, "--topic", "bar", "--text", fmt.Sprint("dies ", i))
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(runCmd(t, "deadletters", "--server", server, id), "dies 2"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dead letters")
		}
	}
	failing.Store(false)
	stdout, shown, err := runOnTerminal(t, "replay", id, "--server", server, "--wait", "--poll", "50ms")
	if err != nil || !strings.Contains(stdout, "replaying 3 dead letters") || !strings.Contains(stdout, "delivered 3, dead again 0") {
		t.Fatalf("replay --wait: %v\n%s", err, stdout)
	}
	if !strings.Contains(shown, "replaying") || !strings.Contains(shown, "\r") {
		t.Errorf("replay --wait drew no progress bar on the terminal: %q", shown)
	}
	serve.stop()

	stdout, shown, err = runOnTerminal(t, "compact", "--data", data)
	if err != nil || !strings.Contains(stdout, "compacted") {
		t.Fatalf("compact: %v\n%s", err, stdout)
	}
	if !strings.Contains(shown, "compacting") || !strings.Contains(shown, "\r") {
		t.Errorf("compact drew no progress bar on the terminal: %q", shown)
	}
	// Into a pipe: the result, and not a byte of a bar.
	r := execHerald(t, cmdOpts{}, "compact", "--data", data)
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "compacted") {
		t.Errorf("compact into a pipe:\n%s", r)
	}
}

// publish without --topic on a terminal does not wait for a document
// someone would have to type: it says what it wants.
func TestTerminal_PublishWithoutTopic(t *testing.T) {
	stdout, shown, err := runOnTerminal(t, "publish")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || stdout != "" || !strings.Contains(shown, "give --topic, or a <message> document on stdin") {
		t.Errorf("publish on a terminal: %v %q %q", err, stdout, shown)
	}
}

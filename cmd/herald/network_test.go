package main_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/transports/tlsconf/tlsconftest"
)

// closedBy reads from conn until the server closes it; it fails the test
// if the server still holds it open after limit (a generous safety net,
// not a measure of speed).
func closedBy(t *testing.T, conn net.Conn, limit time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still held the connection open after %s", limit)
	}
}

func TestNetwork_SlowBodyAndIdleConnectionsAreClosed(t *testing.T) {
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--read-timeout", "1s", "--idle-timeout", "1s", "--read-header-timeout", "1s")
	addr := serve.wait(t, `herald listening" addr=(\S+)`)

	// A body trickled byte by byte: the read timeout ends the request.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 500\r\n\r\n<")
	closedBy(t, slow, 20*time.Second)

	// An idle keep-alive connection after a complete request.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	closedBy(t, idle, 20*time.Second)

	// Headers that never end.
	hdr, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hdr.Close()
	io.WriteString(hdr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	closedBy(t, hdr, 30*time.Second)
}

func TestNetwork_NonLoopbackWithoutAuthRefusesToStart(t *testing.T) {
	out, err := exec.Command(herald(t), "serve", "--addr", "0.0.0.0:0", "--auth", "off", "--data", t.TempDir()).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "--insecure") {
		t.Fatalf("serve --addr 0.0.0.0:0 --auth off: %v %s; want a refusal that names --insecure", err, out)
	}
}

func TestNetwork_KeysFromTheCommandLine(t *testing.T) {
	const admin = "e2e-admin-key-0123456789abcdef"
	serve := &proc{cmd: exec.Command(herald(t), "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--auth", "on"), grew: make(chan struct{}, 1), done: make(chan struct{})}
	serve.cmd.Env = append(os.Environ(), "HERALD_ADMIN_KEY="+admin)
	startCmd(t, serve)
	t.Cleanup(serve.stop)
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)

	out := runCmd(t, "keys", "create", "--server", server, "--key", admin, "--role", "publisher", "--topics", "ci.*", "--name", "ci")
	lines := strings.Split(out, "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "hk_") {
		t.Fatalf("keys create printed %q; want the key on the last line", out)
	}
	runCmd(t, "publish", "--server", server, "--key", key, "--topic", "ci.build", "--text", "ok")
	if out, err := exec.Command(herald(t), "publish", "--server", server, "--key", key, "--topic", "other", "--text", "no").CombinedOutput(); err == nil {
		t.Fatalf("a publish outside the key's topics succeeded: %s", out)
	}
	if list := runCmd(t, "keys", "list", "--server", server, "--key", admin); !strings.Contains(list, "ci.*") || strings.Contains(list, key) {
		t.Fatalf("keys list: %s", list)
	}
	runCmd(t, "keys", "revoke", "--server", server, "--key", admin, "ci")
	if out, err := exec.Command(herald(t), "publish", "--server", server, "--key", key, "--topic", "ci.build").CombinedOutput(); err == nil || !strings.Contains(string(out), "FailedAuthentication") {
		t.Fatalf("a publish with a revoked key: %v %s; want a FailedAuthentication fault", err, out)
	}
	serve.mu.Lock()
	logged := slices.Clone(serve.lines)
	serve.mu.Unlock()
	for _, l := range logged {
		if strings.Contains(l, key) || strings.Contains(l, admin) {
			t.Fatalf("a key in the log: %s", l)
		}
	}
}

func TestNetwork_TLSWithHTTP2(t *testing.T) {
	ca := tlsconftest.NewCA(t)
	dir := t.TempDir()
	cert, key := ca.WriteFiles(t, dir, "server", "herald.test", []string{"localhost"}, tlsconftest.Loopback())
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--tls-cert", cert, "--tls-key", key)
	addr := serve.wait(t, `herald listening" addr=(\S+)`)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("GET /healthz over TLS: %d %s; want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	// Without the CA the certificate is not trusted: it really is TLS.
	if _, err := http.Get("https://" + addr + "/healthz"); err == nil {
		t.Fatal("a client without the test CA trusted the server")
	}
}

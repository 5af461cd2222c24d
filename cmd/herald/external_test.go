package main_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// copyTree copies the directory src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExternalProcessor builds Herald with a processor from a module that
// is not Herald's (testdata/pager, the example of docs/processors.md),
// without changing Herald, and subscribes with it.
func TestExternalProcessor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	copyTree(t, filepath.Join(repo, "testdata", "pager"), mod)
	gomod, _ := os.ReadFile(filepath.Join(mod, "go.mod"))
	gomod = bytes.ReplaceAll(gomod, []byte("=> ../.."), []byte("=> "+repo))
	os.WriteFile(filepath.Join(mod, "go.mod"), gomod, 0o644)
	// Herald's own go.sum covers every module the build needs, so the
	// build needs no checksum lookups.
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644)
	bin := filepath.Join(t.TempDir(), "herald-pager")
	build := exec.Command("go", "build", "-mod=mod", "-o", bin, "./cmd/herald-pager")
	build.Dir = mod
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building Herald with the pager processor: %v\n%s", err, out)
	}

	help, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	if !strings.Contains(string(help), "-pager-prefix") {
		t.Fatalf("serve --help does not offer the pager's setting:\n%s", help)
	}
	pages := make(chan string, 10)
	pager := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		pages <- string(b)
	}))
	defer pager.Close()

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--pager-prefix", "ALERT")
	p := &proc{cmd: cmd, grew: make(chan struct{}, 1), done: make(chan struct{})}
	startCmd(t, p)
	server := "http://" + p.wait(t, `herald listening" addr=(\S+)`)
	p.wait(t, `processors="?\[[^]]*pager`)

	sub := `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:web="http://webservice.cloud42.jw.de"><soap:Body><web:subscribe>
	  <web:subscriptionProcessor>com.example.PagerSubscriptionProcessor</web:subscriptionProcessor><web:topic>myTopic</web:topic>
	  <web:subscriptionMessage><p:Pager xmlns:p="urn:example:pager"><p:URL>` + pager.URL + `</p:URL></p:Pager></web:subscriptionMessage>
	</web:subscribe></soap:Body></soap:Envelope>`
	resp, err := http.Post(server+"/eventing", "application/soap+xml", strings.NewReader(sub))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "uuid:") {
		t.Fatalf("subscribe with the pager: %d %s", resp.StatusCode, body)
	}
	// The same from the command line: --message-file holds the pager's
	// subscriptionMessage (the second subscription, on another URL).
	msgFile := filepath.Join(t.TempDir(), "pager.xml")
	os.WriteFile(msgFile, []byte(`<p:Pager xmlns:p="urn:example:pager"><p:URL>`+pager.URL+`/cli</p:URL></p:Pager>`), 0o644)
	out, err := exec.Command(bin, "subscribe", "--server", server, "--topic", "myTopic", "--processor", "pager", "--message-file", msgFile).Output()
	if err != nil || !strings.HasPrefix(string(out), "uuid:") {
		t.Fatalf("herald subscribe --processor pager --message-file: %v %s", err, out)
	}
	// Without the message the pager's own fault says what it wants.
	bad := exec.Command(bin, "subscribe", "--server", server, "--topic", "myTopic", "--processor", "pager")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "p:Pager") {
		t.Fatalf("herald subscribe --processor pager without a message: %v %s", err, out)
	}
	// The pager's setting is in herald config, from its own variable.
	cfg := exec.Command(bin, "config")
	cfg.Env = append(os.Environ(), "PAGER_PREFIX=CONFIGURED")
	if out, err := cfg.Output(); err != nil || !regexp.MustCompile(`(?m)^pager-prefix = "CONFIGURED" +# env PAGER_PREFIX$`).Match(out) {
		t.Fatalf("herald config with PAGER_PREFIX: %v\n%s", err, out)
	}
	// The same processor through WS-Eventing, unchanged: in 2004/08 by
	// its delivery mode, in 2011 by h:Processor, its element in
	// wse:Delivery (each on a URL of its own, so none is merged).
	for _, ws := range []struct{ name, ns, delivery string }{
		{"2004/08", "http://schemas.xmlsoap.org/ws/2004/08/eventing",
			`<wse:Delivery Mode="http://herald-eventing.github.io/ns/2026/herald/delivery/pager"><p:Pager xmlns:p="urn:example:pager"><p:URL>` + pager.URL + `/wse2004</p:URL></p:Pager></wse:Delivery>`},
		{"2011", "http://www.w3.org/2011/03/ws-evt",
			`<wse:Delivery><h:Processor xmlns:h="http://herald-eventing.github.io/ns/2026/herald">pager</h:Processor><p:Pager xmlns:p="urn:example:pager"><p:URL>` + pager.URL + `/wse2011</p:URL></p:Pager></wse:Delivery><wse:Expires>PT1H</wse:Expires>`},
	} {
		env := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><wse:Subscribe xmlns:wse="` + ws.ns + `">` +
			ws.delivery + `<wse:Filter Dialect="http://herald-eventing.github.io/ns/2026/herald/dialects/topic">myTopic</wse:Filter></wse:Subscribe></s:Body></s:Envelope>`
		resp, err := http.Post(server+"/eventing", "application/soap+xml", strings.NewReader(env))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "SubscribeResponse") {
			t.Fatalf("WS-Eventing %s Subscribe with the pager: %d %s", ws.name, resp.StatusCode, body)
		}
	}
	seedMsg, _ := os.ReadFile(filepath.Join(repo, "testdata", "event-message.xml"))
	if resp, err := http.Post(server+"/messages", "text/xml", bytes.NewReader(seedMsg)); err != nil || resp.StatusCode != 202 {
		t.Fatalf("publish: %v", err)
	}
	for range 4 { // one page per subscription
		select {
		case page := <-pages:
			if page != "ALERT myTopic: message text" {
				t.Fatalf("page %q", page)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no page within 10s")
		}
	}
}

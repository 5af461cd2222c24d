package httpapi_test

import (
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/soap"
)

var update = flag.Bool("update", false, "rewrite the .golden files")

// herald is a running Herald over a real bbolt file and HTTP.
type herald struct {
	*httpapitest.Herald
	svc *eventing.Service
	db  *store.DB
	dir string
}

func start(t *testing.T, dir string, o eventing.Options) *herald {
	t.Helper()
	h := httpapitest.Start(t, dir, o)
	return &herald{Herald: h, svc: h.Service, db: h.DB, dir: h.Dir}
}

func (h *herald) stop() { h.Stop() }

type response struct {
	status int
	header http.Header
	body   string
}

func (h *herald) post(t *testing.T, path, ctype, body string, hdr ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

const soap12 = "application/soap+xml; charset=utf-8"

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// seed returns one of the seed's example messages, verbatim.
func seed(t *testing.T, name string) string {
	return readFile(t, filepath.Join("..", "..", "testdata", name))
}

// received is one request a sink got.
type received struct {
	header http.Header
	body   string
	env    *soap.Envelope
}

// sink is a NotifyTo endpoint: it records what it gets.
type sink struct {
	*httptest.Server
	ch     chan received
	status int
}

func newSink(t *testing.T) *sink { return newSinkOn(t, nil) }

// newSinkOn starts a sink on ln (a new loopback listener when nil).
func newSinkOn(t *testing.T, ln net.Listener) *sink {
	s := &sink{ch: make(chan received, 1000), status: http.StatusAccepted}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		env, _ := soap.Parse(b, 0)
		s.ch <- received{r.Header.Clone(), string(b), env}
		w.WriteHeader(s.status)
	}))
	if ln != nil {
		s.Listener.Close()
		s.Listener = ln
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *sink) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the sink received nothing within 10s")
	}
	return received{}
}

// nothing checks that the sink got nothing so far.
func (s *sink) nothing(t *testing.T) {
	t.Helper()
	select {
	case r := <-s.ch:
		t.Fatalf("unexpected delivery: %s", r.body)
	default:
	}
}

var (
	reUUID     = regexp.MustCompile(`uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	reDateTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reHost     = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
)

// normalize makes a response comparable with a golden file: ids, times
// and ports replaced, the XML indented.
func normalize(t *testing.T, s string) string {
	t.Helper()
	s = reUUID.ReplaceAllString(s, "uuid:ID")
	s = reDateTime.ReplaceAllString(s, "DATETIME")
	s = reHost.ReplaceAllString(s, "http://HOST")
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatalf("response is not XML: %v\n%s", err, s)
	}
	for _, c := range doc.Child {
		if pi, ok := c.(*etree.ProcInst); ok {
			doc.RemoveChild(pi)
		}
	}
	doc.Indent(2)
	out, _ := doc.WriteToString()
	return out
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// text returns the trimmed text at path in an envelope's body.
func bodyText(t *testing.T, env *soap.Envelope, path string) string {
	t.Helper()
	el := env.Body.FindElement(path)
	if el == nil {
		t.Fatalf("no %s in the body", path)
	}
	return strings.TrimSpace(el.Text())
}

func parse(t *testing.T, s string) *soap.Envelope {
	t.Helper()
	env, err := soap.Parse([]byte(s), 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return env
}

package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/soap"
)

// Budgets. One client run takes one to three seconds; these only stop a
// hung client from holding up the suite.
const (
	clientTimeout = 60 * time.Second // one client program, start to exit
	buildTimeout  = 90 * time.Second // wsimport + javac
	sinkTimeout   = 10 * time.Second // publish to notification
)

const (
	nsSOAP12    = "http://www.w3.org/2003/05/soap-envelope"
	topicPrefix = "interop-"
	// challenge is the WWW-Authenticate of Herald's 401.
	challenge = `Basic realm="herald", Bearer`
)

// python is Debian's interpreter, which has python3-zeep; not whatever
// python3 comes first on PATH.
const python = "/usr/bin/python3"

// jaxwsRuntime lists where the JAX-WS RI runtime jar may be (Debian's
// libjaxws-java; its manifest names the rest of the runtime); the
// environment variable HERALD_JAXWS_CLASSPATH overrides.
var jaxwsRuntime = []string{"/usr/share/java/jaxws-rt.jar", "/usr/share/jaxws/lib/jaxws-rt.jar"}

// jvmFlags are for the short-lived JVMs of TestJAXWS (wsimport, javac and
// every client run): only the C1 compiler, all that a run of a second or
// two profits from, and the serial collector. They take about a third off
// the test. wsimport gets them in WSIMPORT_OPTS (Debian's wsimport script
// reads it), javac as -J flags.
var jvmFlags = []string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"}

// requireTool skips the test when a client tool is missing, and fails it
// when CI=true: CI installs the tools (.ci/install-interop), so a missing
// one there is a broken setup, not a reason to pass quietly.
func requireTool(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...) + " (install with .ci/install-interop)"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and " + msg)
	}
	t.Skip(msg)
}

// heraldServer is Herald in process, over a real bbolt file and HTTP.
type heraldServer struct {
	URL string
	svc *eventing.Service
	db  *store.DB
	// keyring holds the keys when authorization is on; nil when off.
	keyring *access.Keyring
	// publisherKey is what publish sends as Bearer when authorization is
	// on.
	publisherKey string
}

// startHerald starts a Herald with authorization off, what a loopback-only
// server may run: every client is anonymous.
func startHerald(t *testing.T) *heraldServer {
	t.Helper()
	h := httpapitest.Start(t, "", eventing.Options{})
	return &heraldServer{URL: h.URL, svc: h.Service, db: h.DB}
}

// startAuthHerald starts a Herald with authorization on (herald serve
// --auth on): every operation but the WSDL and the schemas needs a key.
// Each client run gets a subscriber key of its own (see drive); the test
// publishes with a publisher key.
func startAuthHerald(t *testing.T) *heraldServer {
	t.Helper()
	h := httpapitest.StartAuth(t, "", eventing.Options{}, access.NewKey(), httpapi.Options{})
	_, secret, err := h.Keyring.Create(t.Context(), "interop-publisher", access.Publisher, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &heraldServer{URL: h.URL, svc: h.Service, db: h.DB, keyring: h.Keyring, publisherKey: secret}
}

// wseVersion is what a flow expects of the WS-Eventing version it
// speaks, where the two differ: the WSDL the client is made from, how
// Herald holds the subscription, and the fault of the Subscribe with
// Expires PT0S. The other steps expect the same of both: a granted
// duration as requested, GetStatus as an xs:dateTime, and
// UnknownSubscription in the 2011 namespace (2004/08 has none).
type wseVersion struct {
	// wsdl is the query of the WSDL the client reads: GET /eventing?{wsdl}.
	wsdl string
	// eventingNS and addressingNS are the Subscription's EventingNS and
	// AddressingNS, and the namespace of the notification's wsa:To;
	// checked only when check is set.
	check                    bool
	eventingNS, addressingNS string
	// expiresNS and expiresFault name the fault of the Subscribe with
	// Expires PT0S (no BestEffort).
	expiresNS, expiresFault string
}

var (
	// wse200408 is the WS-Eventing 2004/08 member submission, the
	// expectations of TestZeep and TestJAXWS.
	wse200408 = &wseVersion{wsdl: "wsdl", expiresNS: eventing.NS, expiresFault: "InvalidExpirationTime"}
	// wse2011 is the W3C Recommendation with WS-Addressing 1.0, the
	// expectations of TestZeep2011 and TestJAXWS2011: a subscription in the
	// 2011 namespace whose EPRs (and notifications) are WS-Addressing 1.0;
	// PT0S without BestEffort is UnsupportedExpirationValue (README,
	// "WS-Eventing 2004/08 and 2011").
	wse2011 = &wseVersion{wsdl: "wsdl=2011", check: true, eventingNS: eventing.NS2011, addressingNS: addressing.NS10,
		expiresNS: eventing.NS2011, expiresFault: "UnsupportedExpirationValue"}
)

func (h *heraldServer) wsdl() string { return h.wsdlFor(wse200408) }

// wsdlFor is the URL of the WSDL of version v.
func (h *heraldServer) wsdlFor(v *wseVersion) string { return h.URL + "/eventing?" + v.wsdl }

// publish POSTs a Cloud42 event message to the message endpoint.
func (h *heraldServer) publish(topic, text string) error {
	body := `<message xmlns="http://cloud42.jw.de/message"><topic>` + topic +
		`</topic><instanceId>i-interop</instanceId><text>` + text + `</text><info>interop test</info></message>`
	req, err := http.NewRequest(http.MethodPost, h.URL+"/messages", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml")
	if h.publisherKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.publisherKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("publish: HTTP %d %s", resp.StatusCode, b)
	}
	return nil
}

// delivery is one request the sink got.
type delivery struct {
	header http.Header
	body   []byte
}

// sink is the clients' NotifyTo endpoint. Each client run subscribes its own
// path (Herald merges subscriptions for the same NotifyTo), and waits on it.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	byPath map[string]chan delivery
}

func newSink(t *testing.T) *sink {
	s := &sink{byPath: map[string]chan delivery{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case s.path(r.URL.Path) <- delivery{r.Header.Clone(), b}:
		default: // nobody waits for that many: drop
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) path(p string) chan delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.byPath[p]
	if ch == nil {
		ch = make(chan delivery, 16)
		s.byPath[p] = ch
	}
	return ch
}

// step is one JSON line of a client.
type step struct {
	Client     string `json:"client"`
	Step       string `json:"step"`
	OK         bool   `json:"ok"`
	Error      string `json:"error"`
	Port       string `json:"port"`
	Address    string `json:"address"`
	Manager    string `json:"manager"`
	Identifier string `json:"identifier"`
	Expires    string `json:"expires"`
	Code       string `json:"code"`
	Subcode    string `json:"subcode"`
	Reason     string `json:"reason"`
	// Kind is how the step "anonymous" failed: "fault" (the client read
	// the SOAP fault) or "transport" (only the HTTP status).
	Kind string `json:"kind"`
	// Status and Challenge are the HTTP status and WWW-Authenticate of
	// the step's last response, as far as the client can tell.
	Status    string `json:"status"`
	Challenge string `json:"challenge"`
	// HTTPAuth and PasswordType are what the step's last request carried
	// (clients that report it: run.wire): the scheme of its Authorization
	// header and the Type of its wsse:UsernameToken/wsse:Password.
	HTTPAuth     string `json:"http_auth"`
	PasswordType string `json:"wsse_password_type"`
}

// run describes one client run.
type run struct {
	name string
	// wse is the WS-Eventing version the client speaks; nil is 2004/08.
	wse   *wseVersion
	soap  string // "1.1" or "1.2"
	argv  []string
	extra []string // appended after the common flags
	// cred is the credential the client sends: "" none (Herald has
	// authorization off), "basic" (HTTP Basic) or "wsse" (a WS-Security
	// UsernameToken). With one, drive gives the client a subscriber key of
	// its own (--auth cred, the key in HERALD_INTEROP_KEY) and the client
	// first makes its Subscribe without the credential (step "anonymous").
	cred string
	// anonymous is the Kind the client reports for that Subscribe: "fault"
	// (it read the wsse:FailedAuthentication fault sent with the 401) or
	// "transport" (it reports only the HTTP status).
	anonymous string
	// challenge: the client reports the 401's WWW-Authenticate.
	challenge bool
	// wire: the client reports what each request carried (HTTPAuth,
	// PasswordType) and each HTTP status.
	wire bool
}

// wsseNS is the WS-Security 1.0 namespace; passwordText the UsernameToken
// password type whose text is the key.
const (
	wsseNS       = soap.WSSE
	passwordText = soap.PasswordText
)

var reUUID = regexp.MustCompile(`^uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// drive runs one client program against h and checks every step it
// reports, in order: wsdl, subscribe, getstatus, renew, unsubscribe,
// fault-unknown, fault-expires, done; with a credential (run.cred) also
// anonymous after wsdl. The client waits for a go-ahead line on stdin after
// each step, so what Herald holds is checked before the next step changes
// it; after subscribe the test also publishes an event and checks that the
// client's NotifyTo got it.
func drive(t *testing.T, h *heraldServer, s *sink, r run) {
	t.Helper()
	started := time.Now()
	v := r.wse
	if v == nil {
		v = wse200408
	}
	slug := strings.NewReplacer("/", "-", " ", "-", ".", "").Replace(r.name)
	notifyPath := "/notify/" + slug
	notifyTo := s.URL + notifyPath
	topic := topicPrefix + slug
	text := "hello " + r.name

	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	argv := append(append([]string{}, r.argv...),
		"--wsdl", h.wsdlFor(v), "--notify-to", notifyTo, "--topic", topic, "--soap", r.soap)
	argv = append(argv, r.extra...)
	env := append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	// svcCtx is what the test asks Herald's Service with: as the client's
	// key when authorization is on, which the subscription must name as
	// its owner.
	svcCtx, owner := ctx, ""
	if (r.cred != "") != (h.keyring != nil) {
		t.Fatalf("%s: credential %q against a Herald with authorization %v", r.name, r.cred, h.keyring != nil)
	}
	if r.cred != "" {
		key, secret, err := h.keyring.Create(ctx, slug, access.Subscriber, nil)
		if err != nil {
			t.Fatal(err)
		}
		owner = key.ID
		svcCtx = access.WithPrincipal(ctx, key.Principal())
		argv = append(argv, "--auth", r.cred)
		env = append(env, "HERALD_INTEROP_KEY="+secret)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", argv[0], err)
	}
	// stop ends the client (if it is still running) and reaps it.
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stdin.Close()
			cancel()
			cmd.Wait()
		}
	}
	defer stop()
	var transcript []string
	fail := func(format string, args ...any) {
		t.Helper()
		stop()
		t.Fatalf("%s: %s\n--- client output\n%s\n--- client stderr\n%s", r.name, fmt.Sprintf(format, args...),
			strings.Join(transcript, "\n"), tail(stderr.String(), 6000))
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	next := func(want string) step {
		t.Helper()
		for lines.Scan() {
			line := lines.Text()
			if !strings.HasPrefix(line, "{") {
				continue // message dumps (HERALD_INTEROP_DUMP) and the like
			}
			transcript = append(transcript, line)
			var st step
			if err := json.Unmarshal([]byte(line), &st); err != nil {
				fail("bad output line %q: %v", line, err)
			}
			if !st.OK {
				fail("step %s failed: %s", st.Step, st.Error)
			}
			if st.Step != want {
				fail("step %s; want %s", st.Step, want)
			}
			if r.wire && want != "wsdl" && want != "done" {
				checkSent(r, st, fail)
			}
			return st
		}
		fail("the client stopped before step %s (%v)", want, errors.Join(lines.Err(), ctx.Err()))
		return step{}
	}
	goOn := func() {
		t.Helper()
		if _, err := io.WriteString(stdin, "go on\n"); err != nil {
			fail("telling the client to go on: %v", err)
		}
	}

	st := next("wsdl")
	if st.Address != h.URL+"/eventing" {
		fail("the WSDL's EventSource address is %q; want %q", st.Address, h.URL+"/eventing")
	}
	goOn()

	// The same Subscribe without the credential: refused with 401 and
	// wsse:FailedAuthentication, and nothing subscribed. Were Herald to
	// accept anonymous requests, the client would report it as a failed
	// step.
	if r.cred != "" {
		st = next("anonymous")
		if st.Status != "401" {
			fail("Subscribe without a credential: HTTP status %q; want 401", st.Status)
		}
		if st.Kind != r.anonymous {
			fail("Subscribe without a credential failed as %q (%s); want %q", st.Kind, st.Reason, r.anonymous)
		}
		if r.anonymous == "fault" {
			checkFault(r.soap, st, wsseNS, "FailedAuthentication", fail)
		}
		if r.challenge && st.Challenge != challenge {
			fail("Subscribe without a credential: WWW-Authenticate %q; want %q", st.Challenge, challenge)
		}
		if ids, err := h.db.SubscriptionsByTopic(ctx, topic); err != nil || len(ids) > 0 {
			fail("after Subscribe without a credential Herald holds %v on %s (%v)", ids, topic, err)
		}
		goOn()
	}

	// Subscribe: the response's SubscriptionManager EPR, and the
	// subscription as Herald holds it.
	st = next("subscribe")
	if st.Manager != h.URL+soap.ManagerPath {
		fail("SubscriptionManager address %q; want %q", st.Manager, h.URL+soap.ManagerPath)
	}
	if !reUUID.MatchString(st.Identifier) {
		fail("wse:Identifier %q is not a uuid: URI", st.Identifier)
	}
	if st.Expires != "PT10M" {
		fail("SubscribeResponse Expires %q; want the requested duration PT10M", st.Expires)
	}
	id := st.Identifier
	sub, err := h.svc.GetStatus(svcCtx, id)
	if err != nil {
		fail("Herald does not know the subscription %s: %v", id, err)
	}
	if sub.Owner != owner {
		fail("subscription owner %q; want %q (the client's key)", sub.Owner, owner)
	}
	if sub.Filter == nil || sub.Filter.Dialect != eventing.DialectTopic || sub.Filter.Expression != topic {
		fail("subscription filter %+v; want the topic %q", sub.Filter, topic)
	}
	if !strings.Contains(sub.Message, notifyTo) {
		fail("subscription does not notify %s: %s", notifyTo, sub.Message)
	}
	if v.check && (sub.EventingNS != v.eventingNS || sub.AddressingNS != v.addressingNS) {
		fail("subscription in WS-Eventing %q, WS-Addressing %q; want %q, %q", sub.EventingNS, sub.AddressingNS, v.eventingNS, v.addressingNS)
	}

	// A notification reaches the client's NotifyTo.
	if err := h.publish(topic, text); err != nil {
		fail("%v", err)
	}
	select {
	case d := <-s.path(notifyPath):
		checkNotification(t, d, notifyTo, topic, text, fail)
		if v.check {
			checkAddressing(d, v.addressingNS, fail)
		}
	case <-time.After(sinkTimeout):
		fail("the sink %s got no notification within %v", notifyTo, sinkTimeout)
	}
	goOn()

	st = next("getstatus")
	if exp, err := time.Parse(time.RFC3339Nano, st.Expires); err != nil {
		fail("GetStatus Expires %q is not an xs:dateTime: %v", st.Expires, err)
	} else if d := time.Until(exp); d < 8*time.Minute || d > 11*time.Minute {
		fail("GetStatus Expires %s is %v away; want about 10m", st.Expires, d)
	}
	goOn()

	st = next("renew")
	if st.Expires != "PT20M" {
		fail("RenewResponse Expires %q; want the requested duration PT20M", st.Expires)
	}
	if sub, err := h.svc.GetStatus(svcCtx, id); err != nil {
		fail("after Renew: %v", err)
	} else if d := time.Until(sub.Expires); d < 18*time.Minute || d > 21*time.Minute {
		fail("after Renew the lease ends in %v; want about 20m", d)
	}
	goOn()

	next("unsubscribe")
	if _, err := h.svc.GetStatus(svcCtx, id); err == nil {
		fail("the subscription %s is still there after Unsubscribe", id)
	}
	goOn()

	st = next("fault-unknown")
	checkFault(r.soap, st, eventing.NS2011, "UnknownSubscription", fail)
	if !strings.Contains(st.Reason, id) {
		fail("UnknownSubscription reason %q does not name %s", st.Reason, id)
	}
	goOn()

	st = next("fault-expires")
	checkFault(r.soap, st, v.expiresNS, v.expiresFault, fail)
	if st.Reason == "" {
		fail("%s has no reason", v.expiresFault)
	}
	goOn()

	next("done")
	stopped = true
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		fail("client exit: %v", err)
	}
	t.Logf("%s: %d steps in %v", r.name, len(transcript), time.Since(started).Round(time.Millisecond))
}

// checkSent checks what a wire-reporting client's request of step st
// carried: only r's credential, in r's form; for the anonymous Subscribe,
// none.
func checkSent(r run, st step, fail func(string, ...any)) {
	wantAuth, wantType := "", ""
	if st.Step != "anonymous" {
		switch r.cred {
		case "basic":
			wantAuth = "Basic"
		case "wsse":
			wantType = passwordText
		}
	}
	if st.HTTPAuth != wantAuth || st.PasswordType != wantType {
		fail("%s: the request had Authorization %q and UsernameToken password type %q; want %q and %q",
			st.Step, st.HTTPAuth, st.PasswordType, wantAuth, wantType)
	}
	wantStatus := "200"
	switch st.Step {
	case "anonymous":
		wantStatus = "401"
	case "fault-unknown", "fault-expires":
		wantStatus = map[string]string{"1.1": "500", "1.2": "400"}[r.soap]
	}
	if st.Status != wantStatus {
		fail("%s: HTTP status %s; want %s", st.Step, st.Status, wantStatus)
	}
}

// checkNotification checks the SOAP envelope the sink got: SOAP 1.2,
// addressed to NotifyTo, Herald's notify action, the event in the Body.
func checkNotification(t *testing.T, d delivery, notifyTo, topic, text string, fail func(string, ...any)) {
	t.Helper()
	env, err := soap.Parse(d.body, 0)
	if err != nil {
		fail("the notification is not a SOAP envelope: %v\n%s", err, d.body)
	}
	if env.Version != soap.V12 {
		fail("the notification is not SOAP 1.2:\n%s", d.body)
	}
	if ct := d.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/soap+xml") {
		fail("notification Content-Type %q", ct)
	}
	header := func(local string) string {
		if env.Header == nil {
			return ""
		}
		if el := env.Header.FindElement(local); el != nil {
			return strings.TrimSpace(el.Text())
		}
		return ""
	}
	if got := header("To"); got != notifyTo {
		fail("notification wsa:To %q; want %q\n%s", got, notifyTo, d.body)
	}
	if got := header("Action"); got != eventing.NotifyAction {
		fail("notification wsa:Action %q; want %q", got, eventing.NotifyAction)
	}
	msg := env.Payload()
	if msg == nil || msg.Tag != "message" || msg.NamespaceURI() != eventing.MessageNS {
		fail("the notification body is not a Cloud42 message:\n%s", d.body)
	}
	for local, want := range map[string]string{"topic": topic, "text": text} {
		el := msg.FindElement(local)
		if el == nil || strings.TrimSpace(el.Text()) != want {
			fail("notification message/%s is not %q:\n%s", local, want, d.body)
		}
	}
}

// checkAddressing checks that the notification's wsa:To is in WS-Addressing
// namespace ns, the subscriber's.
func checkAddressing(d delivery, ns string, fail func(string, ...any)) {
	env, err := soap.Parse(d.body, 0)
	if err != nil || env.Header == nil {
		fail("the notification has no SOAP header: %v\n%s", err, d.body)
	}
	to := env.Header.FindElement("To")
	if to == nil || to.NamespaceURI() != ns {
		fail("the notification's wsa:To is not in %s:\n%s", ns, d.body)
	}
}

// checkFault checks a fault a client read: SOAP 1.2 as Code Sender with
// the subcode; SOAP 1.1 with the subcode as faultcode (the WS-Addressing
// convention Herald follows).
func checkFault(soapVersion string, st step, ns, local string, fail func(string, ...any)) {
	subcode := "{" + ns + "}" + local
	if soapVersion == "1.2" {
		if st.Code != "{"+nsSOAP12+"}Sender" || st.Subcode != subcode {
			fail("%s: code %s subcode %s; want Sender / %s", st.Step, st.Code, st.Subcode, subcode)
		}
		return
	}
	if st.Code != subcode {
		fail("%s: faultcode %s; want %s", st.Step, st.Code, subcode)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestZeep drives Herald with Python zeep (Debian's python3-zeep) from the
// published WSDL, on the SOAP 1.2 and the SOAP 1.1 ports, with zeep's own
// WS-Addressing 1.0 headers: anonymously against a Herald with
// authorization off (the loopback default), then against one with
// authorization on, with HTTP Basic (requests' HTTPBasicAuth on the
// session zeep's Transport uses) and with a WS-Security UsernameToken
// (zeep.wsse, PasswordText, no HTTP credential). zeep reads the
// wsse:FailedAuthentication fault Herald sends with the 401 to the
// Subscribe without a credential (zeep.exceptions.Fault, not a
// TransportError: the 401 has a SOAP body). A zeep run takes under a
// second, so every variant runs the whole flow.
func TestZeep(t *testing.T) {
	script := zeepTool(t, "zeep_client.py")
	h, ha := startHerald(t), startAuthHerald(t)
	s := newSink(t)
	for _, v := range []string{"1.2", "1.1"} {
		t.Run("SOAP"+v, func(t *testing.T) {
			drive(t, h, s, run{name: "zeep SOAP " + v, soap: v, argv: []string{python, script}, wire: true})
		})
	}
	for _, c := range []struct{ name, cred string }{{"Basic", "basic"}, {"UsernameToken", "wsse"}} {
		for _, v := range []string{"1.2", "1.1"} {
			t.Run(c.name+"/SOAP"+v, func(t *testing.T) {
				drive(t, ha, s, run{name: "zeep " + c.name + " SOAP " + v, soap: v, argv: []string{python, script},
					cred: c.cred, anonymous: "fault", challenge: true, wire: true})
			})
		}
	}
}

// TestZeep2011 is TestZeep in WS-Eventing 2011: testdata/zeep_client_2011.py
// reads GET /eventing?wsdl=2011 and runs drive's whole flow with wse2011's
// expectations, with zeep's WS-Addressing 1.0 headers, on the SOAP 1.2 and
// SOAP 1.1 ports: anonymously, and against a Herald with authorization on
// with HTTP Basic and with a WS-Security UsernameToken.
func TestZeep2011(t *testing.T) {
	script := zeepTool(t, "zeep_client_2011.py")
	h, ha := startHerald(t), startAuthHerald(t)
	s := newSink(t)
	for _, v := range []string{"1.2", "1.1"} {
		t.Run("SOAP"+v, func(t *testing.T) {
			drive(t, h, s, run{name: "zeep 2011 SOAP " + v, wse: wse2011, soap: v, argv: []string{python, script}, wire: true})
		})
	}
	for _, c := range []struct{ name, cred string }{{"Basic", "basic"}, {"UsernameToken", "wsse"}} {
		for _, v := range []string{"1.2", "1.1"} {
			t.Run(c.name+"/SOAP"+v, func(t *testing.T) {
				drive(t, ha, s, run{name: "zeep 2011 " + c.name + " SOAP " + v, wse: wse2011, soap: v, argv: []string{python, script},
					cred: c.cred, anonymous: "fault", challenge: true, wire: true})
			})
		}
	}
}

// zeepTool checks for Debian's python3 with zeep (requireTool) and returns
// the absolute path of the client script testdata/{name}.
func zeepTool(t *testing.T, name string) string {
	t.Helper()
	_, statErr := os.Stat(python)
	requireTool(t, statErr == nil, "%s is missing", python)
	out, err := exec.Command(python, "-c", "import zeep").CombinedOutput()
	requireTool(t, err == nil, "%s cannot import zeep (Debian package python3-zeep): %s", python, strings.TrimSpace(string(out)))
	script, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// TestJAXWS generates a client with wsimport -extension from the WSDL
// Herald serves, compiles it with the JDK and runs it with
// javax.xml.ws.soap.AddressingFeature (WS-Addressing 1.0) and with
// com.sun.xml.ws.developer.MemberSubmissionAddressingFeature
// (WS-Addressing 2004/08), each on the SOAP 1.2 and SOAP 1.1 ports:
// anonymously against a Herald with authorization off (the loopback
// default), then against one with authorization on, with HTTP Basic
// (BindingProvider.USERNAME_PROPERTY and PASSWORD_PROPERTY on the request
// context). The RI reports the 401 to the Subscribe without a credential
// as a ClientTransportException with the HTTP status, on both SOAP
// versions: it reads a response body only with 200, 202, 500 and (SOAP
// 1.2) 400, so it never sees the wsse:FailedAuthentication fault; the
// status and WWW-Authenticate are in its response context.
//
// Both sets run the whole flow rather than the authenticated one and a
// short anonymous smoke: the client is built once, and a run takes one to
// three seconds, so the four runs with Basic add about five to ten seconds:
// with the 2011 tests the package takes about 45 s with -race on two
// cores.
func TestJAXWS(t *testing.T) {
	tools, classpath := jaxwsTools(t)
	h, ha := startHerald(t), startAuthHerald(t)
	s := newSink(t)

	// wsimport against the WSDL that the Herald with authorization on
	// serves without a key, then one javac for the generated sources and
	// the client.
	classes := buildJAXWS(t, tools, classpath, ha.wsdl(), filepath.Join("testdata", "jaxws", "HeraldInterop.java"))

	java := append(append([]string{tools["java"]}, jvmFlags...), "-cp", classes+string(os.PathListSeparator)+classpath, "HeraldInterop")
	for _, tt := range []struct{ addressing, soap string }{
		{"w3c", "1.2"}, {"w3c", "1.1"}, {"member", "1.2"}, {"member", "1.1"},
	} {
		name := map[string]string{"w3c": "WSA10", "member": "WSA200408"}[tt.addressing] + "/SOAP" + tt.soap
		t.Run(name, func(t *testing.T) {
			drive(t, h, s, run{name: "jaxws " + name, soap: tt.soap, argv: java, extra: []string{"--addressing", tt.addressing}})
		})
	}
	for _, tt := range []struct{ addressing, soap string }{
		{"w3c", "1.2"}, {"w3c", "1.1"}, {"member", "1.2"}, {"member", "1.1"},
	} {
		name := "Basic/" + map[string]string{"w3c": "WSA10", "member": "WSA200408"}[tt.addressing] + "/SOAP" + tt.soap
		t.Run(name, func(t *testing.T) {
			drive(t, ha, s, run{name: "jaxws " + name, soap: tt.soap, argv: java, extra: []string{"--addressing", tt.addressing},
				cred: "basic", anonymous: "transport", challenge: true})
		})
	}
}

// TestJAXWS2011 is TestJAXWS in WS-Eventing 2011: wsimport -extension
// against GET /eventing?wsdl=2011 (the ws-evt 2011 schema, WS-Addressing
// 1.0 EPRs as javax.xml.ws.wsaddressing.W3CEndpointReference, the
// reference parameter h:SubscriptionId as the header parameter wsimport
// makes of the WSDL's soap:header part), and testdata/jaxws2011's client
// with AddressingFeature (2011 is WS-Addressing 1.0 only), on the SOAP 1.2
// and SOAP 1.1 ports: anonymously, and with HTTP Basic against a Herald
// with authorization on. The whole flow of drive, with wse2011's
// expectations. Its own wsimport and javac (the two WSDLs' Herald
// extension classes would collide in one tree) add about five seconds.
func TestJAXWS2011(t *testing.T) {
	tools, classpath := jaxwsTools(t)
	h, ha := startHerald(t), startAuthHerald(t)
	s := newSink(t)
	classes := buildJAXWS(t, tools, classpath, ha.wsdlFor(wse2011), filepath.Join("testdata", "jaxws2011", "HeraldInterop2011.java"))

	java := append(append([]string{tools["java"]}, jvmFlags...), "-cp", classes+string(os.PathListSeparator)+classpath, "HeraldInterop2011")
	for _, v := range []string{"1.2", "1.1"} {
		name := "WSA10/SOAP" + v
		t.Run(name, func(t *testing.T) {
			drive(t, h, s, run{name: "jaxws 2011 " + name, wse: wse2011, soap: v, argv: java})
		})
	}
	for _, v := range []string{"1.2", "1.1"} {
		name := "Basic/WSA10/SOAP" + v
		t.Run(name, func(t *testing.T) {
			drive(t, ha, s, run{name: "jaxws 2011 " + name, wse: wse2011, soap: v, argv: java,
				cred: "basic", anonymous: "transport", challenge: true})
		})
	}
}

// jaxwsTools finds wsimport, javac and java on PATH and the JAX-WS RI
// runtime (requireTool: skipped, or with CI=true failed, when one is
// missing).
func jaxwsTools(t *testing.T) (tools map[string]string, classpath string) {
	t.Helper()
	var missing []string
	tools = map[string]string{}
	for _, tool := range []string{"wsimport", "javac", "java"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			missing = append(missing, tool)
		}
		tools[tool] = p
	}
	requireTool(t, len(missing) == 0, "%s not on PATH (Debian packages jaxws, libjaxws-java and a JDK)", strings.Join(missing, ", "))
	classpath = os.Getenv("HERALD_JAXWS_CLASSPATH")
	if classpath == "" {
		for _, jar := range jaxwsRuntime {
			if _, err := os.Stat(jar); err == nil {
				classpath = jar
				break
			}
		}
	}
	requireTool(t, classpath != "", "no JAX-WS RI runtime at %s (Debian package libjaxws-java; or set HERALD_JAXWS_CLASSPATH)", strings.Join(jaxwsRuntime, " or "))
	return tools, classpath
}

// buildJAXWS runs wsimport -extension against wsdl, then one javac for the
// generated sources and the client source file, and returns the directory
// of the classes.
func buildJAXWS(t *testing.T, tools map[string]string, classpath, wsdl, clientSource string) string {
	t.Helper()
	built := time.Now()
	dir := t.TempDir()
	src, classes := filepath.Join(dir, "src"), filepath.Join(dir, "classes")
	for _, d := range []string{src, classes} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	build := func(name string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, tools[name], args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "WSIMPORT_OPTS="+strings.TrimSpace(os.Getenv("WSIMPORT_OPTS")+" "+strings.Join(jvmFlags, " ")))
		cmd.WaitDelay = 5 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 8000))
		}
	}
	build("wsimport", "-extension", "-Xnocompile", "-quiet", "-s", src, "-d", classes, wsdl)
	client, err := filepath.Abs(clientSource)
	if err != nil {
		t.Fatal(err)
	}
	sources := []string{client}
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".java") {
			sources = append(sources, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) < 10 {
		t.Fatalf("wsimport generated only %d sources", len(sources)-1)
	}
	javac := []string{"-nowarn", "-encoding", "UTF-8", "-cp", classpath, "-d", classes}
	for _, f := range jvmFlags {
		javac = append(javac, "-J"+f)
	}
	build("javac", append(javac, sources...)...)
	t.Logf("wsimport + javac: %d generated sources in %v", len(sources)-1, time.Since(built).Round(time.Millisecond))
	return classes
}

package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// The cluster tests run three nats-server processes as one JetStream
// cluster and three herald serve processes on it, all on loopback, and
// break them: kill -9 a stream leader and a Herald node, cut a node off
// from NATS, restart every node in turn. They check what the partition
// leases promise (each subscription delivered by one node at a time, a
// dead node's partitions moved after --lease-ttl, a cut-off node fenced
// before it, a clean shutdown handing over at once):
//
//   - every event answered 202 reaches every subscription of its topic;
//   - per subscription, first deliveries keep each publisher's order;
//   - every delivery of one event to one subscription carries the same
//     wsa:MessageID, and a repeat happens only around a failure (see
//     disruption);
//   - delivery resumes within --lease-ttl and a few seconds.
//
// The subscribers fail 5 % of requests with a 500, so retries run all
// along.

const (
	// clusterLeaseTTL is the --lease-ttl the nodes run with.
	clusterLeaseTTL = 3 * time.Second
	// resumeBound is how long after a failure every subscription must be
	// delivered to again: the lease TTL, a stream leader election
	// (measured 0.1–5 s) and a retry or two.
	resumeBound = clusterLeaseTTL + 5*time.Second
	// loadSlack widens the failover's bound for a machine that runs the
	// other packages' tests (-race) beside this one: the bound is a check
	// that delivery resumes after the TTL, not a benchmark; the measured
	// stall is logged.
	loadSlack = 5 * time.Second
	// unsavedWindow is how far back a dead or cut-off node's deliveries
	// may be repeated: cursors are saved every 200 ms, and a save fails
	// for as long as the bucket's leader election lasts.
	unsavedWindow = 6 * time.Second
	// inFlight is how long after a kill or a handover a delivery sent
	// before it may still reach a subscriber.
	inFlight = 500 * time.Millisecond
	// clusterRetries keeps a subscriber's 500s from holding it back for
	// minutes (the default schedule waits 5 s, then 5 min) and from
	// dead-lettering anything (twelve 500s in a row).
	clusterRetries = "100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s"
)

var natsBinary = &binary{name: "nats-server", pkg: "github.com/nats-io/nats-server/v2"}

// natsServer builds nats-server from the module go.mod requires, once
// per test run.
func natsServer(t *testing.T) string { t.Helper(); return natsBinary.get(t) }

// freePorts returns n distinct loopback ports that were free a moment
// ago. A JetStream cluster needs its route ports in every server's
// configuration, and a restarted Herald node keeps its address (and
// with it its default --node name), so neither can be left to the
// listener.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// A natsNode is one nats-server process of the cluster.
type natsNode struct {
	name    string
	url     string // client URL
	monitor string // monitoring endpoint
	*proc
}

const natsConfig = `server_name: %s
listen: "127.0.0.1:%d"
http: "127.0.0.1:%d"
jetstream {
  store_dir: %q
  sync_interval: always
}
cluster {
  name: herald
  listen: "127.0.0.1:%d"
  routes: [%s]
  # clients keep the servers they were given (no discovery), so that a
  # node given one address behind a proxy can be cut off
  no_advertise: true
}
`

// startNATSCluster starts three nats-servers as one JetStream cluster
// and returns once they have a meta leader that sees the other two
// current.
func startNATSCluster(t *testing.T) []*natsNode {
	t.Helper()
	bin := natsServer(t)
	ports := freePorts(t, 9) // client, route, monitoring, per server
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1]))
	}
	start := time.Now()
	nodes := make([]*natsNode, 3)
	for i := range nodes {
		name, dir := fmt.Sprintf("nats-%d", i+1), t.TempDir()
		conf := filepath.Join(dir, "nats.conf")
		text := fmt.Sprintf(natsConfig, name, ports[3*i], ports[3*i+2], filepath.Join(dir, "jetstream"), ports[3*i+1], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		p := &proc{cmd: exec.Command(bin, "-c", conf), grew: make(chan struct{}, 1), done: make(chan struct{})}
		startCmd(t, p)
		t.Cleanup(func() { kill(p) }) // before startCmd's SIGTERM: a graceful stop checks nothing here
		nodes[i] = &natsNode{name: name, url: fmt.Sprintf("nats://127.0.0.1:%d", ports[3*i]),
			monitor: fmt.Sprintf("http://127.0.0.1:%d", ports[3*i+2]), proc: p}
	}
	leader := waitMetaLeader(t, nodes)
	t.Logf("JetStream cluster of 3 formed in %v, meta leader %s", time.Since(start).Round(time.Millisecond), leader)
	return nodes
}

// waitMetaLeader polls the servers' /jsz until all of them name the same
// meta leader and the leader sees both others current.
func waitMetaLeader(t *testing.T, nodes []*natsNode) string {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		leaders := map[string]int{}
		current := map[string]int{} // leader → current peers it reports
		for _, n := range nodes {
			var jsz struct {
				Meta *struct {
					Leader   string `json:"leader"`
					Replicas []struct {
						Current bool `json:"current"`
					} `json:"replicas"`
				} `json:"meta_cluster"`
			}
			resp, err := client.Get(n.monitor + "/jsz")
			if err != nil {
				last = err.Error()
				continue
			}
			err = json.NewDecoder(resp.Body).Decode(&jsz)
			resp.Body.Close()
			if err != nil || jsz.Meta == nil || jsz.Meta.Leader == "" {
				last = n.name + " has no meta leader"
				continue
			}
			leaders[jsz.Meta.Leader]++
			if jsz.Meta.Leader == n.name {
				for _, r := range jsz.Meta.Replicas {
					if r.Current {
						current[n.name]++
					}
				}
			}
		}
		for l, votes := range leaders {
			if votes == len(nodes) && current[l] == len(nodes)-1 {
				return l
			}
			last = fmt.Sprintf("leaders %v, current peers %v", leaders, current)
		}
	}
	t.Fatalf("the JetStream cluster did not form in 30s: %s", last)
	return ""
}

// streamLeader returns the server that leads the stream, asked over
// nats.go of the servers that run.
func streamLeader(t *testing.T, nodes []*natsNode, stream string) *natsNode {
	t.Helper()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url)
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	for _, n := range nodes {
		if n.name == info.Cluster.Leader {
			return n
		}
	}
	t.Fatalf("stream %s is led by %q, none of the servers started", stream, info.Cluster.Leader)
	return nil
}

// kill sends SIGKILL to every process, then waits until they are gone.
func kill(ps ...*proc) {
	for _, p := range ps {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	for _, p := range ps {
		<-p.done
	}
}

var (
	serveHelpOnce sync.Once
	serveHelp     string
)

// serveHas reports whether herald serve --help lists the flag, so that
// the tests run before the flags of the partition leases exist.
func serveHas(t *testing.T, flag string) bool {
	t.Helper()
	serveHelpOnce.Do(func() { serveHelp = execHerald(t, cmdOpts{}, "serve", "--help").stdout })
	return regexp.MustCompile(`(?m)^\s*--` + regexp.QuoteMeta(flag) + `\s`).MatchString(serveHelp)
}

// A heraldNode is one herald serve process; start runs it again with the
// same command line.
type heraldNode struct {
	name string
	url  string
	args []string
	*proc
}

// startHerald starts a node on the nats-servers given (its --store) and
// waits until /healthz answers.
func startHerald(t *testing.T, name string, store []*natsNode) *heraldNode {
	t.Helper()
	return startHeraldTTL(t, name, store, clusterLeaseTTL)
}

// startHeraldTTL is startHerald with --lease-ttl ttl.
func startHeraldTTL(t *testing.T, name string, store []*natsNode, ttl time.Duration) *heraldNode {
	t.Helper()
	var urls []string
	for _, n := range store {
		urls = append(urls, n.url)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	args := []string{"serve", "--addr", addr, "--data", t.TempDir(), "--store", strings.Join(urls, ","),
		"--replicas", "3", "--retry-schedule", clusterRetries}
	if serveHas(t, "lease-ttl") {
		args = append(args, "--lease-ttl", ttl.String())
	}
	if serveHas(t, "node") {
		args = append(args, "--node", name)
	}
	n := &heraldNode{name: name, url: "http://" + addr, args: args}
	n.start(t)
	t.Cleanup(func() {
		if dir := os.Getenv("HERALD_CLUSTER_LOGS"); dir != "" {
			// Every line of every node, for a failure's post-mortem.
			f := filepath.Join(dir, fmt.Sprintf("%s-%s.log", strings.ReplaceAll(t.Name(), "/", "_"), name))
			if err := os.WriteFile(f, []byte(strings.Join(n.output(), "\n")+"\n"), 0o644); err == nil {
				t.Logf("%s: every line in %s", name, f)
			}
		}
		if t.Failed() {
			// The subscribers' 500s are expected and would hide the rest.
			var out []string
			retries, last := 0, ""
			for _, l := range n.output() {
				if !strings.Contains(l, "will retry") {
					out = append(out, l[:min(len(l), 300)])
				} else {
					retries, last = retries+1, l[:min(len(l), 300)]
				}
			}
			t.Logf("%s, last lines (and %d about retries, the last: %s):\n%s", name, retries, last, strings.Join(out[max(0, len(out)-15):], "\n"))
			var moves []string
			for _, l := range out {
				if partitionMoveRE.MatchString(l) {
					moves = append(moves, l)
				}
			}
			t.Logf("%s, every partition it took, gave or lost:\n%s", name, strings.Join(moves, "\n"))
		}
	})
	return n
}

func (n *heraldNode) start(t *testing.T) {
	t.Helper()
	p := startProc(t, n.args...)
	t.Cleanup(func() { kill(p) }) // before startProc's SIGTERM, which may wait out --shutdown-timeout
	n.proc = p
	n.wait(t, `herald listening`)
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := client.Get(n.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /healthz did not answer 200 in 20s: %v", n.name, err)
		}
	}
}

// startHeralds starts count nodes, herald-1…, each on all the servers.
func startHeralds(t *testing.T, count int, store []*natsNode) []*heraldNode {
	t.Helper()
	nodes := make([]*heraldNode, count)
	for i := range nodes {
		nodes[i] = startHerald(t, fmt.Sprintf("herald-%d", i+1), store)
	}
	return nodes
}

// A delivery is one request a sink received.
type delivery struct {
	sub       int // index in workload.subs, from the path /s/N
	messageID string
	text      string
	at        time.Time
	ok        bool // answered 200, not 500
}

var messageIDRE = regexp.MustCompile(`<(?:\w+:)?MessageID[^>]*>\s*([^<\s]+)\s*</`)

// sinks are the subscribers' endpoints: a few HTTP servers that fail 5 %
// of requests with a 500 and record every request, in arrival order.
type sinks struct {
	servers []*httptest.Server
	mu      sync.Mutex
	log     []delivery
}

func newSinks(t *testing.T, n int) *sinks {
	s := &sinks{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sub, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/s/"))
		text, id := textRE.FindSubmatch(b), messageIDRE.FindSubmatch(b)
		if err != nil || text == nil || id == nil {
			w.WriteHeader(http.StatusOK) // not a notification of a test event
			return
		}
		ok := rand.IntN(20) != 0
		s.mu.Lock()
		s.log = append(s.log, delivery{sub: sub, messageID: string(id[1]), text: string(text[1]), at: time.Now(), ok: ok})
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	for range n {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		s.servers = append(s.servers, srv)
	}
	return s
}

func (s *sinks) snapshot() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// A clusterSub is one subscription of the workload.
type clusterSub struct {
	id, topic string
	node      string // where it was made
}

// An ack is an event a node answered 202.
type ack struct {
	pub, seq int
	topic    string
	text     string
	at       time.Time
}

// A workload is subscriptions over a few topics, their sinks, and
// publishers.
type workload struct {
	topics []string
	sinks  *sinks
	subs   []clusterSub
	seed   string

	mu    sync.Mutex
	acked []ack
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func newWorkload(t *testing.T, topics int) *workload {
	w := &workload{sinks: newSinks(t, 4), seed: seedFile(t, "subscribe-request-soap.xml"), stop: make(chan struct{})}
	for i := range topics {
		w.topics = append(w.topics, fmt.Sprintf("cluster%d", i))
	}
	t.Cleanup(w.halt)
	return w
}

// subscribe makes n Cloud42 subscriptions, spread over the nodes and the
// topics.
func (w *workload) subscribe(t *testing.T, n int, nodes []*heraldNode) {
	t.Helper()
	start := time.Now()
	for range n {
		i := len(w.subs)
		node, topic := nodes[i%len(nodes)], w.topics[i%len(w.topics)]
		sink := w.sinks.servers[i%len(w.sinks.servers)]
		body := strings.Replace(w.seed, "http://localhost:8085/monitor", fmt.Sprintf("%s/s/%d", sink.URL, i), 1)
		body = strings.Replace(body, "<web:topic>myTopic</web:topic>", "<web:topic>"+topic+"</web:topic>", 1)
		status, answer := post(t, node.url+"/eventing", "application/soap+xml; charset=utf-8", body)
		m := returnRE.FindStringSubmatch(answer)
		if status != http.StatusOK || m == nil {
			t.Fatalf("subscribe on %s: HTTP %d\n%s", node.name, status, answer)
		}
		w.subs = append(w.subs, clusterSub{id: m[1], topic: topic, node: node.name})
	}
	t.Logf("%d subscriptions over %d topics made in %v", n, len(w.topics), time.Since(start).Round(time.Millisecond))
}

// publish starts n publishers, each POSTing an event every interval to
// the nodes in turn and recording every 202. A publisher whose node is
// down or refuses goes on with its next event on the next node: an
// event's text is never sent twice.
func (w *workload) publish(t *testing.T, n int, every time.Duration, nodes []*heraldNode) {
	seed := seedFile(t, "event-message.xml")
	client := &http.Client{Timeout: 10 * time.Second}
	for pub := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				case <-tick.C:
				}
				topic, node := w.topics[(pub+i)%len(w.topics)], nodes[(pub+i)%len(nodes)]
				text := fmt.Sprintf("p%d-%05d", pub, i)
				body := strings.Replace(seed, "<topic>myTopic</topic>", "<topic>"+topic+"</topic>", 1)
				body = strings.Replace(body, "<text>message text</text>", "<text>"+text+"</text>", 1)
				resp, err := client.Post(node.url+"/messages", "text/xml", strings.NewReader(body))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					w.mu.Lock()
					w.acked = append(w.acked, ack{pub: pub, seq: i, topic: topic, text: text, at: time.Now()})
					w.mu.Unlock()
				}
			}
		}()
	}
}

// halt stops the publishers and waits for them.
func (w *workload) halt() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

func (w *workload) acks() []ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

// acksBefore returns the events acknowledged before at.
func (w *workload) acksBefore(at time.Time) []ack {
	var out []ack
	for _, a := range w.acks() {
		if a.at.Before(at) {
			out = append(out, a)
		}
	}
	return out
}

// waitAcked waits until n events were acknowledged after since.
func (w *workload) waitAcked(t *testing.T, n int, since time.Time) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := 0
		for _, a := range w.acks() {
			if a.at.After(since) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events acknowledged in 30s; want %d", got, n)
		}
	}
}

type subEvent struct {
	sub  int
	text string
}

// missing returns how many (subscription, acknowledged event) pairs have
// no acknowledged delivery yet, and one of them.
func (w *workload) missing(acked []ack) (int, string) {
	got := map[subEvent]bool{}
	for _, d := range w.sinks.snapshot() {
		if d.ok {
			got[subEvent{d.sub, d.text}] = true
		}
	}
	n, example := 0, ""
	for _, a := range acked {
		for i, s := range w.subs {
			if s.topic == a.topic && !got[subEvent{i, a.text}] {
				if n == 0 {
					example = fmt.Sprintf("%s to subscription %d (%s, made on %s)", a.text, i, s.id, s.node)
				}
				n++
			}
		}
	}
	return n, example
}

// waitDelivered waits until every acknowledged event reached every
// subscription of its topic, and reports an error if that takes longer
// than within.
func (w *workload) waitDelivered(t *testing.T, acked []ack, within time.Duration) bool {
	t.Helper()
	start := time.Now()
	for {
		n, example := w.missing(acked)
		if n == 0 {
			return true
		}
		if time.Since(start) > within {
			t.Errorf("%d acknowledged deliveries never arrived within %v, e.g. %s", n, within, example)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// partitionMoveRE matches the log lines of a node taking, giving or
// losing partitions.
var partitionMoveRE = regexp.MustCompile(`msg="(?:partitions (?:acquired|released|handed)|leases (?:given|fenced|lost)|cannot take over)`)

var fencedRE = regexp.MustCompile(`^time=(\S+) .*msg="(?:leases fenced|partitions handed over without)`)

// fences returns a disruption for every time one of nodes fenced itself,
// or gave partitions away without saving their last states (the store
// did not take them in time), as its log says: what it delivered and had
// not saved may be repeated by the next holder, as a dead node's is. A
// give-away whose states were saved repeats nothing.
func fences(t *testing.T, nodes ...*heraldNode) []disruption {
	t.Helper()
	var ds []disruption
	for _, n := range nodes {
		for _, l := range n.output() {
			m := fencedRE.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				t.Fatalf("%s: fence at %q: %v", n.name, m[1], err)
			}
			t.Logf("%s fenced itself or handed over unsaved %s", n.name, at.Format("15:04:05.000"))
			ds = append(ds, disruption{"fence on " + n.name, at.Add(-unsavedWindow), at.Add(inFlight)})
		}
	}
	return ds
}

// postMortem logs what the live nodes say (herald status) of the first
// two subscriptions that got nothing after from: its position, failures
// and last attempts tell a stalled matcher from a failing delivery.
func (w *workload) postMortem(t *testing.T, from time.Time, nodes []*heraldNode) {
	t.Helper()
	resumed := map[int]bool{}
	for _, d := range w.sinks.snapshot() {
		if d.ok && d.at.After(from) {
			resumed[d.sub] = true
		}
	}
	shown := 0
	for i, s := range w.subs {
		if resumed[i] || shown == 2 {
			continue
		}
		shown++
		for _, n := range nodes {
			r := execHerald(t, cmdOpts{}, "status", s.id, "--server", n.url, "--timeout", "5s")
			t.Logf("herald status of subscription %d (%s, topic %s) on %s:\n%s%s", i, s.id, s.topic, n.name, r.stdout, r.stderr)
		}
	}
}

// waitResumed waits until every subscription got an event acknowledged
// after from, or until deadline; it returns how many did not.
func (w *workload) waitResumed(from, deadline time.Time) int {
	for {
		after := map[string]bool{}
		for _, a := range w.acks() {
			if a.at.After(from) {
				after[a.text] = true
			}
		}
		resumed := map[int]bool{}
		for _, d := range w.sinks.snapshot() {
			if d.ok && after[d.text] {
				resumed[d.sub] = true
			}
		}
		if len(resumed) == len(w.subs) || time.Now().After(deadline) {
			return len(w.subs) - len(resumed)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// longestStall returns the longest time a subscription went without an
// acknowledged delivery after from, counting stalls that began before
// until (while events were still published to every topic), and how
// many subscriptions got no delivery after from at all.
func (w *workload) longestStall(from, until time.Time) (stall time.Duration, never int) {
	last := make([]time.Time, len(w.subs))
	for i := range last {
		last[i] = from
	}
	seen := make([]bool, len(w.subs))
	for _, d := range w.sinks.snapshot() {
		if !d.ok || !d.at.After(from) {
			continue
		}
		if last[d.sub].Before(until) {
			stall = max(stall, d.at.Sub(last[d.sub]))
		}
		last[d.sub], seen[d.sub] = d.at, true
	}
	for _, s := range seen {
		if !s {
			never++
		}
	}
	return stall, never
}

// longestAckGap is the longest time without a 202 between from and
// until: the publishers' view of a stream leader election.
func longestAckGap(acked []ack, from, until time.Time) time.Duration {
	var at []time.Time
	for _, a := range acked {
		at = append(at, a.at)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	gap, prev := time.Duration(0), from
	for _, t := range at {
		if t.After(from) && t.Before(until) {
			gap, prev = max(gap, t.Sub(prev)), t
		}
	}
	return gap
}

// A disruption is a failure, or a planned change of owner, after which a
// subscription's new owner may repeat what the old one delivered but had
// not saved as done: a repeat is explained by it if the event's first
// delivery fell between from and to. Each disruption may move a
// subscription twice (away, and once more when the leases rebalance),
// so a subscription repeats in at most two runs per disruption; two
// nodes delivering one subscription at once repeat in many.
type disruption struct {
	what     string
	from, to time.Time
}

// checkDeliveries asserts, once every acknowledged event was delivered,
// the order of first deliveries per publisher, one MessageID per event
// and subscription, and that every repeat is explained by a disruption.
// It returns the deliveries and the repeats counted, and the most runs
// of repeats one subscription had.
func (w *workload) checkDeliveries(t *testing.T, acked []ack, ds []disruption) (deliveries, repeats, maxRuns int) {
	t.Helper()
	byText := map[string]ack{}
	for _, a := range acked {
		byText[a.text] = a
	}
	ids := map[subEvent]string{}      // the MessageID of the first attempt
	first := map[subEvent]time.Time{} // the first acknowledged delivery
	lastSeq := map[[2]int]int{}       // (subscription, publisher) → seq of its last first delivery
	runs := make([]int, len(w.subs))
	inRun := make([]bool, len(w.subs))
	var badID, disorder, unexplained []string
	for _, d := range w.sinks.snapshot() {
		k := subEvent{d.sub, d.text}
		if id, ok := ids[k]; !ok {
			ids[k] = d.messageID
		} else if id != d.messageID {
			badID = append(badID, fmt.Sprintf("%s to subscription %d as %s after %s", d.text, d.sub, d.messageID, id))
		}
		if !d.ok {
			continue
		}
		deliveries++
		at, seen := first[k]
		if !seen {
			inRun[d.sub] = false
			first[k] = d.at
			if a, ok := byText[d.text]; ok {
				pk := [2]int{d.sub, a.pub}
				if prev, ok := lastSeq[pk]; ok && a.seq < prev {
					disorder = append(disorder, fmt.Sprintf("subscription %d got %s after p%d-%05d", d.sub, d.text, a.pub, prev))
				}
				lastSeq[pk] = a.seq
			}
			continue
		}
		repeats++
		if !inRun[d.sub] {
			inRun[d.sub] = true
			runs[d.sub]++
		}
		explained := false
		for _, x := range ds {
			if !at.Before(x.from) && !at.After(x.to) {
				explained = true
				break
			}
		}
		if !explained {
			unexplained = append(unexplained, fmt.Sprintf("%s to subscription %d (made on %s) again %v after its first delivery",
				d.text, d.sub, w.subs[d.sub].node, d.at.Sub(at).Round(time.Millisecond)))
		}
	}
	if len(badID) > 0 {
		t.Errorf("%d deliveries carry another wsa:MessageID than the first of their event, e.g. %s", len(badID), badID[0])
	}
	if len(disorder) > 0 {
		t.Errorf("%d first deliveries out of their publisher's order, e.g. %s", len(disorder), disorder[0])
	}
	if len(unexplained) > 0 {
		t.Errorf("%d of %d repeats are of events first delivered outside every failure's window, e.g. %s",
			len(unexplained), repeats, strings.Join(unexplained[:min(3, len(unexplained))], "; "))
	}
	var over []string
	for i, n := range runs {
		maxRuns = max(maxRuns, n)
		if n > 2*len(ds) {
			over = append(over, fmt.Sprintf("subscription %d (made on %s) in %d", i, w.subs[i].node, n))
		}
	}
	if len(over) > 0 {
		t.Errorf("%d subscriptions repeated in more than %d runs (two per disruption): more than one node delivers them; e.g. %s",
			len(over), 2*len(ds), strings.Join(over[:min(3, len(over))], "; "))
	}
	return deliveries, repeats, maxRuns
}

// TestCluster_Failover kills, mid-stream, the nats-server that leads the
// event stream and one of three Herald nodes: nothing acknowledged is
// lost, the dead node's subscriptions move within the lease TTL, and the
// repeats are only its unsaved deliveries, with their first MessageID.
func TestCluster_Failover(t *testing.T) {
	skipCluster(t)
	ns := startNATSCluster(t)
	hs := startHeralds(t, 3, ns)
	w := newWorkload(t, 4)
	w.subscribe(t, 200, hs)
	start := time.Now()
	w.publish(t, 4, 125*time.Millisecond, hs)
	w.waitAcked(t, 80, start)

	leader, victim := streamLeader(t, ns, "herald_events"), hs[1]
	killed := time.Now()
	kill(leader.proc, victim.proc)
	t.Logf("killed nats-server %s (leader of herald_events) and %s", leader.name, victim.name)
	// Killing the stream's leader kills the leader of some of the KV
	// buckets too (the leases' among them, often): until they elect new
	// leaders no node can renew a lease or read a state, so every node
	// fences itself once the election outlasts 2/3 of the (short, test)
	// TTL. Delivery then resumes within the TTL plus a few seconds after
	// the store is writable again: the bound adds the longest time the
	// publishers went without a 202.
	waitBound := 2*resumeBound + 10*time.Second
	stuck := w.waitResumed(killed, killed.Add(waitBound))
	w.halt()
	stopped := time.Now()
	acked := w.acks()
	if stuck > 0 {
		t.Errorf("%d of %d subscriptions got nothing published after the kill within %v", stuck, len(w.subs), waitBound)
		w.postMortem(t, killed, []*heraldNode{hs[0], hs[2]})
	}
	w.waitDelivered(t, acked, 15*time.Second)
	stall, never := w.longestStall(killed, stopped)
	outage := longestAckGap(acked, killed, stopped)
	if never > 0 {
		t.Errorf("%d subscriptions were never delivered to after the kill", never)
	} else if bound := resumeBound + outage + loadSlack; stall > bound {
		t.Errorf("a subscription waited %v for its next delivery after the kill; want at most %v (lease TTL %v, a few seconds, the %v the store took no writes, and %v for a loaded machine)", stall, bound, clusterLeaseTTL, outage.Round(time.Millisecond), loadSlack)
	}
	// The dead node's unsaved deliveries; a delivery of a live node's is
	// never repeated.
	// A survivor that fenced itself (the lease bucket's election outlasted
	// 2/3 of the TTL: more likely the more loaded the machine) gave its
	// partitions up as a dead node does.
	ds := append([]disruption{{"kill -9", killed.Add(-unsavedWindow), killed.Add(inFlight)}}, fences(t, hs[0], hs[2])...)
	deliveries, repeats, runs := w.checkDeliveries(t, acked, ds)
	after := 0
	for _, a := range acked {
		if a.at.After(killed) {
			after++
		}
	}
	t.Logf("%d events acknowledged (%d after the kill), %d deliveries, %d repeats (%.2f %%, at most %d runs per subscription); longest stall of a subscription after the kill %v, longest time without a 202 %v",
		len(acked), after, deliveries, repeats, 100*float64(repeats)/float64(max(1, deliveries)), runs,
		stall.Round(time.Millisecond), longestAckGap(acked, killed, stopped).Round(time.Millisecond))
}

var attemptsRE = regexp.MustCompile(`(?m)^herald_delivery_attempts_total\{[^}]*\} (\S+)$`)

// deliveryAttempts reads a node's delivery attempts from /metrics.
func deliveryAttempts(client *http.Client, node *heraldNode) (float64, bool) {
	resp, err := client.Get(node.url + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sum := 0.0
	for _, m := range attemptsRE.FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		sum += v
	}
	return sum, true
}

// skipCluster skips a cluster test under -short, and under the race
// detector: the nodes are separate processes the detector does not see,
// and an instrumented harness (200 sinks, the publishers) starves them on
// a small machine until timeouts, not Herald, decide the result. `make
// test` runs these tests again without -race.
func skipCluster(t *testing.T) {
	t.Helper()
	switch {
	case testing.Short():
		t.Skip("starts a NATS cluster and three Herald nodes")
	case raceEnabled:
		t.Skip("runs without -race (make test runs it so): the nodes are other processes")
	}
}

// A tcpProxy forwards connections to target until it is cut: then it
// closes them and refuses new ones, as a network partition would.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

// url is the proxy's nats:// URL.
func (p *tcpProxy) url() string { return "nats://" + p.ln.Addr().String() }

// setCut cuts the proxy (closing what it carries) or lets it carry again.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestCluster_CutOffNodeFencesItself cuts a Herald node off from NATS
// (its only server address is a proxy, which is cut; the servers do not
// advertise the others) while the cluster goes on without it: the node
// stops delivering within the lease TTL and says so on /readyz, the
// other two deliver its subscriptions, and when it is reconnected it
// delivers nothing it no longer owns.
func TestCluster_CutOffNodeFencesItself(t *testing.T) {
	skipCluster(t)
	ns := startNATSCluster(t)
	px := newTCPProxy(t, strings.TrimPrefix(ns[2].url, "nats://"))
	behind := &natsNode{name: "a proxy to " + ns[2].name, url: px.url()}
	hs := []*heraldNode{startHerald(t, "herald-1", ns[:2]), startHerald(t, "herald-2", ns[:2]), startHerald(t, "herald-3", []*natsNode{behind})}
	cut := hs[2]
	w := newWorkload(t, 2)
	w.subscribe(t, 60, hs)
	start := time.Now()
	w.publish(t, 2, 100*time.Millisecond, hs[:2])
	w.waitAcked(t, 40, start)
	client := &http.Client{Timeout: 500 * time.Millisecond}
	if n, _ := deliveryAttempts(client, cut); n == 0 {
		t.Logf("%s made no delivery attempts before the cut", cut.name)
	}

	stopped := time.Now()
	px.setCut(true)
	t.Logf("cut %s off from NATS (%s)", cut.name, behind.name)
	// Watch the cut-off node until the others must have taken over and
	// delivered a while: events acknowledged up to snapshot, two seconds
	// after the TTL, reach everyone, and the node has said it is fenced.
	snapshot, deadline := stopped.Add(clusterLeaseTTL+2*time.Second), stopped.Add(resumeBound+3*time.Second)
	attempts, _ := deliveryAttempts(client, cut)
	lastAttempt := stopped
	var unready time.Time
	for {
		if n, ok := deliveryAttempts(client, cut); ok && n != attempts {
			attempts, lastAttempt = n, time.Now()
		}
		if unready.IsZero() {
			if resp, err := client.Get(cut.url + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					unready = time.Now()
				}
			}
		}
		now := time.Now()
		if now.After(deadline) {
			break
		}
		if now.After(snapshot) && !unready.IsZero() {
			if n, _ := w.missing(w.acksBefore(snapshot)); n == 0 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := lastAttempt.Sub(stopped); d > clusterLeaseTTL {
		t.Errorf("%s still attempted deliveries %v after it lost NATS; want none after the lease TTL %v", cut.name, d.Round(time.Millisecond), clusterLeaseTTL)
	}
	if unready.IsZero() {
		t.Errorf("%s /readyz never answered 503 in the %v it was cut off", cut.name, time.Since(stopped).Round(time.Millisecond))
	} else if d := unready.Sub(stopped); d > clusterLeaseTTL+time.Second {
		t.Errorf("%s /readyz answered 503 only %v after it lost NATS; want within the lease TTL %v", cut.name, d.Round(time.Millisecond), clusterLeaseTTL)
	}
	if n, example := w.missing(w.acksBefore(snapshot)); n > 0 {
		t.Errorf("while %s was cut off, %d acknowledged deliveries did not arrive: nobody took its subscriptions over (e.g. %s)", cut.name, n, example)
	}
	takeover, never := w.longestStall(stopped, snapshot)

	resumed := time.Now()
	px.setCut(false)
	w.waitAcked(t, 40, resumed)
	w.halt()
	acked := w.acks()
	w.waitDelivered(t, acked, 15*time.Second)
	// What the cut-off node delivered until it fenced itself may be
	// repeated by the nodes that took over, and what they delivered just
	// before handing partitions back to it by it; nothing it delivered
	// from a stale cursor after it came back.
	deliveries, repeats, runs := w.checkDeliveries(t, acked, []disruption{
		{"cut off", stopped.Add(-unsavedWindow), stopped.Add(clusterLeaseTTL + inFlight)},
		{"back", resumed.Add(-time.Second), resumed.Add(resumeBound)},
	})
	fenced := "never"
	if !unready.IsZero() {
		fenced = unready.Sub(stopped).Round(time.Millisecond).String()
	}
	t.Logf("%s: last delivery attempt %v after the cut, /readyz 503 after %s; longest stall of a subscription %v (%d never delivered to while cut off); %d events acknowledged, %d deliveries, %d repeats (at most %d runs per subscription)",
		cut.name, lastAttempt.Sub(stopped).Round(time.Millisecond), fenced,
		takeover.Round(time.Millisecond), never, len(acked), deliveries, repeats, runs)
}

// TestCluster_RollingRestart stops each of three Herald nodes in turn
// with SIGTERM and starts it again with the same flags, under load:
// nothing is lost, a clean shutdown hands its subscriptions over at once
// (not after the lease TTL), and repeats happen only at a handover.
func TestCluster_RollingRestart(t *testing.T) {
	skipCluster(t)
	ns := startNATSCluster(t)
	// A longer TTL than the other tests': what is checked is that a
	// clean shutdown does not wait for it, which a loaded machine
	// (-race, other tests) cannot blur with a handover of a few seconds.
	const ttl = 10 * time.Second
	hs := make([]*heraldNode, 3)
	for i := range hs {
		hs[i] = startHeraldTTL(t, fmt.Sprintf("herald-%d", i+1), ns, ttl)
	}
	w := newWorkload(t, 3)
	w.subscribe(t, 120, hs)
	start := time.Now()
	w.publish(t, 3, 100*time.Millisecond, hs)
	w.waitAcked(t, 30, start)

	var ds []disruption
	var figures []string
	for _, h := range hs {
		if !w.waitDelivered(t, w.acks(), 15*time.Second) { // settled before the next restart
			t.Logf("%s; not restarting the others", strings.Join(figures, "; "))
			return
		}
		at := time.Now()
		h.stop()
		down := time.Since(at)
		h.start(t)
		up := time.Since(at) - down
		// The stopping node's last deliveries before it handed over, and
		// the others' before partitions move back to it.
		back := at.Add(down + up)
		ds = append(ds, disruption{"SIGTERM " + h.name, at.Add(-time.Second), at.Add(down + inFlight)},
			disruption{"restart " + h.name, back.Add(-time.Second), back.Add(ttl + 5*time.Second)})
		stuck := w.waitResumed(at, at.Add(ttl+5*time.Second))
		stall, _ := w.longestStall(at, time.Now())
		if stuck > 0 || stall >= ttl {
			t.Errorf("after SIGTERM to %s a subscription waited %v for its next delivery (%d got none of the events published since); a clean shutdown hands over at once, want less than the lease TTL %v",
				h.name, stall.Round(time.Millisecond), stuck, ttl)
		}
		figures = append(figures, fmt.Sprintf("%s: shutdown %v, restart %v, longest stall %v", h.name,
			down.Round(time.Millisecond), up.Round(time.Millisecond), stall.Round(time.Millisecond)))
	}
	w.halt()
	acked := w.acks()
	w.waitDelivered(t, acked, 15*time.Second)
	deliveries, repeats, runs := w.checkDeliveries(t, acked, ds)
	t.Logf("%s; %d events acknowledged, %d deliveries, %d repeats (at most %d runs per subscription)", strings.Join(figures, "; "), len(acked), deliveries, repeats, runs)
}

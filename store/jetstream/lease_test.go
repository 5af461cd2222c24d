package jetstream_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/eventingtest"
	"github.com/herald-eventing/herald/store/jetstream"
)

// leaseTTL is short so that expiry and fencing take about a second, and
// long enough for renewals (64 leases every TTL/3, each write fsynced by
// the servers) to be answered within TTL/3 under the race detector.
const leaseTTL = 1500 * time.Millisecond

// settle bounds the waits for outcomes that need the servers to answer
// (partitions shared, taken over): they normally take about a TTL, and
// are logged; the bound is for a machine busy with other work. Safety
// (never two owners) and fencing within TTL are checked strictly.
const settle = 15 * time.Second

// A ledger records who owns which partition from the Acquired and Released
// callbacks of every node, and fails the test the moment a partition is
// acquired while another node holds it, or released by a node not holding
// it.
type ledger struct {
	t       *testing.T
	mu      sync.Mutex
	holder  map[int]string
	count   map[string]int
	most    map[string]int // the most each node held at once
	drops   map[string]int // how many partitions each node released
	handed  map[string]int // how many it handed over (before a give-away)
	changes int
}

func newLedger(t *testing.T) *ledger {
	return &ledger{t: t, holder: map[int]string{}, count: map[string]int{}, most: map[string]int{}, drops: map[string]int{}, handed: map[string]int{}}
}

// handover checks that a node hands over only partitions it still holds,
// within TTL/6, and counts them.
func (g *ledger) handover(node string) func(context.Context, []int) {
	return func(ctx context.Context, ps []int) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > leaseTTL/6 {
			g.t.Errorf("%s hands %v over with a deadline %v away; want at most TTL/6", node, ps, time.Until(d))
		}
		for _, p := range ps {
			if h := g.holder[p]; h != node {
				g.t.Errorf("partition %d handed over by %s; holder %q", p, node, h)
			}
		}
		g.handed[node] += len(ps)
	}
}

// handovers returns how many partitions node handed over.
func (g *ledger) handovers(node string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.handed[node]
}

func (g *ledger) acquired(node string) func(int) {
	return func(p int) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if h, ok := g.holder[p]; ok {
			g.t.Errorf("partition %d acquired by %s while %s holds it", p, node, h)
		}
		g.holder[p] = node
		g.count[node]++
		g.most[node] = max(g.most[node], g.count[node])
		g.changes++
	}
}

func (g *ledger) released(node string) func(int) {
	return func(p int) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if h := g.holder[p]; h != node {
			g.t.Errorf("partition %d released by %s; holder %q", p, node, h)
			return
		}
		delete(g.holder, p)
		g.count[node]--
		g.drops[node]++
		g.changes++
	}
}

// owned returns the partitions node holds, in increasing order.
func (g *ledger) owned(node string) []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ps []int
	for p, h := range g.holder {
		if h == node {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// balanced reports whether every partition is held, each by one of nodes,
// and each node holds floor(64/n) or ceil(64/n) of them.
func (g *ledger) balanced(nodes ...string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.holder) != jetstream.DefaultPartitions {
		return false
	}
	count := map[string]int{}
	for _, h := range g.holder {
		count[h]++
	}
	lo := jetstream.DefaultPartitions / len(nodes)
	hi := (jetstream.DefaultPartitions + len(nodes) - 1) / len(nodes)
	total := 0
	for _, n := range nodes {
		if count[n] < lo || count[n] > hi {
			return false
		}
		total += count[n]
	}
	return total == jetstream.DefaultPartitions
}

func (g *ledger) changeCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changes
}

// releases returns how many times node released a partition.
func (g *ledger) releases(node string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.drops[node]
}

// mostHeld returns the most partitions node held at once.
func (g *ledger) mostHeld(node string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.most[node]
}

// A leaseNode is one Herald node: its own Store (connection) and Leases.
type leaseNode struct {
	name   string
	store  *jetstream.Store
	leases *jetstream.Leases
}

// startNode opens a Store on urls and starts its Leases, closed at the
// end of the test (before the Store).
func startNode(t *testing.T, g *ledger, urls []string, prefix, name string) *leaseNode {
	t.Helper()
	return startLeases(t, g, openStore(t, urls, prefix), name)
}

// startLeases starts the Leases of node name on st.
func startLeases(t *testing.T, g *ledger, st *jetstream.Store, name string) *leaseNode {
	t.Helper()
	return startLeasesClock(t, g, st, name, nil)
}

// startLeasesClock is startLeases with the given clock.
func startLeasesClock(t *testing.T, g *ledger, st *jetstream.Store, name string, clock eventing.Clock) *leaseNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	l, err := st.Leases(ctx, jetstream.LeaseOptions{
		Node:     name,
		TTL:      leaseTTL,
		Clock:    clock,
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Acquired: g.acquired(name),
		Released: g.released(name),
		Handover: g.handover(name),
	})
	if err != nil {
		t.Error(err)
		return nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Close(ctx)
	})
	return &leaseNode{name: name, store: st, leases: l}
}

// testWriter sends log lines to t.Log, shown for failed tests and with -v.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b))
	return len(b), nil
}

// within polls cond until it holds and returns how long that took, or
// fails the test after d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// startBalanced starts one node per name on one server and waits for the
// partitions to be shared among them.
func startBalanced(t *testing.T, g *ledger, urls []string, names ...string) []*leaseNode {
	t.Helper()
	nodes := make([]*leaseNode, len(names))
	for i, n := range names {
		nodes[i] = startNode(t, g, urls, "l", n)
	}
	took := within(t, settle, "partitions shared", func() bool { return g.balanced(names...) })
	t.Logf("%d nodes shared the partitions in %v", len(names), took)
	return nodes
}

// agree reports whether every node's Owned matches what its callbacks
// told.
func agree(g *ledger, nodes ...*leaseNode) bool {
	for _, n := range nodes {
		if !slices.Equal(n.leases.Owned(), g.owned(n.name)) {
			return false
		}
	}
	return true
}

// Three nodes started together share the 64 partitions 22, 21 and 21,
// none ever holding more than its share, never two owners at once, and
// the assignment then stays as it is.
func TestLeases_ThreeNodesShareThePartitions(t *testing.T) {
	s := embedded(t)
	g := newLedger(t)
	names := []string{"a", "b", "c"}
	stores := make([]*jetstream.Store, len(names))
	for i := range names {
		stores[i] = openStore(t, []string{s.URL()}, "l")
	}
	nodes := make([]*leaseNode, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { nodes[i] = startLeases(t, g, stores[i], n) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	took := within(t, settle, "partitions shared", func() bool { return g.balanced(names...) })
	t.Logf("shared in %v: %d, %d, %d", took, len(g.owned("a")), len(g.owned("b")), len(g.owned("c")))
	within(t, settle, "Owned to agree with the callbacks", func() bool { return agree(g, nodes...) })
	for _, n := range names {
		if most := g.mostHeld(n); most > 22 {
			t.Errorf("%s held %d partitions at once; its share is 22 at most", n, most)
		}
	}
	// No churn: over a TTL of renewals, nothing moves.
	before := g.changeCount()
	time.Sleep(leaseTTL)
	if after := g.changeCount(); after != before {
		t.Errorf("%d ownership changes in a stable cluster", after-before)
	}
	for _, n := range nodes {
		for _, p := range g.owned(n.name) {
			if !n.leases.Owns(p) {
				t.Errorf("%s: Owns(%d) false for a partition it was given", n.name, p)
			}
		}
	}
	if nodes[0].leases.Owns(-1) || nodes[0].leases.Owns(jetstream.DefaultPartitions) {
		t.Error("Owns of a partition out of range")
	}
}

// A node's Close releases its partitions at once: the other two own them
// all well within a TTL.
func TestLeases_CloseHandsOverAtOnce(t *testing.T) {
	s := embedded(t)
	g := newLedger(t)
	nodes := startBalanced(t, g, []string{s.URL()}, "a", "b", "c")
	start := time.Now()
	if err := nodes[2].leases.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if ps := g.owned("c"); len(ps) != 0 || len(nodes[2].leases.Owned()) != 0 {
		t.Fatalf("after Close c still holds %v (Owned %v)", ps, nodes[2].leases.Owned())
	}
	took := within(t, leaseTTL, "a and b to take c's partitions", func() bool { return g.balanced("a", "b") })
	t.Logf("handed over %v after Close returned, %v after it was called", took, time.Since(start))
	if err := nodes[2].leases.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A node whose connection closes under it (killed, without Close) fences
// itself within TTL, and the others take its partitions only after that.
func TestLeases_KilledNodeFencesAndIsReplaced(t *testing.T) {
	s := embedded(t)
	g := newLedger(t)
	nodes := startBalanced(t, g, []string{s.URL()}, "a", "b", "c")
	start := time.Now()
	nodes[2].store.Close()
	fenced := within(t, leaseTTL, "c to fence itself", func() bool { return len(g.owned("c")) == 0 })
	if len(nodes[2].leases.Owned()) != 0 {
		t.Errorf("c's Owned after fencing: %v", nodes[2].leases.Owned())
	}
	within(t, settle, "a and b to take over", func() bool { return g.balanced("a", "b") })
	t.Logf("c fenced after %v; a and b own everything after %v", fenced, time.Since(start))
}

// A node that cannot reach its server any more (the network cut, its
// client reconnecting in vain) releases everything within TTL, and the
// others take over.
func TestLeases_CutOffNodeFencesWithinTTL(t *testing.T) {
	s := embedded(t)
	g := newLedger(t)
	px := newProxy(t, s.URL())
	a := startNode(t, g, []string{s.URL()}, "l", "a")
	b := startNode(t, g, []string{s.URL()}, "l", "b")
	c := startNode(t, g, []string{px.URL()}, "l", "c")
	within(t, settle, "partitions shared", func() bool { return g.balanced("a", "b", "c") })
	if !c.leases.Healthy() {
		t.Error("c is not healthy before the cut")
	}
	start := time.Now()
	px.cut()
	fenced := within(t, leaseTTL, "c to fence itself", func() bool { return len(g.owned("c")) == 0 })
	within(t, leaseTTL, "c to report itself unhealthy (readiness)", func() bool { return !c.leases.Healthy() })
	if !a.leases.Healthy() || !b.leases.Healthy() {
		t.Error("a node that was not cut off reports itself unhealthy")
	}
	within(t, settle, "a and b to take over", func() bool { return g.balanced("a", "b") })
	t.Logf("c fenced after %v; a and b own everything after %v", fenced, time.Since(start))
	if !agree(g, a, b) || len(c.leases.Owned()) != 0 {
		t.Errorf("Owned disagrees: a %v, b %v, c %v", a.leases.Owned(), b.leases.Owned(), c.leases.Owned())
	}
}

// A node that joins two others gets its share: the others give away
// their extras and it takes them.
func TestLeases_JoiningNodeGetsItsShare(t *testing.T) {
	s := embedded(t)
	g := newLedger(t)
	nodes := startBalanced(t, g, []string{s.URL()}, "a", "b")
	start := time.Now()
	nodes = append(nodes, startNode(t, g, []string{s.URL()}, "l", "c"))
	within(t, settle, "c to get its share", func() bool { return g.balanced("a", "b", "c") })
	t.Logf("c got %d partitions %v after it started", len(g.owned("c")), time.Since(start))
	within(t, settle, "Owned to agree with the callbacks", func() bool { return agree(g, nodes...) })
	// What a and b gave c they handed over first (Handover), and they
	// released nothing else.
	for _, n := range []string{"a", "b"} {
		if h, r := g.handovers(n), g.releases(n); h != r || h == 0 {
			t.Errorf("%s handed %d partitions over and released %d; want the same, not 0", n, h, r)
		}
	}
}

// Three nodes on three servers of a cluster, the bucket on three
// replicas: the partitions are shared, and stay owned by one node each
// while the bucket's stream changes leader (requests to it go unanswered
// for a moment).
func TestLeases_ClusterLeaderChange(t *testing.T) {
	c := cluster(t)
	g := newLedger(t)
	names := []string{"a", "b", "c"}
	nodes := make([]*leaseNode, len(names))
	for i, n := range names {
		nodes[i] = startNode(t, g, []string{c.Servers[i].URL()}, "l", n)
	}
	took := within(t, settle, "partitions shared", func() bool { return g.balanced(names...) })
	t.Logf("shared in %v", took)
	nc, err := nats.Connect(c.Servers[0].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	before := g.changeCount()
	if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.KV_l_leases", nil, 5*time.Second); err != nil {
		t.Fatalf("step down: %v", err)
	}
	// Renewals ride out the election: a TTL later everything is still
	// shared (no overlap at any time: the ledger checks).
	time.Sleep(leaseTTL)
	within(t, settle, "partitions shared after the leader change", func() bool { return g.balanced(names...) })
	t.Logf("%d ownership changes across the leader change", g.changeCount()-before)
}

// The lease goroutine waits on the injected clock: it takes nothing
// before one renewal interval passed on that clock, and fences its leases
// when their deadline passed on it, however fast the wall clock goes.
func TestLeases_FollowsTheInjectedClock(t *testing.T) {
	s := embedded(t)
	g := newLedger(t)
	clk := eventingtest.NewClock(time.Now())
	a := startLeasesClock(t, g, openStore(t, []string{s.URL()}, "l"), "a", clk)
	within(t, 5*time.Second, "the lease goroutine to wait on the clock", func() bool { return len(clk.Pending()) > 0 })
	if ps := g.owned("a"); len(ps) > 0 {
		t.Fatalf("a took %v before a renewal interval passed", ps)
	}
	clk.Advance(leaseTTL / 3)
	within(t, settle, "a to take every partition", func() bool { return len(g.owned("a")) == jetstream.DefaultPartitions })
	// Its renewals were due on the clock, which did not move: its
	// deadline passes with the next step, and it fences everything (and
	// then takes the partitions again, freed by its own deletes).
	clk.Advance(leaseTTL - leaseTTL/3)
	within(t, 5*time.Second, "a to fence itself", func() bool { return g.releases("a") == jetstream.DefaultPartitions })
	if !slices.Equal(a.leases.Owned(), g.owned("a")) {
		t.Errorf("Owned %v; the callbacks say %v", a.leases.Owned(), g.owned("a"))
	}
}

func TestLeases_Options(t *testing.T) {
	s := embedded(t)
	st := openStore(t, []string{s.URL()}, "o")
	for _, o := range []jetstream.LeaseOptions{
		{},
		{Node: "a", TTL: time.Millisecond},
		{Node: "a", Partitions: -1},
	} {
		if l, err := st.Leases(t.Context(), o); err == nil {
			l.Close(t.Context())
			t.Errorf("Leases(%+v) = nil error", o)
		}
	}
}

// A proxy forwards TCP connections to a server until cut.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cutOff bool
}

func newProxy(t *testing.T, serverURL string) *proxy {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: u.Host}
	t.Cleanup(p.cut)
	go p.serve()
	return p
}

func (p *proxy) URL() string { return "nats://" + p.l.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cutOff {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

// cut closes the listener and every connection: the client's reconnects
// are refused from now on.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutOff = true
	p.l.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

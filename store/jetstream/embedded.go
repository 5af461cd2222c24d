package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// A Server is a nats-server with JetStream running in this process, on
// loopback and a random port: Embedded starts one alone (tests, a
// one-node development mode), StartCluster several that form a JetStream
// cluster (tests and benchmarks of the replicated setup). Its JetStream
// fsyncs every write (sync_interval: always).
type Server struct {
	ns   *server.Server
	opts *server.Options
}

// URL returns the client URL to give Options.URLs.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Name returns the server's name.
func (s *Server) Name() string { return s.ns.Name() }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// IsStreamLeader reports whether this server leads the named stream of
// the default account.
func (s *Server) IsStreamLeader(stream string) bool {
	return s.ns.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream)
}

func serverOptions(name, dir string) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   dir,
		// Every write is fsynced before it is acknowledged.
		SyncAlways:         true,
		JetStreamMaxMemory: 256 << 20,
	}
}

func start(ctx context.Context, opts *server.Options) (*Server, error) {
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("jetstream: nats-server %s: %w", opts.ServerName, err)
	}
	go ns.Start()
	wait := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !ns.ReadyForConnections(wait) {
		ns.Shutdown()
		return nil, fmt.Errorf("jetstream: nats-server %s not ready after %v", opts.ServerName, wait)
	}
	return &Server{ns: ns, opts: opts}, nil
}

// Embedded starts a single nats-server with JetStream storing in dir.
func Embedded(ctx context.Context, dir string) (*Server, error) {
	return start(ctx, serverOptions("herald-embedded", filepath.Join(dir, "jetstream")))
}

// A Cluster is a JetStream cluster of Servers in this process.
type Cluster struct {
	Servers []*Server
}

// StartCluster starts n servers storing under dir, each with a random
// client port on loopback and a route port picked free just before (a
// JetStream cluster needs its routes configured, so route ports cannot be
// left to the listener), and returns once they have elected a JetStream
// meta leader and every server is current.
func StartCluster(ctx context.Context, dir string, n int) (*Cluster, error) {
	if n < 1 {
		return nil, errors.New("jetstream: a cluster needs a server")
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routes := make([]*url.URL, n)
	for i, p := range ports {
		routes[i] = &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)}
	}
	c := &Cluster{}
	for i := range n {
		name := fmt.Sprintf("herald-%d", i+1)
		opts := serverOptions(name, filepath.Join(dir, name))
		opts.Cluster = server.ClusterOpts{Name: "herald", Host: "127.0.0.1", Port: ports[i]}
		opts.Routes = routes // a server ignores the route to itself
		s, err := start(ctx, opts)
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		c.Servers = append(c.Servers, s)
	}
	if err := c.waitReady(ctx, n); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("jetstream: route port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// waitReady polls until a meta leader sees n peers and every server's
// JetStream is current.
func (c *Cluster) waitReady(ctx context.Context, n int) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.ready(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("jetstream: cluster of %d did not form: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Cluster) ready(n int) bool {
	var leader *server.Server
	for _, s := range c.Servers {
		if s.ns.JetStreamIsLeader() {
			leader = s.ns
		}
	}
	if leader == nil || len(leader.JetStreamClusterPeers()) != n {
		return false
	}
	for _, s := range c.Servers {
		if !s.ns.JetStreamIsCurrent() {
			return false
		}
	}
	return true
}

// URLs returns the servers' client URLs.
func (c *Cluster) URLs() []string {
	out := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		out[i] = s.URL()
	}
	return out
}

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		s.Shutdown()
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/store/jetstream"
)

// storeEmbeddedNATS is the --store value that runs a single nats-server
// with JetStream inside Herald, storing under --data.
const storeEmbeddedNATS = "embedded-nats"

// backend is the store serve runs on, with what else Herald takes from it.
type backend struct {
	store eventing.Store
	keys  access.KeyStore // the API keys of access.Keyring
	ready func() bool     // open and connected
	// dbPath is the bbolt file whose size the metrics report ("" for
	// JetStream, which has no file of its own).
	dbPath string
	// where says in the startup log line where the data is.
	where string
	// shared is the JetStream store of --store nats://…, which other
	// Herald nodes may share (nil for bbolt and embedded-nats): the node
	// then delivers only the partitions it leases (cluster.go).
	shared *jetstream.Store
	close  func()
}

// openBackend opens the store --store names: empty, bbolt under --data;
// nats:// or tls:// URLs (comma-separated), the JetStream store on those
// servers; embedded-nats, the JetStream store on a nats-server started in
// this process under --data. onCommit receives the store's commit
// figures (metrics).
func (c *serveConfig) openBackend(ctx context.Context, logger *slog.Logger, gather time.Duration, onCommit func(int, time.Duration)) (*backend, error) {
	if c.store == "" {
		if c.natsCreds != "" || c.natsTLSCA != "" {
			return nil, errors.New("--nats-creds and --nats-tls-ca need --store nats://…")
		}
		db, err := store.Open(c.data, store.Options{Logger: logger, GatherWindow: gather, OnCommit: onCommit})
		if err != nil {
			return nil, err
		}
		return &backend{store: db, keys: db, ready: db.Ready, dbPath: db.Path(), where: c.data, close: func() { db.Close() }}, nil
	}
	if c.replicas < 0 {
		return nil, fmt.Errorf("--replicas %d: use 1 or more, or 0 (3 on a cluster, 1 on a single server)", c.replicas)
	}
	o := jetstream.Options{Creds: c.natsCreds, TLSCA: c.natsTLSCA, Replicas: c.replicas, Logger: logger, OnCommit: onCommit}
	var srv *jetstream.Server
	if c.store == storeEmbeddedNATS {
		if c.natsCreds != "" || c.natsTLSCA != "" {
			return nil, errors.New("--nats-creds and --nats-tls-ca are for --store nats://…, not embedded-nats")
		}
		var err error
		if srv, err = jetstream.Embedded(ctx, c.data); err != nil {
			return nil, fmt.Errorf("--store embedded-nats: %w", err)
		}
		// One server keeps one copy, whatever --replicas says.
		o.URLs, o.Replicas = []string{srv.URL()}, 1
	} else {
		urls, err := natsURLs(c.store)
		if err != nil {
			return nil, err
		}
		o.URLs = urls
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := jetstream.Open(octx, o)
	if err != nil {
		if srv != nil {
			srv.Shutdown()
		}
		if o.Replicas > 1 && !errors.Is(err, nats.ErrNoServers) {
			err = fmt.Errorf("%w (--replicas %d needs a JetStream cluster of at least %d servers; --replicas 0 picks 1 on a single server)", err, o.Replicas, o.Replicas)
		}
		return nil, fmt.Errorf("--store: %w", err)
	}
	shown := make([]string, len(o.URLs))
	for i, u := range o.URLs {
		shown[i] = redactURL(u)
	}
	where := strings.Join(shown, ",")
	if srv != nil {
		where = "embedded nats-server " + srv.URL() + " storing under " + c.data
	}
	logger.Info("store on NATS JetStream", slog.String("servers", where), slog.Int("replicas", o.Replicas))
	var shared *jetstream.Store
	if srv == nil {
		shared = st
	}
	return &backend{store: st, keys: st, ready: st.Ready, where: where, shared: shared, close: func() {
		st.Close()
		if srv != nil {
			srv.Shutdown()
		}
	}}, nil
}

// natsURLs splits a --store list of NATS server URLs. The first names
// its scheme; a later one without a scheme takes the first's, so
// nats://h1:4222,h2:4222,h3:4222 is the three servers (the form nats
// clients accept).
func natsURLs(list string) ([]string, error) {
	var urls []string
	scheme := ""
	for _, u := range strings.Split(list, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		switch {
		case strings.HasPrefix(u, "nats://"), strings.HasPrefix(u, "tls://"):
			if scheme == "" {
				scheme = u[:strings.Index(u, "://")+3]
			}
		case scheme != "" && !strings.Contains(u, "://"):
			u = scheme + u
		default:
			return nil, fmt.Errorf("--store %q: want nats://host:port (or tls://), comma-separated, or %s", redactURL(u), storeEmbeddedNATS)
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("--store %q: no server URL", list)
	}
	return urls, nil
}

// redactURL hides the password of a nats://user:password@host URL, so
// that no log line or error holds it (use --nats-creds instead).
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		if i := strings.LastIndex(u, "@"); i >= 0 {
			return "…@" + u[i+1:]
		}
		return u
	}
	return p.Redacted()
}

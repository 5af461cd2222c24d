package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/eventing/presence"
	"github.com/herald-eventing/herald/store/jetstream"
	"github.com/herald-eventing/herald/transports/guard"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/metrics"
	"github.com/herald-eventing/herald/transports/ratelimit"
	"github.com/herald-eventing/herald/transports/soap"
	"github.com/herald-eventing/herald/transports/tlsconf"
)

// serveConfig holds herald serve's flags.
type serveConfig struct {
	addr            string
	data            string
	store           string
	natsCreds       string
	natsTLSCA       string
	replicas        int
	node            string
	partitions      int
	leaseTTL        time.Duration
	logLevel        string
	logFormat       string
	defaultLease    time.Duration
	maxLease        time.Duration
	endOnShutdown   bool
	shutdownTimeout time.Duration
	workers         int
	timeout         time.Duration
	schedule        string
	failureLimit    int
	failureWindow   time.Duration
	retention       time.Duration
	gather          time.Duration
	settings        map[string]*string // processors' settings by name

	auth              string
	insecure          bool
	adminKeyFile      string
	adminKeyValue     string
	maxSubsPerKey     int
	rateManagement    float64
	ratePublish       float64
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	tlsCert           string
	tlsKey            string
	clientCAFile      string
	deliveryCAFile    string
	allowTargets      string
	presenceRules     string
	allowOrigins      string
}

// define registers serve's settings: one line each; the flag, its
// environment variable, its config-file key and herald config follow.
func (c *serveConfig) define(s *settings) {
	s.String(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	s.String(&c.data, "data", "./data", "data directory holding the bbolt file (or, with --store embedded-nats, the nats-server's files)")
	s.String(&c.store, "store", "", "where the data lives: empty for bbolt under --data; nats://h1:4222,h2:4222 for NATS JetStream; embedded-nats for a one-server JetStream in this process, under --data")
	s.String(&c.natsCreds, "nats-creds", "", "NATS credentials file (JWT and seed) for --store nats://…")
	s.String(&c.natsTLSCA, "nats-tls-ca", "", "CA certificates (PEM) that verify the NATS servers of --store tls://…")
	s.String(&c.node, "node", "", "this node's name among the Herald nodes on one --store nats://… (default: host name and listen port)")
	s.Int(&c.partitions, "partitions", eventing.DefaultPartitions, "partitions the subscriptions are hashed into on --store nats://… (the same on every node); each is delivered by one node at a time")
	s.Duration(&c.leaseTTL, "lease-ttl", jetstream.DefaultLeaseTTL, "on --store nats://…, how long a dead node's partitions wait before another node takes them; a node that cannot renew stops delivering before then")
	s.Int(&c.replicas, "replicas", 3, "copies of each stream Herald creates on NATS (0: 3 on a cluster, 1 on a single server); existing streams keep theirs")
	s.String(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	s.String(&c.logFormat, "log-format", "text", "log format: text or json")
	s.Duration(&c.defaultLease, "default-lease", time.Hour, "lease granted to a wse:Subscribe without Expires")
	s.Duration(&c.maxLease, "max-lease", 30*24*time.Hour, "longest lease granted (longer requests are cut to it, or refused in 2011 without BestEffort; 0: no limit)")
	s.Bool(&c.endOnShutdown, "end-subscriptions-on-shutdown", false, "on shutdown, end every subscription and send SubscriptionEnd (SourceShuttingDown) to its EndTo")
	s.Duration(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown waits for deliveries in flight")
	s.Int(&c.workers, "delivery-workers", 64, "deliveries in flight at once")
	s.Duration(&c.timeout, "delivery-timeout", 15*time.Second, "timeout of one delivery attempt")
	s.String(&c.schedule, "retry-schedule", "5s,5m,30m,2h,5h,10h,10h", "delays before each retry of a failed delivery (comma-separated); the first attempt is immediate")
	s.Int(&c.failureLimit, "failure-limit", 10, "consecutive failed attempts (spanning --failure-window) after which a subscription ends; 0 or less: never")
	s.Duration(&c.failureWindow, "failure-window", 24*time.Hour, "how long consecutive failures must span before a subscription ends")
	s.Duration(&c.retention, "retention", 7*24*time.Hour, "how long delivered events stay in the log")
	s.String(&c.auth, "auth", "", "on or off: require an API key on every request (default: off on a loopback --addr, on otherwise)")
	s.Bool(&c.insecure, "insecure", false, "allow --auth off on an address that is not loopback")
	s.String(&c.adminKeyFile, "admin-key-file", "", "file holding the bootstrap admin key (else admin-key, HERALD_ADMIN_KEY)")
	s.Hidden(&c.adminKeyValue, "admin-key", "the bootstrap admin key").Secret()
	s.Int(&c.maxSubsPerKey, "max-subscriptions-per-key", 10000, "subscriptions one non-admin key may hold (0 or less: no limit)")
	s.Float64(&c.rateManagement, "rate-management", 50, "SOAP operations per second per non-admin key (bursts of twice that; 0: no limit)")
	s.Float64(&c.ratePublish, "rate-publish", 1000, "events per second per non-admin publisher key (bursts of twice that; 0: no limit)")
	s.Duration(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	s.Duration(&c.readTimeout, "read-timeout", 30*time.Second, "how long a client may take to send a whole request")
	s.Duration(&c.writeTimeout, "write-timeout", 2*time.Minute, "how long an answer may take (long polls and streams set their own deadlines)")
	s.Duration(&c.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	s.String(&c.tlsCert, "tls-cert", "", "certificate file (PEM): serve HTTPS and HTTP/2; reloaded when it changes")
	s.String(&c.tlsKey, "tls-key", "", "private key file (PEM) of --tls-cert")
	s.String(&c.clientCAFile, "client-ca-file", "", "CA certificates (PEM) that sign client certificates; a verified certificate's subject CN names the key it stands for")
	s.String(&c.presenceRules, "presence-rules", "", "TOML file of presence and service-level rules (see README: Presence and service levels); without it, an instance that publishes is up and 10 minutes of silence make it unknown")
	s.String(&c.allowOrigins, "allow-origins", "", "web origins (comma-separated, exact: https://app.example.org) whose pages may read /stream, the pull reads and /ws; none by default")
	s.String(&c.allowTargets, "allow-targets", "default", "CIDRs that deliveries may go to besides public addresses (comma-separated; default: 127.0.0.0/8,::1/128 on a loopback --addr, none otherwise; behind a local proxy set it to \"\")")
	s.String(&c.deliveryCAFile, "delivery-ca-file", "", "CA certificates (PEM) that outgoing deliveries trust besides the system's")
	s.Duration(&c.gather, "commit-gather", 1500*time.Microsecond, "under concurrent publishing, how long a commit may wait for more events to share its disk flush (0: never)")
	// Every registered processor's settings become settings too, so a
	// new processor needs no change here.
	c.settings = map[string]*string{}
	all := eventing.AllSettings()
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, ps := range all[n] {
			v := new(string)
			st := s.String(v, ps.Name, ps.Default, ps.Usage).Env(ps.Env)
			if ps.Secret {
				st.Secret()
			}
			c.settings[ps.Name] = v
		}
	}
	s.finish()
}

// parseServe parses serve's (and config's) command line and resolves
// every setting.
func parseServe(cmd, synopsis string, args []string, stdout io.Writer) (*serveConfig, *settings, *outputFormat, error) {
	var cfg serveConfig
	fs := newFlags(cmd, synopsis, stdout)
	s := newSettings(fs)
	var out *outputFormat
	if cmd == "config" {
		out = new(outputFormat)
		registerOutput(fs, out)
	}
	cfg.define(s)
	if err := fs.parseNone(args); err != nil {
		return nil, nil, nil, err
	}
	if err := s.resolve(); err != nil {
		return nil, nil, nil, err
	}
	return &cfg, s, out, nil
}

// configCmd is herald config: serve's settings, resolved as serve would,
// printed with where each came from.
func configCmd(_ context.Context, args []string, stdout, _ io.Writer) error {
	_, s, out, err := parseServe("config", "config [serve's flags] [--config FILE] [--output json]", args, stdout)
	if err != nil {
		return err
	}
	return s.print(stdout, out)
}

func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--retry-schedule: %q is not a duration", f)
		}
		out = append(out, d)
	}
	if out == nil {
		out = []time.Duration{}
	}
	return out, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", format)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, resolved, _, err := parseServe("serve", "serve [--config FILE] [flags]", args, stdout)
	if err != nil {
		return err
	}
	logOut := newLogWriter(stderr, logBufferLimit)
	defer logOut.Close()
	logger, err := newLogger(logOut, cfg.logLevel, cfg.logFormat)
	if err != nil {
		return err
	}
	authOn, err := cfg.authMode(logger)
	if err != nil {
		return err
	}
	adminKey, err := cfg.adminKey()
	if err != nil {
		return err
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.clientCAFile != "" && cfg.tlsCert == "" {
		return errors.New("--client-ca-file needs --tls-cert and --tls-key")
	}
	schedule, err := parseSchedule(cfg.schedule)
	if err != nil {
		return err
	}
	gather := cfg.gather
	if gather == 0 {
		gather = -1
	}
	m := metrics.New()
	be, err := cfg.openBackend(ctx, logger, gather, m.Committed)
	if err != nil {
		return err
	}
	defer be.close()
	db := be.store

	roots, err := tlsconf.RootCAs(cfg.deliveryCAFile)
	if err != nil {
		return fmt.Errorf("--delivery-ca-file: %w", err)
	}
	allow := cfg.allowTargets
	if allow == "default" {
		// Loopback targets for a loopback server (the default).
		// Behind a local TLS proxy, set --allow-targets "" (or the
		// ranges needed) so that subscribers cannot reach this
		// machine's other services.
		allow = ""
		if isLoopback(cfg.addr) {
			allow = "127.0.0.0/8,::1/128"
		}
	}
	prefixes, err := guard.ParseAllow(allow)
	if err != nil {
		return fmt.Errorf("--allow-targets: %w", err)
	}
	targets := guard.New(guard.Options{Allow: prefixes})
	// Deliveries to subscribers' targets go through the guard at every
	// dial; the operator's own servers (the SMS gateway) do not.
	transport := targets.Transport()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: transport}
	service := http.DefaultTransport.(*http.Transport).Clone()
	service.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	serviceClient := &http.Client{Transport: service}
	maxLease := cfg.maxLease
	if maxLease == 0 {
		maxLease = -1
	}
	failureLimit := cfg.failureLimit
	if failureLimit <= 0 {
		failureLimit = -1
	}
	dispatcherOpts := eventing.DispatcherOptions{
		Workers: cfg.workers, Timeout: cfg.timeout, Schedule: schedule,
		FailureLimit: failureLimit, FailureWindow: cfg.failureWindow, Retention: cfg.retention,
		Observer: m,
	}
	var subsRev uint64
	if be.shared != nil {
		if cfg.partitions < 1 {
			return fmt.Errorf("--partitions %d: use 1 or more", cfg.partitions)
		}
		if cfg.endOnShutdown {
			// One node stopping must not end the subscriptions the
			// other nodes go on delivering.
			return errors.New("--end-subscriptions-on-shutdown ends every subscription, and other nodes share them on --store nats://…; leave it off")
		}
		dispatcherOpts.Partitions = cfg.partitions
		// Changes after this revision reach the node through the watch,
		// those before it through the service's listing.
		if subsRev, err = be.shared.SubscriptionsRevision(ctx); err != nil {
			return err
		}
	}
	svc, err := newService(ctx, eventing.Options{
		Store: db, Logger: logger, Ender: &soap.Ender{Client: client},
		DefaultLease: cfg.defaultLease, MaxLease: maxLease, EndOnShutdown: cfg.endOnShutdown,
		Setting: func(name string) string {
			if v := cfg.settings[name]; v != nil {
				return *v
			}
			return ""
		},
		HTTPClient: client, ServiceHTTPClient: serviceClient, Targets: targets,
		Authorize: authOn, MaxSubscriptionsPerOwner: cfg.maxSubsPerKey,
		Dispatcher: dispatcherOpts,
	})
	if err != nil {
		return err
	}
	m.Watch(metrics.Options{Service: svc, DBPath: be.dbPath})
	var rules *presence.Rules
	if cfg.presenceRules != "" {
		if rules, err = presence.LoadRules(cfg.presenceRules); err != nil {
			return err
		}
	}
	tracker, err := presence.New(presence.Options{Log: db, Publisher: svc, Clock: svc.Clock(), Rules: rules, Logger: logger})
	if err != nil {
		return err
	}
	keyring, err := access.NewKeyring(ctx, be.keys, adminKey, nil)
	if err != nil {
		return err
	}
	if authOn && !keyring.HasAdmin() && len(keyring.Keys()) == 0 {
		logger.Warn("authorization is on but there is no key: set HERALD_ADMIN_KEY (or --admin-key-file) to create some")
	}
	var tlsConfig *tls.Config
	var clientSubject func(*http.Request) (string, bool)
	if cfg.tlsCert != "" {
		reloader, err := tlsconf.NewReloader(cfg.tlsCert, cfg.tlsKey, tlsconf.ReloaderOptions{Logger: logger})
		if err != nil {
			return err
		}
		if tlsConfig, err = tlsconf.ServerConfig(reloader, cfg.clientCAFile); err != nil {
			return err
		}
		if cfg.clientCAFile != "" {
			clientSubject = func(r *http.Request) (string, bool) { return tlsconf.ClientSubject(r.TLS) }
		}
	}
	// node is set (by joinCluster, below) before the server answers.
	var node *clusterNode
	handler, err := httpapi.New(httpapi.Options{
		Service: svc, Logger: logger, Keyring: keyring, Authorize: authOn, ClientSubject: clientSubject,
		ManagementLimiter: ratelimit.New(cfg.rateManagement, int(2*cfg.rateManagement), nil),
		PublishLimiter:    ratelimit.New(cfg.ratePublish, int(2*cfg.ratePublish), nil),
		Metrics:           m,
		Presence:          tracker,
		AllowOrigins:      origins(cfg.allowOrigins),
		Ready: func() error {
			switch {
			case !be.ready():
				return errors.New("the store is closed")
			case !svc.Dispatcher().Running():
				return errors.New("delivery is not running")
			case node != nil && !node.leases.Healthy():
				return errors.New("cut off from the other nodes: the partition leases cannot be renewed")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}

	if err := svc.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	if be.shared != nil {
		if node, err = joinCluster(ctx, be.shared, svc, cfg, subsRev, ln.Addr(), logger); err != nil {
			ln.Close()
			_ = svc.Shutdown(context.Background())
			return err
		}
	}
	srv := &http.Server{Handler: handler, TLSConfig: tlsConfig,
		ReadHeaderTimeout: cfg.readHeaderTimeout, ReadTimeout: cfg.readTimeout,
		WriteTimeout: cfg.writeTimeout, IdleTimeout: cfg.idleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}

	// Long polls and streams end when the server starts shutting down.
	srv.RegisterOnShutdown(svc.Drain)
	logger.Info("herald listening", slog.String("addr", ln.Addr().String()), slog.Bool("tls", tlsConfig != nil), slog.Bool("auth", authOn), slog.String("data", be.where),
		slog.String("message_endpoint", svc.MessagePath()), slog.Any("processors", svc.AvailableProcessors()), slog.String("config", resolved.file))
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			// HTTPS, with HTTP/2 for the clients that negotiate it; the
			// certificate comes from the reloader.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	var serveErr error
	select {
	case serveErr = <-errc:
		logger.Error("HTTP server failed", slog.Any("err", serveErr))
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	// The HTTP server and delivery each get the whole timeout.
	hctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(hctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("HTTP shutdown", slog.Any("err", err))
	}
	dctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	tracker.Close() // publishes what it still holds, before delivery stops
	if err := svc.Shutdown(dctx); err != nil {
		logger.Warn("delivery shutdown", slog.Any("err", err))
	}
	if node != nil {
		// After the last flush: the next holders start from it.
		node.leave(dctx)
	}
	logger.Info("stopped")
	return serveErr
}

// isLoopback reports whether a listen address binds only to loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// authMode decides whether authorization is on: the flag's word, else on
// unless the server listens only on loopback. Off on another address needs
// --insecure.
func (c *serveConfig) authMode(logger *slog.Logger) (bool, error) {
	loopback := isLoopback(c.addr)
	switch strings.ToLower(strings.TrimSpace(c.auth)) {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		if !loopback && !c.insecure {
			return false, fmt.Errorf("--auth off on %s, which is not a loopback address: anyone who reaches it could do anything; add --insecure if you really mean it", c.addr)
		}
		if !loopback {
			logger.Warn("authorization is OFF on a network address (--insecure): anyone who reaches Herald may do anything", slog.String("addr", c.addr))
		} else {
			logger.Warn("authorization is off: fine on loopback, where only this machine reaches Herald; use --auth on (and HERALD_ADMIN_KEY) before listening on a network", slog.String("addr", c.addr))
		}
		return false, nil
	case "":
		if loopback {
			logger.Warn("authorization is off because Herald listens on loopback only; it is on by default on any other address (--auth on to require keys here)", slog.String("addr", c.addr))
			return false, nil
		}
		return true, nil
	}
	return false, fmt.Errorf("--auth %q: on or off", c.auth)
}

// adminKey returns the bootstrap admin key: --admin-key-file, else
// admin-key (HERALD_ADMIN_KEY or the config file), else none.
func (c *serveConfig) adminKey() (string, error) {
	if c.adminKeyFile != "" {
		b, err := os.ReadFile(c.adminKeyFile)
		if err != nil {
			return "", fmt.Errorf("--admin-key-file: %w", err)
		}
		k := strings.TrimSpace(string(b))
		if k == "" {
			return "", fmt.Errorf("--admin-key-file %s is empty", c.adminKeyFile)
		}
		return k, nil
	}
	return strings.TrimSpace(c.adminKeyValue), nil
}

// origins splits --allow-origins.
func origins(csv string) []string {
	var out []string
	for _, o := range strings.Split(csv, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

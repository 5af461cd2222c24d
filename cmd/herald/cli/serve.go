package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/soap"
)

// serveConfig holds herald serve's flags.
type serveConfig struct {
	addr            string
	data            string
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
	settings        map[string]*string
}

func (c *serveConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", envOr("HERALD_ADDR", "127.0.0.1:8080"), "address to listen on (HERALD_ADDR)")
	fs.StringVar(&c.data, "data", envOr("HERALD_DATA", "./data"), "data directory holding the bbolt file (HERALD_DATA)")
	fs.StringVar(&c.logLevel, "log-level", envOr("HERALD_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", envOr("HERALD_LOG_FORMAT", "text"), "log format: text or json")
	fs.DurationVar(&c.defaultLease, "default-lease", time.Hour, "lease granted to a wse:Subscribe without Expires")
	fs.DurationVar(&c.maxLease, "max-lease", 30*24*time.Hour, "longest lease granted (longer requests are cut to it; 0: no limit)")
	fs.BoolVar(&c.endOnShutdown, "end-subscriptions-on-shutdown", false, "on shutdown, end every subscription and send SubscriptionEnd (SourceShuttingDown) to its EndTo")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown waits for deliveries in flight")
	fs.IntVar(&c.workers, "delivery-workers", 64, "deliveries in flight at once")
	fs.DurationVar(&c.timeout, "delivery-timeout", 15*time.Second, "timeout of one delivery attempt")
	fs.StringVar(&c.schedule, "retry-schedule", "5s,5m,30m,2h,5h,10h,10h", "delays before each retry of a failed delivery (comma-separated); the first attempt is immediate")
	fs.IntVar(&c.failureLimit, "failure-limit", 10, "consecutive failed attempts (spanning --failure-window) after which a subscription ends; 0 or less: never")
	fs.DurationVar(&c.failureWindow, "failure-window", 24*time.Hour, "how long consecutive failures must span before a subscription ends")
	fs.DurationVar(&c.retention, "retention", 7*24*time.Hour, "how long delivered events stay in the log")
	fs.DurationVar(&c.gather, "commit-gather", 1500*time.Microsecond, "under concurrent publishing, how long a commit may wait for more events to share its disk flush (0: never)")
	// Every registered processor's settings become flags, so a new
	// processor needs no change here.
	c.settings = map[string]*string{}
	all := eventing.AllSettings()
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, s := range all[n] {
			usage := s.Usage
			if s.Env != "" {
				usage += " (" + s.Env + ")"
			}
			def := s.Default
			if s.Env != "" {
				def = envOr(s.Env, def)
			}
			c.settings[s.Name] = fs.String(s.Name, def, usage)
		}
	}
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

func serve(ctx context.Context, args []string, _, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlags("serve", "serve [flags]", stderr)
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	logger, err := newLogger(stderr, cfg.logLevel, cfg.logFormat)
	if err != nil {
		return err
	}
	schedule, err := parseSchedule(cfg.schedule)
	if err != nil {
		return err
	}
	gather := cfg.gather
	if gather == 0 {
		gather = -1
	}
	db, err := store.Open(cfg.data, store.Options{Logger: logger, GatherWindow: gather})
	if err != nil {
		return err
	}
	defer db.Close()

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 4096
	transport.MaxIdleConnsPerHost = 1024
	client := &http.Client{Transport: transport}
	maxLease := cfg.maxLease
	if maxLease == 0 {
		maxLease = -1
	}
	failureLimit := cfg.failureLimit
	if failureLimit <= 0 {
		failureLimit = -1
	}
	svc, err := eventing.NewService(ctx, eventing.Options{
		Store: db, Logger: logger, Ender: &soap.Ender{Client: client},
		DefaultLease: cfg.defaultLease, MaxLease: maxLease, EndOnShutdown: cfg.endOnShutdown,
		Setting: func(name string) string {
			if v := cfg.settings[name]; v != nil {
				return *v
			}
			return ""
		},
		HTTPClient: client,
		Dispatcher: eventing.DispatcherOptions{
			Workers: cfg.workers, Timeout: cfg.timeout, Schedule: schedule,
			FailureLimit: failureLimit, FailureWindow: cfg.failureWindow, Retention: cfg.retention,
		},
	})
	if err != nil {
		return err
	}
	handler, err := httpapi.New(httpapi.Options{Service: svc, Logger: logger})
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
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	// Long polls and streams end when the server starts shutting down.
	srv.RegisterOnShutdown(svc.Drain)
	logger.Info("herald listening", slog.String("addr", ln.Addr().String()), slog.String("data", cfg.data),
		slog.String("message_endpoint", svc.MessagePath()), slog.Any("processors", svc.AvailableProcessors()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
	if err := svc.Shutdown(dctx); err != nil {
		logger.Warn("delivery shutdown", slog.Any("err", err))
	}
	logger.Info("stopped")
	return serveErr
}

package jetstream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
)

// SchemaVersion is the layout version recorded in the event stream's
// metadata (key herald_schema_version), which Open checks.
const SchemaVersion = "1"

// ErrSchemaVersion is returned by Open for streams written by another
// version of the layout.
var ErrSchemaVersion = errors.New("jetstream: unsupported schema version")

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("jetstream: closed")

// DefaultPrefix names Herald's streams and buckets when Options.Prefix is
// empty.
const DefaultPrefix = "herald"

// Options configure Open.
type Options struct {
	// URLs are the NATS servers to connect to (any of a cluster's; the
	// client learns the others).
	URLs []string
	// Creds is the path of a NATS credentials file (JWT and seed), if
	// the servers require one.
	Creds string
	// TLSCA is the path of a PEM file of CA certificates to verify the
	// servers by, for tls:// servers with a private CA.
	TLSCA string
	// Replicas is how many servers keep each stream Herald creates. 0
	// picks 3 on a cluster and 1 on a single server. Existing streams keep
	// the replicas they were made with.
	Replicas int
	// Prefix names the streams, buckets and subjects (default "herald":
	// stream herald_events on subjects herald.ev.>, buckets
	// herald_subscriptions and so on), so that several Herald
	// installations can share an account. Letters, digits, '-' and '_'.
	Prefix string
	// Logger receives connection events (nil: discarded).
	Logger *slog.Logger
	// Name is the NATS connection name shown by the servers (default
	// "herald").
	Name string
	// OnCommit, when set, is called after each acknowledged Append with
	// one event and how long the stream took to acknowledge it (retries
	// included): the counterpart of the bbolt store's commit callback,
	// without group commit (the servers batch replicated writes).
	OnCommit func(events int, took time.Duration)
	// Clock runs the event watcher's guard (default
	// eventing.SystemClock); requests stay bounded on wall time.
	Clock eventing.Clock
	// WatchStall is how long the event watcher may deliver nothing while
	// the stream holds events after the last one it delivered before its
	// guard replaces it (default 5 s, see watch.go).
	WatchStall time.Duration
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Store is Herald's store on NATS JetStream: the event log is one stream,
// everything else lives in KV buckets. It is safe for concurrent use, and
// several Stores (several Herald nodes) may share the same streams. See
// the package documentation for the layout and what each call costs.
type Store struct {
	nc       *nats.Conn
	js       natsjs.JetStream
	logger   *slog.Logger
	onCommit func(events int, took time.Duration)
	clock    eventing.Clock
	// watchStall: see Options.WatchStall.
	watchStall time.Duration

	streamName string // the event log
	subjPrefix string // "herald.ev."
	events     natsjs.Stream

	subs, subKeys, states, dead, settings, keys *bucket

	head atomic.Uint64
	// trimmed is the sequence number this Store's last Trim purged
	// below (log.go).
	trimmed atomic.Uint64

	watchMu  sync.RWMutex
	watchers []func([]*eventing.Event)
	watch    *watcher
	// subsReplaced counts the subscription watchers replaced (watchsubs.go).
	subsReplaced atomic.Int64
	// subsDeaf, when it is subsReplaced+1, makes the current subscription
	// watcher drop what it receives: tests stall it so (export_test.go).
	subsDeaf atomic.Int64
	// leaderDeaf makes every message get of the log's leader fail, as
	// while the stream's leader does not answer the API (tests only).
	leaderDeaf atomic.Bool
	// listDeaf is how many listings' watchers from now on deliver
	// nothing (tests only); listStall is listStall unless a test set it.
	listDeaf  atomic.Int32
	listStall atomic.Int64

	revMu      sync.Mutex
	revs       map[string]uint64 // delivery state revisions, by subscription id (state.go)
	through    uint64            // the matched-through position last read or written
	throughRev uint64            // and its revision (0: none seen)
	// positions: the partitions' positions last read or written, by key,
	// with their revisions (partition.go).
	positions map[string][2]uint64

	closeOnce sync.Once
	closed    atomic.Bool
}

var (
	_ eventing.Store  = (*Store)(nil)
	_ access.KeyStore = (*Store)(nil)
)

// A bucket is one KV bucket and the stream behind it.
type bucket struct {
	kv     natsjs.KeyValue
	stream natsjs.Stream
	// subjPrefix is the prefix of its keys' subjects: "$KV.<bucket>.".
	subjPrefix string
}

// Open connects to the servers and creates Herald's streams and buckets
// where they do not exist yet. ctx bounds the connection and the setup.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(o.Prefix) {
		return nil, fmt.Errorf("jetstream: prefix %q: use 1 to 32 letters, digits, '-' or '_'", o.Prefix)
	}
	if len(o.URLs) == 0 {
		return nil, errors.New("jetstream: no server URL")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "herald"
	}
	if o.Clock == nil {
		o.Clock = eventing.SystemClock{}
	}
	if o.WatchStall <= 0 {
		o.WatchStall = defaultWatchStall
	}
	logger := o.Logger
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// A server that stops answering (a frozen process, a network
		// partition) is noticed within about 6 s, not the default 4
		// minutes: until then the connection looks alive, /readyz says
		// ready, and the client does not move to another server.
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("disconnected from NATS", slog.Any("err", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("reconnected to NATS", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if d, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(d)))
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: connect %s: %w", strings.Join(o.URLs, ","), err)
	}
	s, err := open(ctx, nc, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, nc *nats.Conn, o Options) (*Store, error) {
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
		if nc.ConnectedClusterName() != "" {
			o.Replicas = 3
		}
	}
	s := &Store{
		nc: nc, js: js, logger: o.Logger, onCommit: o.OnCommit,
		clock: o.Clock, watchStall: o.WatchStall,
		streamName: o.Prefix + "_events",
		subjPrefix: o.Prefix + ".ev.",
		revs:       map[string]uint64{},
	}
	s.events, err = ensureStream(ctx, js, natsjs.StreamConfig{
		Name:        s.streamName,
		Description: "Herald's event log: the stream sequence is the event's sequence number",
		Subjects:    []string{s.subjPrefix + ">"},
		Storage:     natsjs.FileStorage,
		Replicas:    o.Replicas,
		Retention:   natsjs.LimitsPolicy,
		Discard:     natsjs.DiscardOld,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      0,
		// Append retries a publish with the same Nats-Msg-Id for up to
		// this long, so a retried append is stored once.
		Duplicates: 2 * time.Minute,
		// Batch reads by sequence and subject (ReadEvents); the
		// followers answer too, see readEvents for the check that makes
		// that safe.
		AllowDirect: true,
		// Events are only removed by Trim's purge.
		DenyDelete: true,
		// Writes are flushed when stored (the default); the server's
		// sync_interval decides when they are fsynced (package doc).
		PersistMode: natsjs.DefaultPersistMode,
		Metadata:    map[string]string{"herald_schema_version": SchemaVersion},
	})
	if err != nil {
		return nil, err
	}
	if v := s.events.CachedInfo().Config.Metadata["herald_schema_version"]; v != SchemaVersion {
		return nil, fmt.Errorf("%w %q in stream %s (this Herald reads %q)", ErrSchemaVersion, v, s.streamName, SchemaVersion)
	}
	// The buckets are independent streams: create them at once (on a
	// cluster each creation is a round of the meta group).
	buckets := []struct {
		p    **bucket
		name string
		desc string
	}{
		{&s.subs, "subscriptions", "subscriptions by id"},
		{&s.subKeys, "subscription_keys", "subscription id by the SHA-256 of its management identity key"},
		{&s.states, "delivery_state", "delivery state by subscription id"},
		{&s.dead, "dead_letters", "dead letters by subscription id and sequence number"},
		{&s.settings, "settings", "settings by name"},
		{&s.keys, "keys", "API keys by name (their SHA-256, never the key)"},
	}
	errs := make([]error, len(buckets))
	var wg sync.WaitGroup
	for i, b := range buckets {
		wg.Go(func() {
			*b.p, errs[i] = ensureBucket(ctx, js, o.Prefix+"_"+b.name, b.desc, o.Replicas)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	info, err := s.events.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("jetstream: stream %s: %w", s.streamName, err)
	}
	s.head.Store(info.State.LastSeq)
	if s.watch, err = s.startWatch(ctx, info.State.LastSeq+1); err != nil {
		return nil, err
	}
	return s, nil
}

// ensureStream returns the stream named cfg.Name, creating it with cfg if
// it does not exist. An existing stream is used as it is.
//
// Nodes started together race to create the same streams, and a clustered
// stream that another node is creating has no leader for a moment: an
// info request for it then goes unanswered. So each request waits at most
// streamRequestTimeout, and a request that timed out (or a creation that
// lost the race) is tried again until ctx ends.
func ensureStream(ctx context.Context, js natsjs.JetStream, cfg natsjs.StreamConfig) (natsjs.Stream, error) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		st, err := ensureStreamOnce(ctx, js, cfg)
		if err == nil || ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, natsjs.ErrStreamNameAlreadyInUse)) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// streamRequestTimeout bounds one request of ensureStream.
const streamRequestTimeout = time.Second

func ensureStreamOnce(ctx context.Context, js natsjs.JetStream, cfg natsjs.StreamConfig) (natsjs.Stream, error) {
	rctx, cancel := context.WithTimeout(ctx, streamRequestTimeout)
	defer cancel()
	st, err := js.Stream(rctx, cfg.Name)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, natsjs.ErrStreamNotFound) {
		return nil, fmt.Errorf("jetstream: stream %s: %w", cfg.Name, err)
	}
	st, err = js.CreateStream(rctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("jetstream: create stream %s: %w", cfg.Name, err)
	}
	return st, nil
}

// ensureBucket opens the KV bucket name, creating its stream if needed.
// The stream is the one nats.go makes for a KV bucket (history 1, file
// storage) but with direct gets off: a KV read then goes to the stream
// leader, so a node reads what it (or any node) wrote before, where a
// follower could answer with an older value.
func ensureBucket(ctx context.Context, js natsjs.JetStream, name, desc string, replicas int) (*bucket, error) {
	st, err := ensureStream(ctx, js, natsjs.StreamConfig{
		Name:              "KV_" + name,
		Description:       "Herald: " + desc,
		Subjects:          []string{"$KV." + name + ".>"},
		Storage:           natsjs.FileStorage,
		Replicas:          replicas,
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxConsumers:      -1,
		AllowRollup:       true,
		DenyDelete:        true,
		Duplicates:        2 * time.Minute,
		Discard:           natsjs.DiscardNew,
		AllowDirect:       false,
		// Purge markers expire (markerTTL).
		AllowMsgTTL: true,
	})
	if err != nil {
		return nil, err
	}
	// Bind to the bucket; a stream that another node has just created
	// may not answer yet (see ensureStream), which reads as not found.
	var kv natsjs.KeyValue
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		rctx, cancel := context.WithTimeout(ctx, streamRequestTimeout)
		kv, err = js.KeyValue(rctx, name)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, natsjs.ErrBucketNotFound)) {
			return nil, fmt.Errorf("jetstream: bucket %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("jetstream: bucket %s: %w", name, err)
		case <-time.After(wait):
		}
	}
	return &bucket{kv: kv, stream: st, subjPrefix: "$KV." + name + "."}, nil
}

// markerTTL is how long a deleted key's purge marker stays. Deletions
// leave a marker, not nothing, so that every change of a bucket is a
// message with a sequence number, which list's check against the leader
// relies on; the marker then expires.
const markerTTL = time.Hour

// purge removes every revision of key, leaving a marker that expires after
// markerTTL; with rev > 0 only if rev is still the key's revision
// (natsjs.ErrKeyRevisionMismatch otherwise).
func (b *bucket) purge(ctx context.Context, key string, rev uint64) error {
	opts := []natsjs.KVDeleteOpt{natsjs.PurgeTTL(markerTTL)}
	if rev > 0 {
		opts = append(opts, natsjs.LastRevision(rev))
	}
	return b.kv.Purge(ctx, key, opts...)
}

// An entry is a key's current value in a bucket.
type entry struct {
	key   string
	value []byte
	rev   uint64
}

// list calls fn for the current value of every key of b matching pattern
// (a KV key pattern), in the order they were last written.
//
// It reads through a KV watcher, an ephemeral consumer that the servers
// place on any replica of the bucket's stream, not necessarily the leader:
// its view may lack the newest writes. So the leader's last sequence
// number is taken first, and what the watcher's replica had not got
// (everything after the newest revision it delivered) is then read from
// the leader, one message get at a time, usually none.
func (b *bucket) list(ctx context.Context, s *Store, pattern string, fn func(entry) error) error {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("jetstream: list %s: %w", b.kv.Bucket(), err)
	}
	last := info.State.LastSeq
	var (
		entries []entry
		index   map[string]int
		newest  uint64
	)
	set := func(e entry, deleted bool) {
		if i, ok := index[e.key]; ok {
			entries[i].value = nil // superseded: dropped below
			delete(index, e.key)
		}
		if !deleted {
			index[e.key] = len(entries)
			entries = append(entries, e)
		}
	}
	for attempt := 1; ; attempt++ {
		entries, index, newest = nil, map[string]int{}, 0
		err = b.watchAll(ctx, s, pattern, func(e natsjs.KeyValueEntry) {
			newest = max(newest, e.Revision())
			set(entry{e.Key(), e.Value(), e.Revision()}, false)
		})
		if err == nil || !errors.Is(err, errListStalled) || attempt == listAttempts {
			break
		}
		s.logger.Warn("listing stalled; listing again with a new watcher", slog.String("bucket", b.kv.Bucket()), slog.Int("attempt", attempt))
	}
	if err != nil {
		return err
	}
	for seq := newest + 1; seq <= last; {
		m, err := s.leaderGet(ctx, b.stream.CachedInfo().Config.Name, seq, b.subjPrefix+pattern)
		if err != nil {
			return fmt.Errorf("jetstream: list %s: %w", b.kv.Bucket(), err)
		}
		if m == nil || m.Seq > last {
			break
		}
		deleted := bytes.Contains(m.Header, []byte("KV-Operation"))
		set(entry{strings.TrimPrefix(m.Subject, b.subjPrefix), m.Data, m.Seq}, deleted)
		seq = m.Seq + 1
	}
	for i, e := range entries {
		if j, ok := index[e.key]; !ok || j != i {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// listStall is how long a listing's watcher may deliver nothing before it
// counts as stalled: an ordered consumer placed on a server that is
// recovering (after a leader's death) can wait far longer than that
// before it delivers (10 s in a failover test), and a new one may be
// placed on a server that answers. listAttempts bounds the watchers a
// listing tries.
const (
	listStall    = 5 * time.Second
	listAttempts = 3
)

// errListStalled is a listing's watcher that delivered nothing for
// listStall.
var errListStalled = errors.New("the watcher delivered nothing in time")

// watchAll calls fn with the current value of every key matching pattern,
// from one KV watcher, until the watcher says the initial values are done.
func (b *bucket) watchAll(ctx context.Context, s *Store, pattern string, fn func(natsjs.KeyValueEntry)) error {
	w, err := b.kv.Watch(ctx, pattern, natsjs.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("jetstream: list %s: %w", b.kv.Bucket(), err)
	}
	defer w.Stop()
	deaf := false
	for v := s.listDeaf.Load(); v > 0 && !deaf; v = s.listDeaf.Load() {
		deaf = s.listDeaf.CompareAndSwap(v, v-1)
	}
	stall := cmp.Or(time.Duration(s.listStall.Load()), listStall)
	idle := time.NewTimer(stall) // wall time, as every request's bound
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle.C:
			return fmt.Errorf("jetstream: list %s: %w (%v)", b.kv.Bucket(), errListStalled, stall)
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("jetstream: list %s: watcher stopped", b.kv.Bucket())
			}
			if deaf {
				continue // a test's stalled watcher
			}
			idle.Reset(stall)
			if e == nil {
				return nil // the initial values are done
			}
			fn(e)
		}
	}
}

// Close stops the watcher and closes the connection. Appends waiting for
// an acknowledgement fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stopWatch(s.watch)
		s.nc.Close()
	})
	return nil
}

// Ready reports whether the store is open and connected.
func (s *Store) Ready() bool {
	return !s.closed.Load() && s.nc.IsConnected()
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// isNotFound reports whether err says a key or message does not exist.
func isNotFound(err error) bool {
	return errors.Is(err, natsjs.ErrKeyNotFound) || errors.Is(err, natsjs.ErrMsgNotFound) || errors.Is(err, natsjs.ErrKeyDeleted)
}

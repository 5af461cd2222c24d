package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/store/jetstream"
)

// herald export and herald import move what a store holds to another
// store (bbolt to JetStream or back) through a file of JSON lines:
//
//	{"herald_export":1,"created":…,"source":…,"head":…}   the header
//	{"setting":{"name":…,"value":…}}                       settings
//	{"key":{…access.Key…}}                                 API keys
//	{"subscription":{"record":{…},"position":…}}           each subscription,
//	{"dead_letter":{"subscription":ID,"record":{…}}}       then its dead letters
//	{"end":{"subscriptions":…,"dead_letters":…,…}}          the trailer
//
// The trailer's counts let import tell a complete file from a truncated
// one. The event log is not moved: its sequence numbers are the store's
// own, so an imported subscription starts at the target log's head.

// exportVersion is the format version herald export writes and herald
// import reads.
const exportVersion = 1

// movedSettings are the settings (eventing.SettingStore keys) an export
// carries: the message endpoint's path (settingMessagePath in
// eventing/service.go). A store cannot list its settings, so a new one
// must be added here.
var movedSettings = []string{"message_path"}

// maxExportLine bounds one line of an export (a subscription's XML, a
// dead letter's message).
const maxExportLine = 64 << 20

// exportHeader is the first line.
type exportHeader struct {
	Version int       `json:"herald_export"`
	Created time.Time `json:"created"`
	// Source says where the data came from (bbolt DIR, nats URLs).
	Source string `json:"source"`
	// Head is the source log's last sequence number when the export ran.
	Head uint64 `json:"head"`
}

// exportRecord is one line after the header: exactly one field is set.
type exportRecord struct {
	Setting      *exportSetting      `json:"setting,omitempty"`
	Key          *access.Key         `json:"key,omitempty"`
	Subscription *exportSubscription `json:"subscription,omitempty"`
	DeadLetter   *exportDeadLetter   `json:"dead_letter,omitempty"`
	End          *exportCounts       `json:"end,omitempty"`
}

type exportSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// exportSubscription is a subscription as the store holds it, with its
// delivery position in the source log (for the record: import starts it
// at the target's head).
type exportSubscription struct {
	Record   *eventing.Subscription `json:"record"`
	Position uint64                 `json:"position"`
	// Pending: the source had work pending for it (events queued or
	// retrying at Position).
	Pending bool `json:"pending,omitempty"`
}

// exportDeadLetter is one dead letter of the subscription named, which
// comes before it in the file.
type exportDeadLetter struct {
	Subscription string               `json:"subscription"`
	Record       *eventing.DeadLetter `json:"record"`
}

// exportCounts is the trailer: what the file holds.
type exportCounts struct {
	Subscriptions int `json:"subscriptions"`
	DeadLetters   int `json:"dead_letters"`
	Keys          int `json:"keys"`
	Settings      int `json:"settings"`
}

// decodeStrict decodes one JSON value from b into v, refusing unknown
// fields (a newer Herald's record would lose them) and anything after it.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// decodeHeader decodes the first line.
func decodeHeader(b []byte) (*exportHeader, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil || probe["herald_export"] == nil {
		return nil, errors.New("not a herald export (the first line is not a {\"herald_export\":…} header)")
	}
	var h exportHeader
	if err := json.Unmarshal(probe["herald_export"], &h.Version); err != nil || h.Version < 1 {
		return nil, fmt.Errorf("herald_export %s: want a version number", probe["herald_export"])
	}
	if h.Version != exportVersion {
		return nil, fmt.Errorf("herald export version %d; this Herald reads version %d", h.Version, exportVersion)
	}
	if err := decodeStrict(b, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	return &h, nil
}

// decodeRecord decodes a line after the header and checks that it holds
// one complete record.
func decodeRecord(b []byte) (*exportRecord, error) {
	var r exportRecord
	if err := decodeStrict(b, &r); err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{r.Setting != nil, r.Key != nil, r.Subscription != nil, r.DeadLetter != nil, r.End != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("want one of setting, key, subscription, dead_letter or end; the line has %d", n)
	}
	switch {
	case r.Setting != nil:
		if r.Setting.Name == "" {
			return nil, errors.New("setting without a name")
		}
	case r.Key != nil:
		if r.Key.Name == "" || r.Key.ID == "" || len(r.Key.Hash) == 0 {
			return nil, errors.New("key without a name, id or hash")
		}
	case r.Subscription != nil:
		s := r.Subscription.Record
		if s == nil || s.ID == "" || s.Processor == "" {
			return nil, errors.New("subscription without a record, id or processor")
		}
	case r.DeadLetter != nil:
		if r.DeadLetter.Subscription == "" || r.DeadLetter.Record == nil {
			return nil, errors.New("dead letter without a subscription or record")
		}
	case r.End != nil:
		e := r.End
		if e.Subscriptions < 0 || e.DeadLetters < 0 || e.Keys < 0 || e.Settings < 0 {
			return nil, errors.New("end with a negative count")
		}
	}
	return &r, nil
}

// lineReader reads an export's lines, numbering them.
type lineReader struct {
	r    *bufio.Reader
	line int // of the last line read
}

// next returns the next line without its newline, or io.EOF at the end.
func (lr *lineReader) next() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(buf)+len(chunk) > maxExportLine {
			lr.line++
			return nil, lr.errorf("longer than %d MiB", maxExportLine>>20)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			lr.line++
			buf = bytes.TrimSuffix(buf[:len(buf)-1], []byte("\r"))
			if len(bytes.TrimSpace(buf)) == 0 {
				return nil, lr.errorf("empty line")
			}
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, io.EOF
			}
			lr.line++
			return nil, lr.errorf("truncated: the line has no newline at its end")
		default:
			return nil, err
		}
	}
}

func (lr *lineReader) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", lr.line, fmt.Sprintf(format, args...))
}

// storeFlags are the flags that name a store, as herald serve's do.
type storeFlags struct {
	data, store, creds, tlsCA string
	replicas                  int
}

func (sf *storeFlags) define(fs *flagSet) {
	fs.StringVar(&sf.data, "data", envOr("HERALD_DATA", "./data"), "data directory holding the bbolt file (or, with --store embedded-nats, the nats-server's files) (HERALD_DATA)")
	fs.StringVar(&sf.store, "store", envOr("HERALD_STORE", ""), "empty for bbolt under --data; nats://h1:4222,h2:4222 for NATS JetStream; embedded-nats for a nats-server in this process storing under --data (HERALD_STORE)")
	fs.StringVar(&sf.creds, "nats-creds", envOr("HERALD_NATS_CREDS", ""), "NATS credentials file (JWT and seed) for --store nats://… (HERALD_NATS_CREDS)")
	fs.StringVar(&sf.tlsCA, "nats-tls-ca", envOr("HERALD_NATS_TLS_CA", ""), "CA certificates (PEM) that verify the NATS servers of --store tls://… (HERALD_NATS_TLS_CA)")
	fs.IntVar(&sf.replicas, "replicas", 0, "copies of each stream created on NATS (0: 3 on a cluster, 1 on a single server); existing streams keep theirs")
}

// bboltLockWait is how long export and import wait for the bbolt file's
// lock: a running herald serve holds it for as long as it runs.
const bboltLockWait = 500 * time.Millisecond

// open opens the store the flags name. mustExist refuses a bbolt
// directory without a store (an export of nothing, by a typo).
func (sf *storeFlags) open(ctx context.Context, mustExist bool) (*backend, string, error) {
	if sf.store == "" {
		if sf.creds != "" || sf.tlsCA != "" {
			return nil, "", errors.New("--nats-creds and --nats-tls-ca need --store nats://…")
		}
		path := filepath.Join(sf.data, store.FileName)
		if mustExist {
			if _, err := os.Stat(path); err != nil {
				return nil, "", fmt.Errorf("--data %s: no Herald store there (%w)", sf.data, err)
			}
		}
		db, err := store.Open(sf.data, store.Options{Timeout: bboltLockWait})
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, "", fmt.Errorf("--data %s: %s is in use (locked by a running herald serve or another herald command); stop it first", sf.data, path)
		}
		if err != nil {
			return nil, "", err
		}
		return &backend{store: db, keys: db, close: func() { db.Close() }}, "bbolt " + sf.data, nil
	}
	if sf.store == storeEmbeddedNATS && mustExist {
		if _, err := os.Stat(sf.data); err != nil {
			return nil, "", fmt.Errorf("--data %s: no nats-server store there (%w)", sf.data, err)
		}
	}
	if sf.store != storeEmbeddedNATS {
		if err := sf.checkNATSIdle(ctx); err != nil {
			return nil, "", err
		}
	}
	c := &serveConfig{data: sf.data, store: sf.store, natsCreds: sf.creds, natsTLSCA: sf.tlsCA, replicas: sf.replicas}
	be, err := c.openBackend(ctx, slog.New(slog.DiscardHandler), 0, nil)
	if err != nil {
		return nil, "", err
	}
	where := "nats " + be.where
	if sf.store == storeEmbeddedNATS {
		where = "embedded-nats " + sf.data
	}
	return be, where, nil
}

// checkNATSIdle refuses a JetStream store that a Herald node is reading:
// every open store reads the event log through a consumer with a pull
// request outstanding while it is connected (the servers drop the
// requests of a closed connection at once, though the consumer itself
// lingers for minutes). It looks before this command opens the store, so
// its own consumer is not counted.
func (sf *storeFlags) checkNATSIdle(ctx context.Context) error {
	urls, err := natsURLs(sf.store)
	if err != nil {
		return err
	}
	opts := []nats.Option{nats.Name("herald export/import check"), nats.Timeout(10 * time.Second)}
	if sf.creds != "" {
		opts = append(opts, nats.UserCredentials(sf.creds))
	}
	if sf.tlsCA != "" {
		opts = append(opts, nats.RootCAs(sf.tlsCA))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return fmt.Errorf("--store: connect: %w", err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		return fmt.Errorf("--store: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name := jetstream.DefaultPrefix + "_events"
	stream, err := js.Stream(ctx, name)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		return nil // no Herald store yet
	}
	if err != nil {
		return fmt.Errorf("--store: stream %s: %w", name, err)
	}
	readers := 0
	list := stream.ListConsumers(ctx)
	for ci := range list.Info() {
		if ci.NumWaiting > 0 {
			readers++
		}
	}
	if err := list.Err(); err != nil {
		return fmt.Errorf("--store: consumers of %s: %w", name, err)
	}
	if readers > 0 {
		return fmt.Errorf("--store: the store is in use: %d clients are reading stream %s (a running herald serve, or another herald command); stop every Herald node on it first", readers, name)
	}
	return nil
}

const storeNotes = `The store must not be in use: stop every herald serve on it first. A bbolt
store is locked by the server that has it open, and a JetStream store read
by a connected Herald node is seen by its event log's consumers: the
command refuses either. embedded-nats' directory has no such lock: make
sure yourself that no herald serve runs on it.`

// exportCmd is herald export: the subscriptions, their delivery positions
// and dead letters, the API keys and settings of a stopped server's store,
// as JSON lines.
func exportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "export [--data DIR | --store URL …] [--out FILE|-]", stdout)
	var sf storeFlags
	sf.define(fs)
	out := fs.String("out", "-", "the `FILE` to write (created with mode 0600), or - for stdout")
	fs.notes = append(fs.notes, `The file holds secrets (subscriptions' signing secrets, their endpoints'
XML, API key hashes): it is as sensitive as the store. herald export creates
it with mode 0600 (only you can read it); with --out - (stdout) keep it as
safe yourself. Read it into another store with herald import.

The event log is not exported: events not yet delivered when the export runs
are not carried over (herald status ID shows a subscription's position
against the log's head); stop publishers and let delivery drain first.`, storeNotes)
	if err := fs.parseNone(args); err != nil {
		return err
	}
	be, source, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer be.close()

	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		// A temporary file in the same directory, renamed when complete:
		// os.CreateTemp makes it 0600, and no half-written file takes the
		// name.
		f, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		w = f
	}
	bw := bufio.NewWriter(w)
	n, behind, err := writeExport(ctx, bw, be, source)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	where := "stdout"
	if f != nil {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(f.Name(), *out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		f = nil
		where = *out + " (mode 0600: it holds secrets)"
	}
	fmt.Fprintf(stderr, "exported %d subscriptions, %d dead letters, %d keys, %d settings from %s to %s\n",
		n.Subscriptions, n.DeadLetters, n.Keys, n.Settings, source, where)
	if behind > 0 {
		fmt.Fprintf(stderr, "warning: %d subscriptions had not been delivered up to the log's head: events accepted but not yet delivered to them are not exported\n", behind)
	}
	return nil
}

// writeExport writes the export of be to w and returns what it wrote and
// how many subscriptions were behind the log's head.
func writeExport(ctx context.Context, w io.Writer, be *backend, source string) (exportCounts, int, error) {
	var n exportCounts
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	st := be.store
	head := st.Head()
	if err := enc.Encode(exportHeader{Version: exportVersion, Created: time.Now().UTC(), Source: source, Head: head}); err != nil {
		return n, 0, err
	}
	for _, name := range movedSettings {
		v, err := st.Setting(ctx, name)
		if err != nil {
			return n, 0, err
		}
		if v == "" {
			continue
		}
		if err := enc.Encode(exportRecord{Setting: &exportSetting{Name: name, Value: v}}); err != nil {
			return n, 0, err
		}
		n.Settings++
	}
	keys, err := be.keys.Keys(ctx)
	if err != nil {
		return n, 0, err
	}
	for _, k := range keys {
		if err := enc.Encode(exportRecord{Key: k}); err != nil {
			return n, 0, err
		}
		n.Keys++
	}
	through, states, err := st.DeliveryStates(ctx)
	if err != nil {
		return n, 0, err
	}
	behind := 0
	err = st.Subscriptions(ctx, func(s *eventing.Subscription) error {
		rec := &exportSubscription{Record: s, Position: max(through, s.Start)}
		if ds, ok := states[s.ID]; ok {
			rec.Position, rec.Pending = ds.Position(through), ds.Pending
		}
		if rec.Position < head {
			behind++
		}
		if err := enc.Encode(exportRecord{Subscription: rec}); err != nil {
			return err
		}
		n.Subscriptions++
		dls, err := st.DeadLetters(ctx, s.ID)
		if err != nil {
			return err
		}
		for _, dl := range dls {
			if err := enc.Encode(exportRecord{DeadLetter: &exportDeadLetter{Subscription: s.ID, Record: dl}}); err != nil {
				return err
			}
			n.DeadLetters++
		}
		return nil
	})
	if err != nil {
		return n, 0, err
	}
	end := n
	return n, behind, enc.Encode(exportRecord{End: &end})
}

// importCounts is what an import did.
type importCounts struct {
	subs, subsSkipped, subsKeyTaken int
	dead, deadSkipped               int
	keys, keysSkipped               int
	settings, settingsSame          int
}

// importCmd is herald import: an export read into a stopped server's
// store.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "import [--data DIR | --store URL …] [--in FILE|-]", stdout)
	var sf storeFlags
	sf.define(fs)
	in := fs.String("in", "-", "the `FILE` herald export wrote, or - for stdin")
	fs.notes = append(fs.notes, `Each subscription keeps its id, key, owner, lease and secret. One whose id
the store holds already is skipped (and counted), so an import can run
again after a failure; so are keys whose name is taken and dead letters
already there. Settings are overwritten with the exported values.

The event log is not moved (sequence numbers are each store's own): an
imported subscription starts at the target log's head, receiving only
events published after the import. Events the old store accepted but had
not delivered are not carried over: stop publishers and let delivery drain
before herald export (herald status ID shows a subscription's position
against the log's head), or accept that gap. Dead letters keep their old
sequence numbers, and can be replayed.

A file (not stdin) is checked completely before anything is written.`, storeNotes)
	if err := fs.parseNone(args); err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	name := "stdin"
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("--in: %w", err)
		}
		defer f.Close()
		// A truncated or damaged file is refused before the store is
		// touched.
		if _, err := readExport(ctx, f, nil, nil); err != nil {
			return fmt.Errorf("%s: %w", *in, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r, name = f, *in
	}
	be, where, err := sf.open(ctx, false)
	if err != nil {
		return err
	}
	defer be.close()
	n, err := readExport(ctx, r, be, stderr)
	fmt.Fprintf(stderr, "imported into %s: %d subscriptions (%d skipped: id exists; %d skipped: key taken), %d dead letters (%d skipped), %d keys (%d skipped), %d settings (%d unchanged)\n",
		where, n.subs, n.subsSkipped, n.subsKeyTaken, n.dead, n.deadSkipped, n.keys, n.keysSkipped, n.settings, n.settingsSame)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if n.subs > 0 {
		fmt.Fprintln(stderr, "imported subscriptions start at the log's head: they receive the events published from now on")
	}
	return nil
}

// readExport reads an export from r and, if be is not nil, writes it into
// be (notes go to warn); with be nil it only checks the file.
func readExport(ctx context.Context, r io.Reader, be *backend, warn io.Writer) (importCounts, error) {
	var n importCounts
	lr := &lineReader{r: bufio.NewReaderSize(r, 1<<16)}
	b, err := lr.next()
	if errors.Is(err, io.EOF) {
		return n, errors.New("empty: not a herald export")
	}
	if err != nil {
		return n, err
	}
	if _, err := decodeHeader(b); err != nil {
		return n, lr.errorf("%v", err)
	}
	var seen exportCounts
	subs := map[string]bool{} // exported subscriptions: whether this import created them
	var existingKeys map[string]*access.Key
	for {
		b, err := lr.next()
		if errors.Is(err, io.EOF) {
			return n, fmt.Errorf("line %d: the file ends without its trailer (truncated?) after %d subscriptions", lr.line, seen.Subscriptions)
		}
		if err != nil {
			return n, err
		}
		rec, err := decodeRecord(b)
		if err != nil {
			return n, lr.errorf("%v", err)
		}
		if rec.End != nil {
			if *rec.End != seen {
				return n, lr.errorf("the trailer counts %v; the file holds %v (a damaged file?)", *rec.End, seen)
			}
			if _, err := lr.next(); !errors.Is(err, io.EOF) {
				if err == nil {
					err = lr.errorf("data after the trailer")
				}
				return n, err
			}
			return n, nil
		}
		switch {
		case rec.Setting != nil:
			seen.Settings++
		case rec.Key != nil:
			seen.Keys++
		case rec.Subscription != nil:
			seen.Subscriptions++
			if _, dup := subs[rec.Subscription.Record.ID]; dup {
				return n, lr.errorf("subscription %s a second time", rec.Subscription.Record.ID)
			}
			subs[rec.Subscription.Record.ID] = false
		case rec.DeadLetter != nil:
			seen.DeadLetters++
			if _, ok := subs[rec.DeadLetter.Subscription]; !ok {
				return n, lr.errorf("dead letter of subscription %s, which the file has not named before", rec.DeadLetter.Subscription)
			}
		}
		if be == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		st := be.store
		switch {
		case rec.Setting != nil:
			cur, err := st.Setting(ctx, rec.Setting.Name)
			if err != nil {
				return n, lr.errorf("setting %s: %v", rec.Setting.Name, err)
			}
			if cur == rec.Setting.Value {
				n.settingsSame++
				break
			}
			if err := st.SetSetting(ctx, rec.Setting.Name, rec.Setting.Value); err != nil {
				return n, lr.errorf("setting %s: %v", rec.Setting.Name, err)
			}
			n.settings++
		case rec.Key != nil:
			k := rec.Key
			err := be.keys.CreateKey(ctx, k)
			if errors.Is(err, access.ErrKeyExists) {
				n.keysSkipped++
				if existingKeys == nil {
					ks, err := be.keys.Keys(ctx)
					if err != nil {
						return n, lr.errorf("key %s: %v", k.Name, err)
					}
					existingKeys = map[string]*access.Key{}
					for _, e := range ks {
						existingKeys[e.Name] = e
					}
				}
				if e := existingKeys[k.Name]; e != nil && e.ID != k.ID {
					fmt.Fprintf(warn, "warning: key %s exists here with another id: the subscriptions the exported key owns are not this one's\n", k.Name)
				}
				break
			}
			if err != nil {
				return n, lr.errorf("key %s: %v", k.Name, err)
			}
			n.keys++
		case rec.Subscription != nil:
			s := rec.Subscription.Record
			_, err := st.Subscription(ctx, s.ID)
			if err == nil {
				n.subsSkipped++
				break
			}
			if !errors.Is(err, eventing.ErrNotFound) {
				return n, lr.errorf("subscription %s: %v", s.ID, err)
			}
			s.Start = st.Head()
			existing, err := st.CreateSubscription(ctx, s)
			if err != nil {
				return n, lr.errorf("subscription %s: %v", s.ID, err)
			}
			if existing != nil {
				n.subsKeyTaken++
				fmt.Fprintf(warn, "warning: subscription %s not imported: subscription %s here has the same key (endpoint and filter)\n", s.ID, existing.ID)
				break
			}
			subs[s.ID] = true
			n.subs++
		case rec.DeadLetter != nil:
			id, dl := rec.DeadLetter.Subscription, rec.DeadLetter.Record
			if !subs[id] {
				// Skipped: already there, or another subscription's key.
				// Only what the target lacks is added.
				have, err := st.DeadLetters(ctx, id)
				if errors.Is(err, eventing.ErrNotFound) {
					n.deadSkipped++
					break
				}
				if err != nil {
					return n, lr.errorf("dead letter %d of %s: %v", dl.Seq, id, err)
				}
				if hasDeadLetter(have, dl.Seq) {
					n.deadSkipped++
					break
				}
			}
			if err := st.AddDeadLetter(ctx, id, dl); err != nil {
				if errors.Is(err, eventing.ErrNotFound) {
					n.deadSkipped++
					break
				}
				return n, lr.errorf("dead letter %d of %s: %v", dl.Seq, id, err)
			}
			n.dead++
		}
	}
}

func hasDeadLetter(dls []*eventing.DeadLetter, seq uint64) bool {
	for _, d := range dls {
		if d.Seq == seq {
			return true
		}
	}
	return false
}

// String lists the counts for people.
func (c exportCounts) String() string {
	return strings.Join([]string{
		fmt.Sprintf("%d subscriptions", c.Subscriptions),
		fmt.Sprintf("%d dead letters", c.DeadLetters),
		fmt.Sprintf("%d keys", c.Keys),
		fmt.Sprintf("%d settings", c.Settings),
	}, ", ")
}

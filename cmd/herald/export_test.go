package main_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/store/jetstream"
)

// moveStore is what a move test compares: everything herald export
// carries, read through the store interfaces.
type moveStore interface {
	eventing.Store
	access.KeyStore
}

// storeContents reads what a store holds, subscriptions by id with Start
// cleared (import starts them at the target's head).
type storeContents struct {
	subs    map[string]*eventing.Subscription
	dead    map[string][]*eventing.DeadLetter
	keys    []*access.Key
	setting string
}

func readContents(t *testing.T, st moveStore) storeContents {
	t.Helper()
	ctx := t.Context()
	c := storeContents{subs: map[string]*eventing.Subscription{}, dead: map[string][]*eventing.DeadLetter{}}
	if err := st.Subscriptions(ctx, func(s *eventing.Subscription) error {
		s = s.Clone()
		s.Start = 0
		c.subs[s.ID] = s
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id := range c.subs {
		dls, err := st.DeadLetters(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) > 0 {
			c.dead[id] = dls
		}
	}
	keys, err := st.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(keys, func(a, b *access.Key) int { return strings.Compare(a.Name, b.Name) })
	c.keys = keys
	if c.setting, err = st.Setting(ctx, "message_path"); err != nil {
		t.Fatal(err)
	}
	return c
}

// sameContents compares two stores' contents field for field (times by
// instant: a store may give them back in another location).
func sameContents(t *testing.T, name string, got, want storeContents) {
	t.Helper()
	norm := func(c storeContents) storeContents {
		out := storeContents{subs: map[string]*eventing.Subscription{}, dead: map[string][]*eventing.DeadLetter{}, setting: c.setting}
		for id, s := range c.subs {
			s = s.Clone()
			s.Created, s.Expires = s.Created.UTC(), s.Expires.UTC()
			out.subs[id] = s
		}
		for id, dls := range c.dead {
			for _, dl := range dls {
				d := *dl
				d.Received, d.Time = d.Received.UTC(), d.Time.UTC()
				out.dead[id] = append(out.dead[id], &d)
			}
		}
		for _, k := range c.keys {
			kk := *k
			kk.Created = kk.Created.UTC()
			out.keys = append(out.keys, &kk)
		}
		return out
	}
	got, want = norm(got), norm(want)
	for id, w := range want.subs {
		if g := got.subs[id]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s: subscription %s:\ngot  %+v\nwant %+v", name, id, g, w)
		}
	}
	if len(got.subs) != len(want.subs) {
		t.Errorf("%s: %d subscriptions; want %d", name, len(got.subs), len(want.subs))
	}
	if !reflect.DeepEqual(got.dead, want.dead) {
		t.Errorf("%s: dead letters:\ngot  %s\nwant %s", name, jsonString(got.dead), jsonString(want.dead))
	}
	if !reflect.DeepEqual(got.keys, want.keys) {
		t.Errorf("%s: keys:\ngot  %s\nwant %s", name, jsonString(got.keys), jsonString(want.keys))
	}
	if got.setting != want.setting {
		t.Errorf("%s: message_path %q; want %q", name, got.setting, want.setting)
	}
}

// sourceStore makes a bbolt store through a real herald serve: a
// WS-Eventing subscription with a topic filter and a Cloud42 one (which
// has a Key), each to its own recorder; then, with the server stopped, it
// gives the first a secret and an owner, adds dead letters to both, an
// API key and a message path. It returns the directory, the ids and the
// recorders. While the server runs it checks that export refuses the
// store, fast.
func sourceStore(t *testing.T) (data, wseID, c42ID string, wseRec, c42Rec *recorder) {
	t.Helper()
	data = t.TempDir()
	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	wseRec, c42Rec = newRecorder(t), newRecorder(t)
	wseID = runCmd(t, "subscribe", "--server", server, "--topic", "orders", "--notify-to", wseRec.URL+"/orders")
	body := strings.Replace(seedFile(t, "subscribe-request-soap.xml"), "http://localhost:8085/monitor", c42Rec.URL+"/monitor", 1)
	status, answer := post(t, server+"/eventing", "application/soap+xml; charset=utf-8", body)
	m := returnRE.FindStringSubmatch(answer)
	if status != http.StatusOK || m == nil {
		t.Fatalf("Cloud42 subscribe: HTTP %d\n%s", status, answer)
	}
	c42ID = m[1]

	start := time.Now()
	r := execHerald(t, cmdOpts{}, "export", "--data", data, "--out", filepath.Join(t.TempDir(), "x.jsonl"))
	if r.code != 1 || !strings.Contains(r.stderr, "is in use") || !strings.Contains(r.stderr, "stop it first") {
		t.Errorf("export of a store herald serve holds: want exit 1 and 'is in use … stop it first':\n%s", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("export of a store in use took %v to refuse", d)
	}
	serve.stop()

	ctx := t.Context()
	db, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := &access.Key{ID: "key-7f3a", Name: "ops", Role: access.Subscriber, Topics: []access.Pattern{"orders", "billing.>"},
		Hash: access.Hash("hk_secretsecretsecret"), Created: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	if err := db.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateSubscription(ctx, wseID, func(s *eventing.Subscription) error {
		s.Secret, s.Owner = "signing-secret", key.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	msg := eventing.Message{Topic: "orders", Text: "died before the move"}
	for i, id := range []string{wseID, c42ID, c42ID} {
		dl := &eventing.DeadLetter{Seq: uint64(90 + i), Received: time.Date(2025, 3, 2, 8, 0, i, 0, time.UTC), Message: msg,
			Attempts: 8, Error: "HTTP 503", Time: time.Date(2025, 3, 2, 9, 0, i, 0, time.UTC), Replay: i == 2}
		if err := db.AddDeadLetter(ctx, id, dl); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetSetting(ctx, "message_path", "/events-in"); err != nil {
		t.Fatal(err)
	}
	return data, wseID, c42ID, wseRec, c42Rec
}

func bboltContents(t *testing.T, dir string) storeContents {
	t.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return readContents(t, db)
}

// TestExport_MoveBboltToJetStreamAndBack exports a bbolt store, imports it
// into an embedded JetStream and into a fresh bbolt store, compares every
// record, re-imports (everything skipped), and delivers an event to each
// imported subscription from herald serve --store nats://… (and the
// dead letter marked for replay).
func TestExport_MoveBboltToJetStreamAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	data, wseID, c42ID, wseRec, c42Rec := sourceStore(t)
	want := bboltContents(t, data)
	if len(want.subs) != 2 || want.subs[c42ID].Key == "" || want.subs[wseID].Filter == nil || want.subs[wseID].Secret == "" {
		t.Fatalf("the source store lacks what the test needs: %s", jsonString(want.subs))
	}

	file := filepath.Join(t.TempDir(), "herald.jsonl")
	r := execHerald(t, cmdOpts{}, "export", "--data", data, "--out", file)
	if r.code != 0 || !strings.Contains(r.stderr, "exported 2 subscriptions, 3 dead letters, 1 keys, 1 settings") {
		t.Fatalf("export:\n%s", r)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, mode %v; want 0600", err, st.Mode())
	}

	ns, err := jetstream.Embedded(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	r = execHerald(t, cmdOpts{}, "import", "--store", ns.URL(), "--in", file)
	if r.code != 0 || !strings.Contains(r.stderr, ": 2 subscriptions (0 skipped: id exists; 0 skipped: key taken), 3 dead letters (0 skipped), 1 keys (0 skipped), 1 settings") {
		t.Fatalf("import into JetStream:\n%s", r)
	}
	r = execHerald(t, cmdOpts{}, "import", "--store", ns.URL(), "--in", file)
	if r.code != 0 || !strings.Contains(r.stderr, ": 0 subscriptions (2 skipped: id exists; 0 skipped: key taken), 0 dead letters (3 skipped), 0 keys (1 skipped), 0 settings (1 unchanged)") {
		t.Fatalf("import again into JetStream: want everything skipped:\n%s", r)
	}
	bolt2 := t.TempDir()
	// Through stdin, into bbolt.
	in, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r = execHerald(t, cmdOpts{stdin: string(in)}, "import", "--data", bolt2)
	if r.code != 0 || !strings.Contains(r.stderr, ": 2 subscriptions (0 skipped") {
		t.Fatalf("import into bbolt:\n%s", r)
	}
	sameContents(t, "bbolt → bbolt", bboltContents(t, bolt2), want)

	js, err := jetstream.Open(t.Context(), jetstream.Options{URLs: []string{ns.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	sameContents(t, "bbolt → JetStream", readContents(t, js), want)
	head := js.Head()
	js.Close()

	// And back: JetStream → bbolt gives the same records again.
	file2 := filepath.Join(t.TempDir(), "back.jsonl")
	if r := execHerald(t, cmdOpts{}, "export", "--store", ns.URL(), "--out", file2); r.code != 0 {
		t.Fatalf("export from JetStream:\n%s", r)
	}
	bolt3 := t.TempDir()
	if r := execHerald(t, cmdOpts{}, "import", "--data", bolt3, "--in", file2); r.code != 0 {
		t.Fatalf("import of the JetStream export:\n%s", r)
	}
	sameContents(t, "bbolt → JetStream → bbolt", bboltContents(t, bolt3), want)

	serve := startProc(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--store", ns.URL(), "--replicas", "0")
	server := "http://" + serve.wait(t, `herald listening" addr=(\S+)`)
	// The message path moved with the store.
	for topic, text := range map[string]string{"orders": "order after the move", "myTopic": "cloud42 after the move"} {
		ev := strings.NewReplacer("<topic>myTopic</topic>", "<topic>"+topic+"</topic>", "<text>message text</text>", "<text>"+text+"</text>").Replace(seedFile(t, "event-message.xml"))
		if status, answer := post(t, server+"/events-in", "text/xml", ev); status != http.StatusAccepted {
			t.Fatalf("publish to /events-in: HTTP %d %s", status, answer)
		}
	}
	waitTexts(t, wseRec, "order after the move")
	// A JetStream store a Herald node reads is refused too (the imports
	// above, run one after another, were not: a closed store's consumer
	// has no pull request waiting).
	r = execHerald(t, cmdOpts{}, "export", "--store", ns.URL(), "--out", filepath.Join(t.TempDir(), "no.jsonl"))
	if r.code != 1 || !strings.Contains(r.stderr, "the store is in use") {
		t.Errorf("export of a JetStream store herald serve reads: want exit 1 and 'the store is in use':\n%s", r)
	}
	// The dead letter marked for replay is delivered from the new store.
	waitTexts(t, c42Rec, "cloud42 after the move", "died before the move")
	if head != 0 {
		t.Errorf("the target log's head is %d; the event log must not move", head)
	}
}

// TestExport_DamagedFiles: a truncated or foreign file is refused before
// anything is written, with the line at fault.
func TestExport_DamagedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	data := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s := &eventing.Subscription{ID: "uuid:0000000" + string(rune('1'+i)), Processor: "soap", Message: "<m/>", Created: time.Now()}
		if _, err := db.CreateSubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	file := filepath.Join(t.TempDir(), "x.jsonl")
	if r := execHerald(t, cmdOpts{}, "export", "--data", data, "--out", file); r.code != 0 {
		t.Fatalf("export:\n%s", r)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n") // header, 3 subscriptions, trailer, ""
	if len(lines) != 6 {
		t.Fatalf("export has %d lines; want 5:\n%s", len(lines)-1, b)
	}
	tests := []struct {
		name, content, want string
	}{
		{"cut at a line's end", strings.Join(lines[:3], ""), "line 3: the file ends without its trailer (truncated?) after 2 subscriptions"},
		{"cut inside a line", strings.Join(lines[:3], "") + lines[3][:20], "line 4: truncated: the line has no newline at its end"},
		{"a line lost", lines[0] + lines[1] + lines[3] + lines[4], "line 4: the trailer counts 3 subscriptions, 0 dead letters, 0 keys, 0 settings; the file holds 2 subscriptions"},
		{"foreign JSON lines", `{"name":"x"}` + "\n", "line 1: not a herald export"},
		{"not JSON", "id,processor\n", "line 1: not a herald export"},
		{"a newer version", `{"herald_export":2}` + "\n", "line 1: herald export version 2; this Herald reads version 1"},
		{"an unknown field", lines[0] + strings.Replace(lines[1], `"record":{`, `"record":{"colour":"red",`, 1), `line 2: json: unknown field "colour"`},
		{"empty", "", "empty: not a herald export"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "bad.jsonl")
			if err := os.WriteFile(in, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			target := t.TempDir()
			r := execHerald(t, cmdOpts{}, "import", "--data", target, "--in", in)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("got\n%s\nwant exit 1 and %q", r, tt.want)
			}
			if _, err := os.Stat(filepath.Join(target, store.FileName)); err == nil {
				t.Errorf("the store was written to")
			}
		})
	}
}

// TestExport_Help: the help says the file holds secrets and what is not
// carried over.
func TestExport_Help(t *testing.T) {
	for cmd, want := range map[string][]string{
		"export": {"Usage: herald export", "mode 0600", "secrets", "not carried over"},
		"import": {"Usage: herald import", "log's head", "stop publishers", "skipped"},
	} {
		r := execHerald(t, cmdOpts{}, cmd, "--help")
		for _, w := range want {
			if r.code != 0 || !strings.Contains(r.stdout, w) {
				t.Errorf("herald %s --help: want %q on stdout:\n%s", cmd, w, r)
			}
		}
	}
}

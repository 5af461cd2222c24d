package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
)

// FuzzDecodeLine: no line makes the decoders panic, and a line they
// accept survives decode → encode → decode (the second encoding is the
// first). Seeds: testdata/fuzz/FuzzDecodeLine, one line of each kind.
func FuzzDecodeLine(f *testing.F) {
	f.Add([]byte(`{"herald_export":1,"created":"2026-01-02T03:04:05Z","source":"bbolt ./data","head":1}`))
	f.Add([]byte(`{"setting":{"name":"message_path","value":"/m"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := decodeHeader(b); err == nil {
			again, err := decodeHeader(mustMarshal(t, h))
			if err != nil {
				t.Fatalf("a header decoded, encoded, does not decode: %v", err)
			}
			if !bytes.Equal(mustMarshal(t, again), mustMarshal(t, h)) {
				t.Fatalf("header changed: %s → %s", mustMarshal(t, h), mustMarshal(t, again))
			}
		}
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		first := mustMarshal(t, r)
		again, err := decodeRecord(first)
		if err != nil {
			t.Fatalf("%s: decoded, encoded as %s, does not decode: %v", b, first, err)
		}
		if second := mustMarshal(t, again); !bytes.Equal(first, second) {
			t.Fatalf("record changed:\n%s\n%s", first, second)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines []string
		err   string
	}{
		{"two lines", "a\nb\n", []string{"a", "b"}, ""},
		{"CRLF", "a\r\nb\r\n", []string{"a", "b"}, ""},
		{"no newline at the end", "a\nb", []string{"a"}, "line 2: truncated: the line has no newline at its end"},
		{"an empty line", "a\n\nb\n", []string{"a"}, "line 2: empty line"},
		{"a line longer than the buffer", strings.Repeat("x", 100) + "\n", []string{strings.Repeat("x", 100)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := &lineReader{r: bufio.NewReaderSize(strings.NewReader(tt.in), 16)}
			var got []string
			var err error
			for {
				var b []byte
				if b, err = lr.next(); err != nil {
					break
				}
				got = append(got, string(b))
			}
			if strings.Join(got, "|") != strings.Join(tt.lines, "|") {
				t.Errorf("lines %q; want %q", got, tt.lines)
			}
			switch {
			case tt.err == "" && !errors.Is(err, io.EOF):
				t.Errorf("got %v; want io.EOF", err)
			case tt.err != "" && (err == nil || err.Error() != tt.err):
				t.Errorf("got %v; want %q", err, tt.err)
			}
		})
	}
}

// TestImport_KeyTaken: a management subscription whose key another
// subscription of the target holds is not imported (CreateSubscription
// would return that one); it is counted and named, and its dead letters
// are skipped.
func TestImport_KeyTaken(t *testing.T) {
	ctx := t.Context()
	open := func() *backend {
		db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return &backend{store: db, keys: db, close: func() {}}
	}
	src, dst := open(), open()
	mk := func(id string) *eventing.Subscription {
		return &eventing.Subscription{ID: id, Processor: "soap", Message: "<m/>", Key: "same-endpoint-and-filter", Created: time.Now()}
	}
	if _, err := src.store.CreateSubscription(ctx, mk("uuid:a")); err != nil {
		t.Fatal(err)
	}
	if err := src.store.AddDeadLetter(ctx, "uuid:a", &eventing.DeadLetter{Seq: 3, Message: eventing.Message{Topic: "t"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.store.CreateSubscription(ctx, mk("uuid:b")); err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if _, _, err := writeExport(ctx, &file, src, "test"); err != nil {
		t.Fatal(err)
	}
	var warn strings.Builder
	n, err := readExport(ctx, bytes.NewReader(file.Bytes()), dst, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if n.subs != 0 || n.subsKeyTaken != 1 || n.dead != 0 || n.deadSkipped != 1 {
		t.Errorf("got %+v; want 1 subscription skipped (key taken), its dead letter skipped", n)
	}
	if !strings.Contains(warn.String(), "uuid:a not imported: subscription uuid:b here has the same key") {
		t.Errorf("warning %q", warn.String())
	}
}

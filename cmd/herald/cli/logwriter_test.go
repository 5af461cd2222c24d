package cli

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

// gatedWriter records its writes; each waits until the gate is open.
type gatedWriter struct {
	gate    chan struct{}
	entered chan struct{} // one send per write, before it waits
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes++
	return g.buf.Write(p)
}

func (g *gatedWriter) contents() (string, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String(), g.writes
}

// A Write returns without waiting for the file; while the goroutine writes
// one batch, the records after it gather into the next, in order, and
// Close writes them all.
func TestLogWriter_GathersWhileTheFileWritesAndCloseWritesTheRest(t *testing.T) {
	g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	lw := newLogWriter(g, logBufferLimit)
	fmt.Fprintln(lw, "line 0")
	<-g.entered // the goroutine is writing line 0, held at the gate
	for i := 1; i < 50; i++ {
		fmt.Fprintf(lw, "line %d\n", i) // returns: the file is not written
	}
	close(g.gate)
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := g.contents()
	var want strings.Builder
	for i := range 50 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got != want.String() {
		t.Fatalf("the file got\n%s\nwant\n%s", got, want.String())
	}
	// line 0, then the 49 others in one write (by the goroutine, or by
	// Close if it stopped first).
	if writes != 2 {
		t.Errorf("%d writes for 50 records; want 2", writes)
	}
	// After Close, a Write goes straight to the file.
	fmt.Fprintln(lw, "after")
	if got, _ := g.contents(); !strings.HasSuffix(got, "line 49\nafter\n") {
		t.Errorf("after Close the file ends %q", got[max(0, len(got)-20):])
	}
}

// While limit bytes wait for a file that does not take them, a Write waits
// instead of growing the buffer; it goes on once the file took them.
func TestLogWriter_WaitsWhenTheLimitIsReached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gatedWriter{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
		lw := newLogWriter(g, 16)
		fmt.Fprintln(lw, "0123456789") // taken by the goroutine, held at the gate
		<-g.entered
		fmt.Fprintln(lw, "abcdefghij") // 11 bytes waiting
		returned := make(chan struct{})
		go func() {
			fmt.Fprintln(lw, "ABCDEFGHIJ") // 22 > 16: waits
			close(returned)
		}()
		synctest.Wait() // every goroutine is blocked: the file's, and that Write
		select {
		case <-returned:
			t.Fatal("a Write past the limit returned while the file took nothing")
		default:
		}
		close(g.gate)
		<-returned
		if err := lw.Close(); err != nil {
			t.Fatal(err)
		}
		if got, _ := g.contents(); got != "0123456789\nabcdefghij\nABCDEFGHIJ\n" {
			t.Fatalf("the file got %q", got)
		}
	})
}

// Concurrent loggers lose nothing, and each one's records keep their order.
func TestLogWriter_ConcurrentWritersKeepTheirOrder(t *testing.T) {
	var out lockedBuffer
	lw := newLogWriter(&out, 256)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(lw, "w%d %d\n", w, i)
			}
		}()
	}
	wg.Wait()
	lw.Close()
	next := map[string]int{}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		var who string
		var i int
		if _, err := fmt.Sscanf(l, "%s %d", &who, &i); err != nil {
			t.Fatalf("torn record %q", l)
		}
		if i != next[who] {
			t.Fatalf("%s: record %d after %d", who, i, next[who]-1)
		}
		next[who]++
	}
	if len(lines) != 8*500 {
		t.Fatalf("%d records; want %d", len(lines), 8*500)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

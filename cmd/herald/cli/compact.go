package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/store"
)

// compactCmd rewrites the bbolt file offline to give back the space that
// trimmed events left (bbolt reuses it but never shrinks the file).
func compactCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compact", "compact [--data ./data]", stdout)
	data := fs.String("data", envOr("HERALD_DATA", "./data"), "data directory (HERALD_DATA); Herald must be stopped")
	var out outputFormat
	registerOutput(fs, &out)
	if err := fs.parseNone(args); err != nil {
		return err
	}
	var bar *progress
	stop := make(chan struct{})
	finished := make(chan struct{})
	if isTerminal(stderr) {
		bar = newProgress(stderr, inUse(filepath.Join(*data, store.FileName)), "compacting", true)
		go func() {
			defer close(finished)
			// store.Compact writes the new file next to the old one.
			tmp := filepath.Join(*data, store.FileName) + ".compact"
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if st, err := os.Stat(tmp); err == nil {
						bar.set(st.Size())
					}
				}
			}
		}()
	} else {
		close(finished)
	}
	before, after, err := store.Compact(*data)
	close(stop)
	<-finished
	if bar != nil {
		if err != nil {
			bar.abort(stderr)
		} else {
			bar.done()
		}
	}
	if err != nil {
		return err
	}
	return out.emit(stdout, map[string]any{"data": *data, "before": before, "after": after}, func() error {
		_, err := fmt.Fprintf(stdout, "compacted %s: %d → %d bytes\n", *data, before, after)
		return err
	})
}

// inUse estimates the bytes a compacted copy of the bbolt file at path
// will hold: its size less its free pages; 0 if it cannot be read now
// (store.Compact then says why).
func inUse(path string) int64 {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond, PreLoadFreelist: true})
	if err != nil {
		return 0
	}
	defer db.Close()
	tx, err := db.Begin(false)
	if err != nil {
		return 0
	}
	defer tx.Rollback()
	return tx.Size() - int64(db.Stats().FreePageN)*int64(db.Info().PageSize)
}

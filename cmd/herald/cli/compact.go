package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/herald-eventing/herald/store"
)

// compactCmd rewrites the bbolt file offline to give back the space that
// trimmed events left (bbolt reuses it but never shrinks the file).
func compactCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compact", "compact [--data ./data]", stderr)
	data := fs.String("data", envOr("HERALD_DATA", "./data"), "data directory (HERALD_DATA); Herald must be stopped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	before, after, err := store.Compact(*data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "compacted %s: %d → %d bytes\n", *data, before, after)
	return nil
}

package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal; progress bars are drawn
// only there, so that logs and pipes get none of their carriage returns.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is a progress bar on stderr, or nothing when stderr is not a
// terminal (every method is then a no-op).
type progress struct {
	bar *progressbar.ProgressBar
}

// newProgress starts a bar of max units (bytes when bytes is true).
func newProgress(stderr io.Writer, max int64, desc string, bytes bool) *progress {
	if !isTerminal(stderr) || max <= 0 {
		return &progress{}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowCount())
	}
	return &progress{bar: progressbar.NewOptions64(max, opts...)}
}

func (p *progress) set(n int64) {
	if p.bar != nil {
		p.bar.Set64(min(n, p.bar.GetMax64()))
	}
}

// done finishes and clears the bar.
func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// abort leaves the bar where it is and ends its line.
func (p *progress) abort(stderr io.Writer) {
	if p.bar != nil {
		p.bar.Exit()
		fmt.Fprintln(stderr)
	}
}

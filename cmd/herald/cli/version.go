package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version, when set at link time, is the version herald reports instead
// of the module's:
//
//	go build -ldflags "-X github.com/herald-eventing/herald/cmd/herald/cli.version=v1.2.3" ./cmd/herald
var version string

// buildInfo is what herald version reports.
type buildInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Go: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" {
			b.Version = v
		}
		if info.GoVersion != "" {
			b.Go = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	return b
}

// String is the one line: herald v1.2.3 (go1.26.8, commit 0123456789ab, 2026-12-01T10:00:00Z).
func (b buildInfo) String() string {
	parts := []string{b.Go}
	if b.Commit != "" {
		parts = append(parts, "commit "+b.Commit[:min(12, len(b.Commit))])
	}
	if b.Time != "" {
		parts = append(parts, b.Time)
	}
	if b.Modified {
		parts = append(parts, "modified")
	}
	return fmt.Sprintf("herald %s (%s)", b.Version, strings.Join(parts, ", "))
}

func versionCmd(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("version", "version [--output json]", stdout)
	var out outputFormat
	registerOutput(fs, &out)
	if err := fs.parseNone(args); err != nil {
		return err
	}
	b := readBuildInfo()
	return out.emit(stdout, b, func() error {
		_, err := fmt.Fprintln(stdout, b)
		return err
	})
}

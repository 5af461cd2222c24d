package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// outputFormat is --output: text (for people, the default) or json (one
// JSON object per result, each on one line, for scripts).
type outputFormat string

func (o *outputFormat) String() string {
	if o == nil || *o == "" {
		return "text"
	}
	return string(*o)
}

func (o *outputFormat) Set(s string) error {
	switch s {
	case "text", "json":
		*o = outputFormat(s)
		return nil
	}
	return fmt.Errorf("%q is neither text nor json", s)
}

func (o *outputFormat) Get() any { return o.String() }

func (o *outputFormat) json() bool { return o.String() == "json" }

// registerOutput adds --output to fs.
func registerOutput(fs *flagSet, o *outputFormat) {
	*o = "text"
	fs.Var(o, "output", "how results are printed: `FORMAT` text, or json (one JSON object per result and line)")
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// emit prints a result: v as JSON with --output json, else what text
// prints.
func (o *outputFormat) emit(w io.Writer, v any, text func() error) error {
	if o.json() {
		return writeJSON(w, v)
	}
	return text()
}

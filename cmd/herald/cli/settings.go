package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/BurntSushi/toml"
)

// settings are herald serve's options. Each has a flag, an environment
// variable and a key in the config file, all named after it (flag
// --smtp-password, HERALD_SMTP_PASSWORD, key smtp-password), and one
// precedence: the flag, then the environment, then the config file, then
// the default. A new option is one line:
//
//	s.Duration(&c.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
//
// and herald config, the file and the environment know it at once.
type settings struct {
	fs     *flagSet
	list   []*setting
	byName map[string]*setting
	config string // --config
	// file is the config file the settings were resolved with, if any.
	file string
}

// A setting is one option and, once resolved, where its value came from.
type setting struct {
	name   string
	env    string // "" for none
	secret bool
	value  flag.Value
	flag   bool   // has a command-line flag
	usage  string // of a setting without a flag
	source string // "flag", "env NAME", "FILE:LINE" or "default"
}

// Env names the setting's environment variable ("" for none) instead of
// HERALD_NAME.
func (s *setting) Env(name string) *setting { s.env = name; return s }

// Secret marks a setting whose value herald config never prints.
func (s *setting) Secret() *setting { s.secret = true; return s }

func newSettings(fs *flagSet) *settings {
	s := &settings{fs: fs, byName: map[string]*setting{}}
	fs.StringVar(&s.config, "config", "", "TOML file of settings, keys named like these flags (HERALD_CONFIG); flags and the environment take precedence over it")
	return s
}

// envName is the environment variable of a setting: HERALD_ and its name
// in upper case, - as _.
func envName(name string) string {
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// add registers the flag just defined as a setting.
func (s *settings) add(name string) *setting {
	fl := s.fs.Lookup(name)
	st := &setting{name: name, env: envName(name), value: fl.Value, flag: true}
	s.list = append(s.list, st)
	s.byName[name] = st
	return st
}

func (s *settings) String(p *string, name, def, usage string) *setting {
	s.fs.StringVar(p, name, def, usage)
	return s.add(name)
}

func (s *settings) Bool(p *bool, name string, def bool, usage string) *setting {
	s.fs.BoolVar(p, name, def, usage)
	return s.add(name)
}

func (s *settings) Int(p *int, name string, def int, usage string) *setting {
	s.fs.IntVar(p, name, def, usage)
	return s.add(name)
}

func (s *settings) Float64(p *float64, name string, def float64, usage string) *setting {
	s.fs.Float64Var(p, name, def, usage)
	return s.add(name)
}

func (s *settings) Duration(p *time.Duration, name string, def time.Duration, usage string) *setting {
	s.fs.DurationVar(p, name, def, usage)
	return s.add(name)
}

// Hidden is a string setting without a flag: the environment or the file
// only (for a secret that should not appear in a process list).
func (s *settings) Hidden(p *string, name, usage string) *setting {
	st := &setting{name: name, env: envName(name), value: (*stringValue)(p)}
	st.usage = usage
	s.list = append(s.list, st)
	s.byName[name] = st
	return st
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) Get() any           { return string(*v) }

// finish names each setting's environment variable in its flag's usage.
// Call it once every setting is defined.
func (s *settings) finish() {
	for _, st := range s.list {
		switch {
		case st.flag && st.env != "":
			fl := s.fs.Lookup(st.name)
			fl.Usage += " (" + st.env + ")"
		case !st.flag:
			s.fs.notes = append(s.fs.notes, fmt.Sprintf("%s, %s, has no flag (to keep it out of process lists): set %s, or %s in the --config file.",
				st.name, st.usage, st.env, st.name))
		}
	}
	s.fs.notes = append(s.fs.notes,
		"Every setting is also an environment variable (shown with each flag) and a key of the --config file;\n"+
			"a flag wins over the environment, the environment over the file, the file over the default.")
}

// resolve gives each setting that no flag set its value from the
// environment, else the config file, and records where each came from.
// Call it after parsing the flags.
func (s *settings) resolve() error {
	set := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	path := s.config
	if !set["config"] {
		path = os.Getenv("HERALD_CONFIG")
	}
	var file map[string]fileValue
	if path != "" {
		var err error
		if file, err = s.readFile(path); err != nil {
			return err
		}
		s.file = path
	}
	for _, st := range s.list {
		if st.flag && set[st.name] {
			st.source = "flag"
			continue
		}
		if v, ok := os.LookupEnv(st.env); ok && st.env != "" {
			if err := st.value.Set(v); err != nil {
				return fmt.Errorf("%s: invalid value %q for %s: %v", st.env, v, st.name, err)
			}
			st.source = "env " + st.env
			continue
		}
		if fv, ok := file[st.name]; ok {
			if err := st.value.Set(fv.value); err != nil {
				return fmt.Errorf("%s: invalid value %q for %s: %v", fv.where, fv.value, st.name, err)
			}
			st.source = fv.where
			continue
		}
		st.source = "default"
	}
	return nil
}

// fileValue is one key of the config file, as the flag would be given it.
type fileValue struct {
	value string
	where string // FILE:LINE
}

// readFile reads a TOML config file: top-level keys named like the
// settings. An unknown key is an error that names it and its line.
func (s *settings) readFile(path string) (map[string]fileValue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var raw map[string]any
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := keyLines(data)
	where := func(key string) string {
		if l := lines[key]; l > 0 {
			return fmt.Sprintf("%s:%d", path, l)
		}
		return path
	}
	out := map[string]fileValue{}
	for _, k := range md.Keys() {
		if len(k) != 1 {
			continue // inside a table, which is itself reported
		}
		key := k[0]
		st := s.byName[key]
		if st == nil {
			msg := fmt.Sprintf("%s: unknown key %q", where(key), key)
			if c := closestSetting(key, s.byName); c != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", c)
			}
			return nil, errors.New(msg)
		}
		v, err := tomlString(raw[key])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", where(key), key, err)
		}
		out[key] = fileValue{value: v, where: where(key)}
	}
	return out, nil
}

// tomlString turns a TOML value into the text its flag takes; an array
// becomes a comma-separated list (allow-targets = ["10.0.0.0/8", "::1/128"]).
func tomlString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := tomlString(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("is a table; Herald's settings are top-level keys")
	}
	return fmt.Sprint(v), nil
}

// keyLines returns the line of each top-level key (and table) of a TOML
// document: the decoder keeps positions to itself.
func keyLines(data []byte) map[string]int {
	out := map[string]int{}
	inTable, multi := false, ""
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if multi != "" {
			if strings.Count(t, multi)%2 == 1 {
				multi = ""
			}
			continue
		}
		if t == "" || t[0] == '#' {
			continue
		}
		var key string
		if t[0] == '[' {
			key = strings.TrimLeft(t, "[")
			if j := strings.IndexAny(key, ".]"); j >= 0 {
				key = key[:j]
			}
		} else {
			j := strings.IndexAny(t, "=.")
			if j < 0 {
				continue
			}
			key = t[:j]
			for _, q := range []string{`"""`, `'''`} {
				if strings.Count(t[j:], q)%2 == 1 {
					multi = q
				}
			}
		}
		key = strings.Trim(strings.TrimSpace(key), `"'`)
		if _, ok := out[key]; !ok && (!inTable || t[0] == '[') {
			out[key] = i + 1
		}
		if t[0] == '[' {
			inTable = true
		}
	}
	return out
}

func closestSetting(key string, by map[string]*setting) string {
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// redacted reports whether a setting's value is never printed: those
// marked secret, and any whose name says password, token or secret.
func (st *setting) redacted() bool {
	n := st.name
	return st.secret || strings.Contains(n, "password") || strings.Contains(n, "token") || strings.Contains(n, "secret")
}

// configEntry is one setting as herald config --output json prints it.
type configEntry struct {
	Name     string `json:"name"`
	Value    any    `json:"value"`
	Source   string `json:"source"`
	Env      string `json:"env,omitempty"`
	Redacted bool   `json:"redacted,omitempty"`
}

// print writes the effective configuration as a TOML document (a redacted
// secret is a comment), each line saying where its value came from.
func (s *settings) print(w io.Writer, out *outputFormat) error {
	list := append([]*setting(nil), s.list...)
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	if out.json() {
		doc := struct {
			File     string        `json:"file,omitempty"`
			Settings []configEntry `json:"settings"`
		}{File: s.file}
		for _, st := range list {
			e := configEntry{Name: st.name, Source: st.source, Env: st.env}
			if st.redacted() && st.value.String() != "" {
				e.Value, e.Redacted = "(redacted)", true
			} else if g, ok := st.value.(flag.Getter); ok {
				e.Value = g.Get()
				if d, ok := e.Value.(time.Duration); ok {
					e.Value = d.String()
				}
			} else {
				e.Value = st.value.String()
			}
			doc.Settings = append(doc.Settings, e)
		}
		return writeJSON(w, doc)
	}
	fmt.Fprintln(w, "# herald serve's effective configuration: each setting comes from its flag,")
	if s.file != "" {
		fmt.Fprintf(w, "# else its environment variable, else %s, else its default.\n", s.file)
	} else {
		fmt.Fprintln(w, "# else its environment variable, else the --config file (none given), else its default.")
	}
	fmt.Fprintln(w, "# Secrets are redacted (commented out). This output is itself a valid --config file.")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, st := range list {
		line := st.name + " = " + tomlValue(st.value)
		if st.redacted() && st.value.String() != "" {
			line = "# " + st.name + " = (redacted)"
		}
		fmt.Fprintf(tw, "%s\t# %s\n", line, st.source)
	}
	return tw.Flush()
}

// tomlValue formats a flag's value as a TOML value.
func tomlValue(v flag.Value) string {
	var x any = v.String()
	if g, ok := v.(flag.Getter); ok {
		x = g.Get()
	}
	switch x := x.(type) {
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint, uint64:
		return fmt.Sprint(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return tomlQuote(v.String())
}

// tomlQuote quotes s as a TOML basic string: JSON's string escapes are
// all TOML escapes too.
func tomlQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

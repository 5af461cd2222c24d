package presence

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/herald-eventing/herald/eventing/access"
)

// Defaults and bounds of a rules file.
const (
	// DefaultSilence is how long an instance may stay silent before its
	// state is unknown, when the rules do not say.
	DefaultSilence = 10 * time.Minute
	// DefaultMaxInstances is how many instances are tracked when the
	// rules do not say; past it the longest silent one is forgotten.
	DefaultMaxInstances = 100_000
	// MaxInstancesLimit bounds max_instances.
	MaxInstancesLimit = 10_000_000
	// DefaultWindow is a service level's window when its rule gives none.
	DefaultWindow = 10 * time.Minute
	// MaxWindow bounds a service level's window.
	MaxWindow = 24 * time.Hour
	// HistoryMinutes is how many per-minute buckets a service level keeps
	// for its sparkline (at least its window).
	HistoryMinutes = 60
)

// Rules say how events set instances' states and what the service levels
// are. The zero value (and nil) has no rules: every instance that
// publishes is up, silence for DefaultSilence makes it unknown, and there
// are no service levels. Build Rules with ParseRules or LoadRules.
type Rules struct {
	silence      time.Duration
	maxInstances int
	groups       []group
	states       []stateRule
	levels       []levelRule
}

type group struct {
	name      string
	instances string // a path.Match pattern on the instanceId
	silence   time.Duration
}

type stateRule struct {
	topic access.Pattern // "" matches any topic
	text  *regexp.Regexp // nil matches any text
	group int            // index into groups, -1 for any instance
	state State
}

type levelRule struct {
	name         string
	topic        access.Pattern // "" counts events of any topic
	group        int            // -1 counts events of any instance
	failureTopic access.Pattern
	failureText  *regexp.Regexp
	window       time.Duration
	threshold    float64 // percent; 0 for none
}

// Silence returns how long an instance outside every group may stay
// silent before it is unknown.
func (r *Rules) Silence() time.Duration {
	if r == nil || r.silence == 0 {
		return DefaultSilence
	}
	return r.silence
}

// MaxInstances returns how many instances are tracked at most.
func (r *Rules) MaxInstances() int {
	if r == nil || r.maxInstances == 0 {
		return DefaultMaxInstances
	}
	return r.maxInstances
}

// LoadRules reads and validates a rules file (TOML, see ParseRules).
func LoadRules(file string) (*Rules, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("presence rules: %w", err)
	}
	return ParseRules(file, data)
}

// The file's shape; the field types check themselves as they are decoded,
// so that their errors carry the line.
type fileRules struct {
	Silence      duration    `toml:"silence"`
	MaxInstances int         `toml:"max_instances"`
	Group        []fileGroup `toml:"group"`
	State        []fileState `toml:"state"`
	Level        []fileLevel `toml:"level"`
}

type fileGroup struct {
	Name      string   `toml:"name"`
	Instances glob     `toml:"instances"`
	Silence   duration `toml:"silence"`
}

type fileState struct {
	Topic pattern `toml:"topic"`
	Text  textRE  `toml:"text"`
	Group string  `toml:"group"`
	State State   `toml:"state"`
}

type fileLevel struct {
	Name         string   `toml:"name"`
	Topic        pattern  `toml:"topic"`
	Group        string   `toml:"group"`
	FailureTopic pattern  `toml:"failure_topic"`
	FailureText  textRE   `toml:"failure_text"`
	Window       duration `toml:"window"`
	Threshold    *float64 `toml:"threshold"`
}

var knownKeys = map[string]string{
	"":      "silence, max_instances, [[group]], [[state]], [[level]]",
	"group": "name, instances, silence",
	"state": "topic, text, group, state",
	"level": "name, topic, group, failure_topic, failure_text, window, threshold",
}

// ParseRules reads a rules file in TOML; name is its name in errors. Every
// mistake is reported, each with where it is: the line for a value that
// does not parse, the table and its number ([[level]] #2) for a rule that
// does not hold together, and unknown keys by name.
//
//	silence = "10m"           # silent this long: unknown (default 10m)
//	max_instances = 100000    # instances tracked (default 100,000)
//
//	[[group]]                 # instances by instanceId pattern
//	name = "accounting"
//	instances = "i-acc-*"     # * any run, ? one character, [a-z] a class
//	silence = "2m"            # this group's silence (default: the file's)
//
//	[[state]]                 # the first rule that matches an event sets the state
//	topic = "*.health"        # a topic pattern (NATS-style) or a topic
//	text = "(?i)\\bdown\\b"   # a Go regular expression on the event's text
//	group = "accounting"      # only events of this group's instances
//	state = "down"            # up, degraded or down
//
//	[[level]]                 # a service level over a sliding window
//	name = "accounting"
//	topic = "acc.>"           # the events it counts (default: all) …
//	group = "accounting"      # … of these instances (default: all)
//	failure_topic = "acc.*.error"   # a failure event: this topic …
//	failure_text = "(?i)fail"       # … and/or this text
//	window = "10m"            # whole minutes, 1m to 24h (default 10m)
//	threshold = 99.9          # percent: crossing it publishes herald.sla.crossed
func ParseRules(name string, data []byte) (*Rules, error) {
	var f fileRules
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if pe.LastKey != "" {
				return nil, fmt.Errorf("%s:%d: %s: %s", name, pe.Position.Line, pe.LastKey, pe.Message)
			}
			return nil, fmt.Errorf("%s:%d: %s", name, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "toml: "))
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	for _, k := range md.Undecoded() {
		table := ""
		if len(k) > 1 {
			table = k[0]
		}
		if known, ok := knownKeys[table]; ok && table != "" {
			bad("unknown key %q (a %s takes %s)", k.String(), tableName(table), known)
		} else {
			bad("unknown key %q (the file takes %s)", k.String(), knownKeys[""])
		}
	}
	r := &Rules{silence: time.Duration(f.Silence), maxInstances: f.MaxInstances}
	if md.IsDefined("silence") && r.silence <= 0 {
		bad("silence %s is not positive", r.silence)
	}
	if md.IsDefined("max_instances") && (r.maxInstances < 1 || r.maxInstances > MaxInstancesLimit) {
		bad("max_instances %d is not between 1 and %d", r.maxInstances, MaxInstancesLimit)
	}
	groups := map[string]int{}
	for i, g := range f.Group {
		where := fmt.Sprintf("[[group]] #%d", i+1)
		switch {
		case strings.TrimSpace(g.Name) == "":
			bad("%s has no name", where)
		case groups[g.Name] != 0:
			bad("%s: the group name %q is taken by [[group]] #%d", where, g.Name, groups[g.Name])
		}
		if g.Instances == "" {
			bad("%s (%q) has no instances pattern", where, g.Name)
		}
		if g.Silence < 0 {
			bad("%s (%q): silence %s is negative", where, g.Name, time.Duration(g.Silence))
		}
		groups[g.Name] = i + 1
		r.groups = append(r.groups, group{name: g.Name, instances: string(g.Instances), silence: time.Duration(g.Silence)})
	}
	lookup := func(where, name string) int {
		if name == "" {
			return -1
		}
		if n := groups[name]; n != 0 {
			return n - 1
		}
		bad("%s names the group %q, which no [[group]] defines", where, name)
		return -1
	}
	for i, s := range f.State {
		where := fmt.Sprintf("[[state]] #%d", i+1)
		if s.Topic == "" && s.Text.re == nil {
			bad("%s has neither topic nor text: it would match every event", where)
		}
		switch s.State {
		case "":
			bad("%s has no state (up, degraded or down)", where)
		case Unknown:
			bad("%s sets the state unknown, which only silence sets (up, degraded or down)", where)
		}
		r.states = append(r.states, stateRule{topic: access.Pattern(s.Topic), text: s.Text.re, group: lookup(where, s.Group), state: s.State})
	}
	levels := map[string]int{}
	for i, l := range f.Level {
		where := fmt.Sprintf("[[level]] #%d", i+1)
		switch {
		case strings.TrimSpace(l.Name) == "":
			bad("%s has no name", where)
		case levels[l.Name] != 0:
			bad("%s: the level name %q is taken by [[level]] #%d", where, l.Name, levels[l.Name])
		default:
			where += fmt.Sprintf(" (%q)", l.Name)
		}
		levels[l.Name] = i + 1
		if l.FailureTopic == "" && l.FailureText.re == nil {
			bad("%s has neither failure_topic nor failure_text: no event would count as a failure", where)
		}
		w := time.Duration(l.Window)
		switch {
		case w == 0:
			w = DefaultWindow
		case w < time.Minute || w > MaxWindow || w%time.Minute != 0:
			bad("%s: window %s is not a whole number of minutes between 1m and 24h", where, w)
		}
		th := 0.0
		if l.Threshold != nil {
			th = *l.Threshold
			if !(th > 0 && th <= 100) {
				bad("%s: threshold %v is not a percentage above 0 and at most 100", where, th)
			}
		}
		r.levels = append(r.levels, levelRule{
			name: l.Name, topic: access.Pattern(l.Topic), group: lookup(where, l.Group),
			failureTopic: access.Pattern(l.FailureTopic), failureText: l.FailureText.re,
			window: w, threshold: th,
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

func tableName(t string) string {
	if t == "" {
		return "file"
	}
	return "[[" + t + "]]"
}

// groupOf returns the index of the first group whose pattern matches id,
// -1 for none.
func (r *Rules) groupOf(id string) int {
	if r == nil {
		return -1
	}
	for i, g := range r.groups {
		if ok, _ := path.Match(g.instances, id); ok {
			return i
		}
	}
	return -1
}

// silenceOf returns the silence of an instance in group g (-1: none).
func (r *Rules) silenceOf(g int) time.Duration {
	if r != nil && g >= 0 && r.groups[g].silence > 0 {
		return r.groups[g].silence
	}
	return r.Silence()
}

// groupName returns group g's name ("" for -1).
func (r *Rules) groupName(g int) string {
	if r == nil || g < 0 {
		return ""
	}
	return r.groups[g].name
}

// stateFor returns the state the first matching rule gives an event of an
// instance in group g, and whether one matched.
func (r *Rules) stateFor(topic, text string, g int) (State, bool) {
	if r == nil {
		return "", false
	}
	for _, s := range r.states {
		if s.group >= 0 && s.group != g {
			continue
		}
		if s.topic != "" && !s.topic.Match(topic) {
			continue
		}
		if s.text != nil && !s.text.MatchString(text) {
			continue
		}
		return s.state, true
	}
	return "", false
}

// counts reports whether level l counts an event.
func (l *levelRule) counts(topic string, g int) bool {
	return (l.topic == "" || l.topic.Match(topic)) && (l.group < 0 || l.group == g)
}

// failure reports whether an event the level counts is a failure.
func (l *levelRule) failure(topic, text string) bool {
	return (l.failureTopic == "" || l.failureTopic.Match(topic)) && (l.failureText == nil || l.failureText.MatchString(text))
}

// duration is a TOML string such as "10m" or "90s".
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"10m\" or \"90s\"", b)
	}
	*d = duration(v)
	return nil
}

// pattern is a topic pattern (access.ParsePattern).
type pattern access.Pattern

func (p *pattern) UnmarshalText(b []byte) error {
	v, err := access.ParsePattern(string(b))
	if err != nil {
		return err
	}
	*p = pattern(v)
	return nil
}

// glob is an instanceId pattern (path.Match).
type glob string

func (g *glob) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return errors.New("empty instances pattern")
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Errorf("instances pattern %q: %v (* any run, ? one character, [a-z] a class)", s, err)
	}
	*g = glob(s)
	return nil
}

// textRE is a regular expression on an event's text.
type textRE struct{ re *regexp.Regexp }

func (t *textRE) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty regular expression")
	}
	re, err := regexp.Compile(string(b))
	if err != nil {
		return err
	}
	t.re = re
	return nil
}

// UnmarshalText reads a state a rule may set.
func (s *State) UnmarshalText(b []byte) error {
	switch v := State(strings.TrimSpace(string(b))); v {
	case Up, Degraded, Down, Unknown:
		*s = v
		return nil
	}
	return fmt.Errorf("state %q is not up, degraded or down", b)
}

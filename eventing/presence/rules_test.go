package presence_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing/presence"
)

func TestLoadRules_Example(t *testing.T) {
	r, err := presence.LoadRules(filepath.Join("..", "..", "testdata", "presence-rules.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Silence() != 10*time.Minute || r.MaxInstances() != 100000 {
		t.Errorf("silence %s, max %d", r.Silence(), r.MaxInstances())
	}
}

func TestRules_Defaults(t *testing.T) {
	var none *presence.Rules
	if none.Silence() != presence.DefaultSilence || none.MaxInstances() != presence.DefaultMaxInstances {
		t.Error("nil rules do not take the defaults")
	}
	r, err := presence.ParseRules("empty.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Silence() != presence.DefaultSilence || r.MaxInstances() != presence.DefaultMaxInstances {
		t.Error("an empty file does not take the defaults")
	}
}

func TestParseRules_Errors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"syntax", "silence = \n", []string{"r.toml:1:"}},
		{"bad duration", "\n\nsilence = \"ten minutes\"\n", []string{`r.toml:3: silence: "ten minutes" is not a duration`}},
		{"duration type", "silence = 10\n", []string{`r.toml:1: silence: "10" is not a duration`}},
		{"negative silence", "silence = \"-1m\"\n", []string{"silence -1m0s is not positive"}},
		{"max instances", "max_instances = 0\n", []string{"max_instances 0 is not between 1 and 10000000"}},
		{"unknown top key", "silense = \"1m\"\n", []string{`unknown key "silense" (the file takes silence, max_instances, [[group]], [[state]], [[level]])`}},
		{"unknown rule key", "[[state]]\ntopic = \"t\"\nstate = \"up\"\ntxt = \"x\"\n", []string{`unknown key "state.txt" (a [[state]] takes topic, text, group, state)`}},
		{"bad regexp", "[[state]]\ntopic = \"t\"\n\ntext = \"(down\"\nstate = \"down\"\n", []string{`r.toml:4: state.text: error parsing regexp: missing closing ): ` + "`(down`"}},
		{"bad pattern", "[[state]]\ntopic = \"acc.>.x\"\nstate = \"down\"\n", []string{`r.toml:2: state.topic: topic pattern "acc.>.x": > may only stand last`}},
		{"bad state", "[[state]]\ntopic = \"t\"\nstate = \"sad\"\n", []string{`r.toml:3: state.state: state "sad" is not up, degraded or down`}},
		{"unknown state", "[[state]]\ntopic = \"t\"\nstate = \"unknown\"\n", []string{"[[state]] #1 sets the state unknown, which only silence sets"}},
		{"no state", "[[state]]\ntopic = \"t\"\n", []string{"[[state]] #1 has no state"}},
		{"matches everything", "[[state]]\nstate = \"up\"\n", []string{"[[state]] #1 has neither topic nor text"}},
		{"unknown group", "[[state]]\ntopic = \"t\"\ngroup = \"dbs\"\nstate = \"up\"\n", []string{`[[state]] #1 names the group "dbs", which no [[group]] defines`}},
		{"bad glob", "[[group]]\nname = \"g\"\ninstances = \"i-[\"\n", []string{`r.toml:3: group.instances: instances pattern "i-["`}},
		{"group without pattern", "[[group]]\nname = \"g\"\n", []string{`[[group]] #1 ("g") has no instances pattern`}},
		{"duplicate group", "[[group]]\nname = \"g\"\ninstances = \"a*\"\n[[group]]\nname = \"g\"\ninstances = \"b*\"\n", []string{`[[group]] #2: the group name "g" is taken by [[group]] #1`}},
		{"level without failure", "[[level]]\nname = \"l\"\n", []string{`[[level]] #1 ("l") has neither failure_topic nor failure_text`}},
		{"level without name", "[[level]]\nfailure_text = \"x\"\n", []string{"[[level]] #1 has no name"}},
		{"window", "[[level]]\nname = \"l\"\nfailure_text = \"x\"\nwindow = \"90s\"\n", []string{`[[level]] #1 ("l"): window 1m30s is not a whole number of minutes between 1m and 24h`}},
		{"long window", "[[level]]\nname = \"l\"\nfailure_text = \"x\"\nwindow = \"25h\"\n", []string{"window 25h0m0s is not a whole number of minutes"}},
		{"threshold", "[[level]]\nname = \"l\"\nfailure_text = \"x\"\nthreshold = 101\n", []string{`[[level]] #1 ("l"): threshold 101 is not a percentage above 0 and at most 100`}},
		{"threshold zero", "[[level]]\nname = \"l\"\nfailure_text = \"x\"\nthreshold = 0\n", []string{"threshold 0 is not a percentage"}},
		{"every mistake", "max_instances = -1\n[[state]]\nstate = \"up\"\n[[level]]\nname = \"l\"\n", []string{"max_instances -1", "[[state]] #1 has neither", `[[level]] #1 ("l") has neither`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := presence.ParseRules("r.toml", []byte(tt.file))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say\n%s", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "r.toml:") {
					t.Errorf("error line %q does not name the file", line)
				}
			}
		})
	}
}

func TestLoadRules_Missing(t *testing.T) {
	_, err := presence.LoadRules(filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !os.IsNotExist(errUnwrap(err)) {
		t.Errorf("error %v", err)
	}
}

func errUnwrap(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func ExampleParseRules() {
	r, err := presence.ParseRules("rules.toml", []byte(`
silence = "5m"

[[state]]
topic = "*.health"
text = "(?i)down"
state = "down"
`))
	fmt.Println(r.Silence(), err)
	// Output: 5m0s <nil>
}

// The README's example is a valid file.
func TestParseRules_README(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "## Presence and service levels")
	if i < 0 {
		t.Fatal("no presence section in the README")
	}
	s = s[i:]
	start := strings.Index(s, "```toml\n")
	end := strings.Index(s[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no TOML example in the README's presence section")
	}
	if _, err := presence.ParseRules("README.md", []byte(s[start+8:start+8+end])); err != nil {
		t.Error(err)
	}
}

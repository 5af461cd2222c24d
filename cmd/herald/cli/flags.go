package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// flagSet is one subcommand's flags. They are the standard library's
// (so -name and --name both work, and --name=value), with three
// conventions added: flags and arguments may come in any order ("--" ends
// the flags), --help prints the help on stdout, and a mistake is one line
// (a *usageError, exit status 2) instead of the whole usage.
type flagSet struct {
	*flag.FlagSet
	cmd      string // the command's name: "subscribe", "keys create"
	synopsis string
	stdout   io.Writer
	// after runs once the flags are parsed, before the command (checks
	// that need every flag, e.g. --output's).
	after []func() error
	// notes are printed below the flags in the help.
	notes []string
}

func newFlags(cmd, synopsis string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // mistakes are reported by parse, help by help
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, cmd: cmd, synopsis: synopsis, stdout: stdout}
}

// usageError is a mistake in the command line: Main prints it on one line
// with a hint to the command's help, and exits with status 2.
type usageError struct {
	cmd string // the command whose help the hint names ("" for herald's)
	msg string
}

func (e *usageError) Error() string { return e.msg }

// hint is the line printed after a usage error.
func (e *usageError) hint() string {
	if e.cmd == "" {
		return "Run 'herald help' for usage."
	}
	return "Run 'herald help " + e.cmd + "' for usage."
}

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// usagef returns a usage error of this command.
func (f *flagSet) usagef(format string, args ...any) error { return usagef(f.cmd, format, args...) }

// parse parses args and returns the positional arguments. After --help it
// prints the help on stdout and returns flag.ErrHelp.
func (f *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.help(f.stdout)
				return nil, flag.ErrHelp
			}
			return nil, f.usagef("%s", flagMessage(err))
		}
		rest := f.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	for _, check := range f.after {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// parseNone parses a command line that takes no arguments.
func (f *flagSet) parseNone(args []string) error {
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return f.usagef("unexpected argument %q (herald %s takes none)", pos[0], f.cmd)
	}
	return nil
}

// parseOne parses a command line with exactly one argument, what.
func (f *flagSet) parseOne(args []string, what string) (string, error) {
	pos, err := f.parse(args)
	if err != nil {
		return "", err
	}
	switch len(pos) {
	case 0:
		return "", f.usagef("give %s", what)
	case 1:
		return pos[0], nil
	}
	return "", f.usagef("unexpected argument %q (give only %s)", pos[1], what)
}

// isSet reports whether the flag name was given on the command line.
func (f *flagSet) isSet(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

var (
	flagUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagNoValue   = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	flagName      = regexp.MustCompile(`for (?:flag )?-+([^\s:]+):`)
)

// flagMessage rewrites the flag package's messages in the --name
// spelling the help uses.
func flagMessage(err error) string {
	s := err.Error()
	if m := flagUndefined.FindStringSubmatch(s); m != nil {
		return "unknown flag --" + m[1]
	}
	if m := flagNoValue.FindStringSubmatch(s); m != nil {
		return "--" + m[1] + " needs a value"
	}
	return flagName.ReplaceAllString(s, "for --$1:")
}

// help prints the command's usage and flags.
func (f *flagSet) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: herald %s\n", f.synopsis)
	if s := summaryOf(f.cmd); s != "" {
		fmt.Fprintf(w, "\n%s%s.\n", strings.ToUpper(s[:1]), s[1:])
	}
	fmt.Fprintln(w, "\nFlags:")
	printFlags(w, f.FlagSet)
	for _, n := range f.notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

// printFlags prints every flag as --name TYPE, its usage indented below.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(fl *flag.Flag) {
		kind, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if kind != "" {
			line += " " + kind
		}
		if d := fl.DefValue; d != "" && d != "0" && d != "false" && d != "0s" {
			if _, ok := getter(fl).(string); ok {
				d = fmt.Sprintf("%q", d)
			}
			usage += " (default " + d + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, strings.ReplaceAll(usage, "\n", "\n      "))
	})
}

// getter returns a flag's value as its type (string, bool, int, float64,
// time.Duration…), or nil.
func getter(fl *flag.Flag) any {
	if g, ok := fl.Value.(flag.Getter); ok {
		return g.Get()
	}
	return nil
}

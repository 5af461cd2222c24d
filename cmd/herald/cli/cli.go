// Package cli is Herald's command line: the server (herald serve) and the
// client subcommands that talk to it. cmd/herald is Main and the processors
// Herald ships; a build with more processors is a main package that
// imports them next to this one:
//
//	package main
//
//	import (
//		"github.com/herald-eventing/herald/cmd/herald/cli"
//		_ "example.com/pager" // registers processor "pager"
//	)
//
//	func main() { cli.Main() }
//
//	herald serve [--addr 127.0.0.1:8080] [--data ./data]
//	herald listen --addr 127.0.0.1:9000
//	herald subscribe --topic T --notify-to URL
//	herald unsubscribe ID
//	herald publish --topic T [--instance I] [--text …] [--info …]
//	herald renew ID [--expires D]
//	herald status ID
//	herald cancel ID
//	herald deadletters ID
//	herald replay ID [--since T]
//
// Run "herald help" or "herald CMD --help" for the flags of each.
package cli

import (
	_ "github.com/herald-eventing/herald/transports/all" // the processors Herald ships

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Main runs the command line with os.Args and exits.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "herald:", err)
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

// errUsage is returned after a usage message was printed.
var errUsage = errors.New("usage")

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":       {"run the Herald server", serve},
		"listen":      {"run a SOAP sink that prints every notification it receives", listen},
		"subscribe":   {"subscribe an endpoint to a topic; prints the subscription id", subscribeCmd},
		"unsubscribe": {"end a subscription", unsubscribeCmd},
		"publish":     {"publish an event message", publishCmd},
		"renew":       {"extend a subscription's lease", renewCmd},
		"status":      {"show a subscription: lease, delivery position, failures, last attempts", statusCmd},
		"cancel":      {"end a subscription as the operator (SubscriptionEnd to its EndTo)", cancelCmd},
		"deadletters": {"list a subscription's dead letters", deadLettersCmd},
		"replay":      {"deliver a subscription's dead letters again", replayCmd},
		"bench":       {"measure Herald against a bare net/http handler and print a table", benchCmd},
		"compact":     {"rewrite the stopped server's bbolt file to give back free space", compactCmd},
		"pull":        {"read a pull subscription's events by cursor", pullCmd},
		"keys":        {"create, list and revoke API keys (with an admin key)", keysCmd},
	}
}

// Run runs one subcommand; flag.ErrHelp after --help.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "herald: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return errUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Herald: a WS-Eventing notification service.")
	fmt.Fprintln(w, "\nUsage: herald COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'herald COMMAND --help' for a command's flags.")
}

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: herald %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

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
//	herald serve [--addr 127.0.0.1:8080] [--data ./data] [--config herald.toml]
//	herald config [serve's flags]
//	herald listen --addr 127.0.0.1:9000
//	herald subscribe --topic T --notify-to URL
//	herald subscribe --topic T --processor NAME --message-file FILE
//	herald unsubscribe ID
//	herald publish --topic T [--instance I] [--text …] [--info …]
//	herald publish < message.xml
//	herald renew ID [--expires D]
//	herald status ID
//	herald cancel ID
//	herald deadletters ID
//	herald replay ID [--since T] [--wait]
//	herald export [--data DIR | --store URL] [--out FILE]
//	herald import [--data DIR | --store URL] [--in FILE]
//	herald version
//
// Run "herald help" or "herald help CMD" for the flags of each.
//
// The command line is the standard library's flag package and a small
// dispatcher (this file): every convention Herald follows (help on stdout,
// one-line usage errors with exit status 2, flags and arguments in any
// order, --output json) is a few lines here, in flags.go and output.go,
// and needs no dependency.
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
	"strings"
	"syscall"

	"github.com/herald-eventing/herald/transports/soap"
)

// Exit statuses.
const (
	exitOK           = 0
	exitError        = 1 // the server refused, the network failed, a file is bad…
	exitUsage        = 2 // the command line is wrong
	exitNotFound     = 3 // no such subscription or key
	exitUnauthorized = 4 // no, a bad, or an insufficient key
)

const exitCodes = `Exit status:
  0  success
  1  error: the server refused, the network failed, a file or document is bad
  2  usage: an unknown command or flag, a missing or unexpected argument
  3  not found: the subscription or key is not known (or not yours)
  4  unauthorized: the key is missing, wrong, revoked or not allowed to do this`

// Main runs the command line with os.Args and exits with its status.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(report(os.Stderr, err))
}

// report prints err (if any) on stderr and returns the exit status for it.
func report(stderr io.Writer, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "herald:", ue.msg)
		fmt.Fprintln(stderr, ue.hint())
		return exitUsage
	}
	fmt.Fprintln(stderr, "herald:", strings.TrimSpace(err.Error()))
	return exitCode(err)
}

// exitCode classifies an error that is not a usage error.
func exitCode(err error) int {
	var fe *soap.FaultError
	if errors.As(err, &fe) {
		sub := fe.Subcode
		if i := strings.LastIndexByte(sub, ':'); i >= 0 {
			sub = sub[i+1:]
		}
		switch {
		case sub == "UnknownSubscription":
			return exitNotFound
		case sub == "FailedAuthentication" || sub == "AccessDenied" || fe.Status == 401 || fe.Status == 403:
			return exitUnauthorized
		}
		return exitError
	}
	var he *httpError
	if errors.As(err, &he) {
		switch he.status {
		case 404:
			return exitNotFound
		case 401, 403:
			return exitUnauthorized
		}
	}
	return exitError
}

// httpError is an answer of Herald's that is not the one expected.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":       {"run the Herald server", serve},
		"config":      {"print herald serve's effective configuration (each setting, its value and where it came from), secrets redacted", configCmd},
		"listen":      {"run a SOAP sink that prints every notification it receives", listen},
		"subscribe":   {"subscribe an endpoint to a topic; prints the subscription id", subscribeCmd},
		"unsubscribe": {"end a subscription", unsubscribeCmd},
		"publish":     {"publish an event message (from flags, or a <message> document on stdin)", publishCmd},
		"renew":       {"extend a subscription's lease", renewCmd},
		"status":      {"show a subscription: lease, delivery position, failures, last attempts", statusCmd},
		"cancel":      {"end a subscription as the operator (SubscriptionEnd to its EndTo)", cancelCmd},
		"deadletters": {"list a subscription's dead letters", deadLettersCmd},
		"replay":      {"deliver a subscription's dead letters again", replayCmd},
		"bench":       {"measure Herald against a bare net/http handler and print a table", benchCmd},
		"compact":     {"rewrite the stopped server's bbolt file to give back free space", compactCmd},
		"export":      {"write a stopped server's subscriptions, dead letters, keys and settings to a file (JSON lines, holds secrets)", exportCmd},
		"import":      {"read a herald export into a stopped server's store (bbolt or JetStream)", importCmd},
		"pull":        {"read a pull subscription's events by cursor", pullCmd},
		"keys":        {"create, list and revoke API keys (with an admin key)", keysCmd},
		"version":     {"print Herald's version, Go version and commit", versionCmd},
		"help":        {"show the commands, or one command's flags (herald help CMD)", nil},
	}
}

// summaryOf returns a command's (or keys subcommand's) one-line summary.
func summaryOf(cmd string) string {
	if s, ok := keysSummaries[cmd]; ok {
		return s
	}
	return commands()[cmd].summary
}

// Run runs one command line (without the program name). It returns
// flag.ErrHelp after printing help, a *usageError for a mistake in the
// command line, and any other error for a failure.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 {
		usage(stdout, cmds)
		return flag.ErrHelp
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout, cmds)
		return flag.ErrHelp
	case "-version", "--version":
		return versionCmd(ctx, args[1:], stdout, stderr)
	case "help":
		return helpCmd(ctx, args[1:], stdout, stderr)
	}
	c, ok := cmds[args[0]]
	if !ok {
		return unknownCommand(args[0], cmds)
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func unknownCommand(name string, cmds map[string]command) error {
	if strings.HasPrefix(name, "-") {
		return usagef("", "unknown flag %s (flags go after the command: herald COMMAND [flags])", name)
	}
	if s := closest(name, cmds); s != "" {
		return usagef("", "unknown command %q (did you mean %q?)", name, s)
	}
	return usagef("", "unknown command %q", name)
}

// helpCmd is herald help [CMD [SUBCMD]]: the overview, or a command's
// help, on stdout.
func helpCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 {
		usage(stdout, cmds)
		return flag.ErrHelp
	}
	if args[0] == "help" {
		fmt.Fprintln(stdout, "Usage: herald help [COMMAND [SUBCOMMAND]]\n\nShows the commands, or one command's flags.")
		return flag.ErrHelp
	}
	c, ok := cmds[args[0]]
	if !ok {
		return unknownCommand(args[0], cmds)
	}
	if len(args) > 2 || (len(args) == 2 && args[0] != "keys") {
		return usagef("", "unexpected argument %q after herald help %s", args[len(args)-1], args[0])
	}
	// Every command prints its own help for --help.
	return c.run(ctx, append(args[1:], "--help"), stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Herald: a WS-Eventing notification service.")
	fmt.Fprintln(w, "\nUsage: herald COMMAND [flags] [arguments]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'herald help COMMAND' (or herald COMMAND --help) for a command's flags.")
	fmt.Fprintln(w, "The client commands talk to --server (HERALD_SERVER, default "+defaultServer+")")
	fmt.Fprintln(w, "with --key (HERALD_KEY) and print --output text (default) or json.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, exitCodes)
}

// closest returns the command nearest to name (a typo), or "".
func closest(name string, cmds map[string]command) string {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if bestD > len(name)/2 {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

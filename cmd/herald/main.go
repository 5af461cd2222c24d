// Command herald is Herald's one binary: the server (herald serve) and the
// client subcommands that talk to it.
//
//	herald serve [--addr 127.0.0.1:8080] [--data ./data]
//	herald listen --addr 127.0.0.1:9000
//	herald subscribe --topic T --notify-to URL
//	herald publish --topic T [--instance I] [--text …] [--info …]
//
// Run "herald help" or "herald CMD --help" for every subcommand and its
// flags. The command line lives in package cli, so that a build with more
// subscription processors is three lines (see cli's documentation).
package main

import "github.com/herald-eventing/herald/cmd/herald/cli"

func main() { cli.Main() }

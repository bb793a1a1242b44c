// Command herald turns Mailjet webhook events into actions. See README.md
// and docs/ for its use; this package only parses flags, loads the
// configuration, wires the packages together and handles signals.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(run()) }

// run executes the subcommand named by os.Args and returns the exit code.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runArgs(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// runArgs runs the subcommand args[0] with the rest of args.
func runArgs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stderr)
	case "check":
		return runCheck(rest, stdout, stderr)
	case "replay":
		return runReplay(rest, os.Stdin, stdout, stderr)
	case "test":
		return runTest(rest, stdout, stderr)
	case "sim":
		return runSim(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(stdout)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "herald: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
}

// usage prints the list of subcommands.
func usage(w io.Writer) {
	fmt.Fprint(w, `herald turns Mailjet webhook events into actions.

Usage:
  herald serve   [--config herald.yaml] [--rules rules.yaml] [--listen :8080]
                 [--data ./data] [--nats URL] [--dry-run]
  herald check   [--config herald.yaml] RULES.yaml…
  herald replay  --rules RULES.yaml [--config herald.yaml] [--until +24h] [--explain] EVENTS…
  herald test    [--run REGEX] [-v] [--explain] TESTS.yaml…
  herald sim     --url URL [--rate N | --speed X] [--version 1|2] [traffic flags]
  herald sim     --out FILE|- [traffic flags]
  herald sim     --sinks ADDR [--fail-rate P] [--status CODE] [--latency D]
  herald version
  herald help

Run "herald COMMAND -h" for a command's flags. Documentation: README.md, docs/.
`)
}

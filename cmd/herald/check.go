package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/config"
)

// runCheck implements `herald check [--config herald.yaml] RULES.yaml…`:
// exit 0 when every file is valid, 1 when one has errors (each printed as
// file:line:col with the rule, the key and a caret snippet), 2 on usage.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "herald.yaml `file`: also check that actions name its connections")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: herald check [--config herald.yaml] RULES.yaml…")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	opt, err := parseOptions(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "herald check: %v\n", err)
		return 1
	}
	code := 0
	for _, path := range fs.Args() {
		rs, err := engine.LoadFile(path, opt)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok, %d rules (version %s)\n", path, len(rs.Rules), rs.Version)
		for _, w := range rs.Warnings {
			fmt.Fprintf(stderr, "%s\n", w)
		}
	}
	return code
}

// parseOptions reads the connections of a herald.yaml for rule checks; with
// no path the connections are not checked.
func parseOptions(path string) (engine.ParseOptions, error) {
	if path == "" {
		return engine.ParseOptions{}, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return engine.ParseOptions{}, err
	}
	return engine.ParseOptions{Connections: connectionTypes(cfg)}, nil
}

// connectionTypes maps connection names to their types. A configuration
// without connections (the quick start) returns nil: every action then runs
// dry and no name is an error.
func connectionTypes(cfg *config.Config) map[string]string {
	if len(cfg.Connections) == 0 {
		return nil
	}
	out := make(map[string]string, len(cfg.Connections))
	for name, c := range cfg.Connections {
		out[name] = c.Type
	}
	return out
}

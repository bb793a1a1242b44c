package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// runTest implements `herald test [--run REGEX] [-v] [--explain]
// TESTS.yaml…` (DESIGN §8, docs/testing-rules.md): each test feeds events to
// the rules on a virtual clock and checks what fired. Exit 0 when every
// test passes, 1 when one fails or a tests file has errors, 2 on usage.
func runTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := fs.String("run", "", "run only the tests whose name matches this `regexp`")
	verbose := fs.Bool("v", false, "print every firing of every test")
	explain := fs.Bool("explain", false, "print, per event, which rules it reached and why each fired or not")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: herald test [--run REGEX] [-v] [--explain] TESTS.yaml…")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	sel, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintf(stderr, "herald test: --run: %v\n", err)
		return 2
	}
	t := &tester{out: stdout, errOut: stderr, sel: sel, verbose: *verbose, explain: *explain}
	for _, path := range files {
		t.file(path)
	}
	return t.summary(*run)
}

// parseInterspersed parses flags given before, between or after the files.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return files, nil
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// tester runs tests files and counts the outcome.
type tester struct {
	out, errOut io.Writer
	sel         *regexp.Regexp
	verbose     bool
	explain     bool
	passed      int
	failed      int
	badFiles    int
}

func (t *tester) file(path string) {
	tf, warnings, err := parseTestFile(path)
	for _, w := range warnings {
		fmt.Fprintln(t.errOut, w)
	}
	if err != nil {
		fmt.Fprintln(t.errOut, err)
		t.badFiles++
		return
	}
	for _, w := range tf.rules.Warnings {
		fmt.Fprintln(t.errOut, w)
	}
	for _, tc := range tf.tests {
		if t.sel.MatchString(tc.name) {
			t.test(tf, tc)
		}
	}
}

func (t *tester) test(tf *testFile, tc *testCase) {
	var explain io.Writer
	if t.explain {
		fmt.Fprintf(t.out, "=== %s (%s:%d)\n", tc.name, tf.path, tc.line)
		explain = t.out
	}
	res := runTestCase(tf, tc, explain)
	if res.ok() {
		t.passed++
		fmt.Fprintf(t.out, "ok    %s\n", tc.name)
	} else {
		t.failed++
		fmt.Fprintf(t.out, "FAIL  %s (%s:%d)\n", tc.name, tf.path, tc.line)
		for _, e := range res.errors {
			fmt.Fprintf(t.out, "  error: %s\n", strings.ReplaceAll(e, "\n", "\n    "))
		}
		for _, p := range res.problems {
			fmt.Fprintf(t.out, "  %s\n", strings.ReplaceAll(p, "\n", "\n  "))
		}
	}
	if t.verbose || !res.ok() {
		t.firings(tc, res)
	}
}

// firings lists what fired, for -v and for failures.
func (t *tester) firings(tc *testCase, res *testResult) {
	if len(res.firings) == 0 {
		fmt.Fprintln(t.out, "  fired: nothing")
		return
	}
	fmt.Fprintln(t.out, "  fired:")
	for _, f := range res.firings {
		fmt.Fprintf(t.out, "    %s\n", describeFiring(tc, f, "      "))
	}
}

func (t *tester) summary(run string) int {
	total := t.passed + t.failed
	switch {
	case t.failed > 0 || t.badFiles > 0:
		var parts []string
		if t.failed > 0 {
			parts = append(parts, fmt.Sprintf("%d of %s failed", t.failed, plural(total, "test")))
		}
		if t.badFiles > 0 {
			parts = append(parts, plural(t.badFiles, "file")+" with errors")
		}
		fmt.Fprintln(t.out, "FAIL  "+strings.Join(parts, "; "))
		return 1
	case total == 0 && run != "":
		fmt.Fprintf(t.errOut, "herald test: no test matches --run %q\n", run)
		return 1
	case total == 0:
		fmt.Fprintln(t.errOut, "herald test: the files hold no test")
		return 1
	}
	fmt.Fprintf(t.out, "PASS  %s\n", plural(total, "test"))
	return 0
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

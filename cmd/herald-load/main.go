// Command herald-load posts Mailjet webhook bodies at a URL and measures
// what it sustains: requests/s, events/s, latency percentiles and errors.
// With -ceiling it first measures, with the same generator, a bare net/http
// handler that reads the body and answers 200, and prints herald's ratio to
// that ceiling. The ceiling runs in its own process (herald-load re-executed
// with HERALD_LOAD_SERVE_CEILING=1), like herald, because served inside the
// load generator's process it shares the generator's Go runtime and
// measured about 1.5 times what a separate server process sustains.
// -ceiling-inprocess also measures that in-process ceiling, as a second row
// with its own ratio. See docs/benchmarks.md.
//
//	herald-load -url http://127.0.0.1:8080/webhooks/mailjet -c 64 -d 10s -events 1 -ceiling
//	herald-load -url http://127.0.0.1:8080/webhooks/mailjet -c 16 -d 10s -events 100 -ceiling
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	if os.Getenv(ceilingEnv) == "1" {
		os.Exit(serveCeiling(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are herald-load's flags.
type options struct {
	url      string
	workers  int
	duration time.Duration
	count    int
	warmup   time.Duration
	perBody  int
	array    bool
	user     string
	password string
	ceiling  bool
	inProc   bool // -ceiling-inprocess
	insecure bool
	timeout  time.Duration
	distinct int
	netHTTP  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("herald-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "webhook URL to load (required)")
	fs.IntVar(&o.workers, "c", 64, "concurrent workers, each with its own keep-alive connection")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to measure")
	fs.IntVar(&o.count, "n", 0, "stop after this many requests instead of after -d")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring, not counted")
	fs.IntVar(&o.perBody, "events", 1, "events per body: 1 sends Version 1 bodies (one object), more sends Version 2 arrays")
	fs.BoolVar(&o.array, "array", false, "send arrays (Version 2) even with -events 1")
	fs.StringVar(&o.user, "user", "", "basic auth username")
	fs.StringVar(&o.password, "password", "", "basic auth password (default $HERALD_LOAD_PASSWORD)")
	fs.BoolVar(&o.ceiling, "ceiling", false, "also measure a bare net/http handler (the ceiling) served by a child process, as herald is a separate process, and print the ratio")
	fs.BoolVar(&o.inProc, "ceiling-inprocess", false, "also measure the bare handler served inside herald-load's own process, sharing the generator's runtime (a higher, less realistic ceiling), and print that ratio")
	fs.BoolVar(&o.insecure, "k", false, "accept any TLS certificate")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&o.distinct, "bodies", 512, "distinct bodies generated up front and cycled through")
	fs.BoolVar(&o.netHTTP, "nethttp", false, "use net/http's client instead of the lighter built-in one (always for https)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.url == "" || fs.NArg() > 0 {
		fs.Usage()
		return o, errors.New("-url is required and no arguments are taken")
	}
	if o.workers < 1 || o.perBody < 1 || o.distinct < 1 {
		return o, errors.New("-c, -events and -bodies must be at least 1")
	}
	if o.password == "" {
		o.password = os.Getenv("HERALD_LOAD_PASSWORD")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "herald-load:", err)
		return 2
	}
	target, err := url.Parse(o.url)
	if err == nil && target.Scheme != "http" && target.Scheme != "https" {
		err = fmt.Errorf("-url %q: want an http:// or https:// URL", o.url)
	}
	if err != nil {
		fmt.Fprintln(stderr, "herald-load:", err)
		return 2
	}
	bs := bodies(1, o.distinct, o.perBody, o.array)
	client := "built-in HTTP/1.1 client"
	if o.netHTTP || target.Scheme == "https" {
		client = "net/http client"
	}
	fmt.Fprintf(stdout, "bodies: %s, %d events each, %d bytes on average; %d workers, %s\n",
		bodyKind(o), o.perBody, avgLen(bs), o.workers, client)

	var results []*result
	for _, c := range []struct {
		name  string
		on    bool
		start func() (stop func() error, u *url.URL, err error)
	}{
		{"ceiling", o.ceiling, func() (func() error, *url.URL, error) { return startCeiling(target, stderr) }},
		{"ceiling-inprocess", o.inProc, func() (func() error, *url.URL, error) { return startCeilingInProcess(target) }},
	} {
		if !c.on {
			continue
		}
		stop, u, err := c.start()
		if err != nil {
			fmt.Fprintf(stderr, "herald-load: %s: %v\n", c.name, err)
			return 1
		}
		results = append(results, measure(c.name, u, bs, o))
		if err := stop(); err != nil {
			fmt.Fprintf(stderr, "herald-load: %s: stop: %v\n", c.name, err)
		}
	}
	// The target comes last: printResults and the exit code rely on it.
	results = append(results, measure("target", target, bs, o))
	printResults(stdout, results, o.perBody)
	if last := results[len(results)-1]; last.ok == 0 {
		return 1
	}
	return 0
}

func bodyKind(o options) string {
	if o.perBody == 1 && !o.array {
		return "Version 1"
	}
	return "Version 2"
}

func avgLen(bs [][]byte) int {
	total := 0
	for _, b := range bs {
		total += len(b)
	}
	return total / len(bs)
}

func newClient(o options) *http.Client {
	return &http.Client{
		Timeout: o.timeout,
		Transport: &http.Transport{
			MaxIdleConns:        o.workers,
			MaxIdleConnsPerHost: o.workers,
			MaxConnsPerHost:     o.workers,
			DisableCompression:  true,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: o.insecure},
		},
	}
}

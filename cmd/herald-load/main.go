// Command herald-load posts Mailjet webhook bodies at a URL and measures
// what it sustains: requests/s, events/s, latency percentiles and errors.
// With -ceiling it first measures, with the same generator, a bare net/http
// handler that reads the body and answers 200, and prints herald's ratio to
// that ceiling. See docs/benchmarks.md.
//
//	herald-load -url http://127.0.0.1:8080/webhooks/mailjet -c 64 -d 10s -events 1 -ceiling
//	herald-load -url http://127.0.0.1:8080/webhooks/mailjet -c 16 -d 10s -events 100 -ceiling
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

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
	fs.BoolVar(&o.ceiling, "ceiling", false, "also measure a bare net/http handler (the ceiling) and print the ratio")
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
	if o.ceiling {
		stop, ceilingURL, err := startCeiling(target)
		if err != nil {
			fmt.Fprintln(stderr, "herald-load: ceiling:", err)
			return 1
		}
		results = append(results, measure("ceiling", ceilingURL, bs, o))
		stop()
	}
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

// startCeiling serves the bare handler on 127.0.0.1:0 and returns the URL
// with target's path.
func startCeiling(target *url.URL) (stop func(), u *url.URL, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
	return stop, &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: target.Path, RawPath: target.RawPath}, nil
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

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	mjsim "github.com/heraldmail/herald/internal/sim"
)

// simFlags are herald sim's flags beyond the traffic's Config.
type simFlags struct {
	url, out, sinks string
	user, password  string
	start           string
	rate, speed     float64
	concurrency     int
	timeout         time.Duration
	version         int
	window          time.Duration
	netHTTP         bool
	failRate        float64
	status          int
	latency         time.Duration
}

// runSim implements `herald sim`: realistic Mailjet traffic posted to a
// webhook (--url) or written as JSON lines (--out), or fake Slack, Mailjet
// and CRM endpoints for herald's actions (--sinks).
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, cfg, err := parseSimFlags(args, stderr)
	var printed flagError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &printed):
		return 2 // the flag package printed it, with the usage
	case err != nil:
		fmt.Fprintf(stderr, "herald sim: %v\n", err)
		return 2
	}
	switch {
	case f.sinks != "":
		err = runSinks(ctx, f, cfg.Seed, stdout, stderr)
	case f.out != "":
		err = writeTraffic(f, cfg, stdout, stderr)
	default:
		err = postTraffic(ctx, f, cfg, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald sim: %v\n", err)
		return 1
	}
	return 0
}

const simUsage = `usage: herald sim --url URL [--rate N | --speed X] [traffic flags]   post to a webhook
       herald sim --out FILE|- [traffic flags]                          JSON lines for herald replay
       herald sim --sinks ADDR [--fail-rate P --status CODE --latency D]  fake Slack, Mailjet and CRM`

// parseSimFlags parses args into the flags and the traffic's Config.
func parseSimFlags(args []string, stderr io.Writer) (*simFlags, mjsim.Config, error) {
	cfg := mjsim.DefaultConfig()
	f := &simFlags{}
	fs := flag.NewFlagSet("herald sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, simUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.url, "url", "", "POST the events to this webhook `URL`")
	fs.StringVar(&f.out, "out", "", "write the bodies as JSON lines to this `file` (- for standard output) instead")
	fs.StringVar(&f.sinks, "sinks", "", "serve fake Slack, Mailjet Send and CRM endpoints on this `address` (e.g. 127.0.0.1:9000) instead")
	fs.StringVar(&f.user, "user", "", "basic auth username")
	fs.StringVar(&f.password, "password", "", "basic auth password (default $HERALD_SIM_PASSWORD)")
	fs.Float64Var(&f.rate, "rate", 0, "post this many events a second, evenly, whatever their simulated times")
	fs.Float64Var(&f.speed, "speed", 0, "post events at their simulated times compressed by this `factor` (1440: a day in a minute); with neither --rate nor --speed, as fast as possible")
	fs.IntVar(&f.concurrency, "c", 8, "concurrent requests, each on its own keep-alive connection")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&f.netHTTP, "nethttp", false, "use net/http's client instead of the lean built-in one (always for https)")
	fs.IntVar(&f.version, "version", 1, "Mailjet event API `version`: 1 posts one event a body, 2 arrays of the events of each --batch-window")
	fs.DurationVar(&f.window, "batch-window", time.Second, "Version 2: a body holds the events due within this much posting time")
	fs.StringVar(&f.start, "start", "", "simulated `time` of the first send, RFC 3339 (default: now with --url, "+cfg.Start.Format(time.RFC3339)+" with --out)")
	fs.Float64Var(&f.failRate, "fail-rate", 0, "sinks: share of calls that fail")
	fs.IntVar(&f.status, "status", 500, "sinks: HTTP `status` of the failures (429, 5xx, …; Mailjet's 400 fails each message)")
	fs.DurationVar(&f.latency, "latency", 0, "sinks: delay before every answer")
	trafficFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, cfg, err
		}
		return nil, cfg, flagError{err}
	}
	if fs.NArg() > 0 {
		return nil, cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := f.check(fs, &cfg); err != nil {
		return nil, cfg, err
	}
	return f, cfg, cfg.Validate()
}

// flagError is an error the flag package has printed already.
type flagError struct{ error }

// trafficFlags defines the flags that shape the traffic, over cfg.
func trafficFlags(fs *flag.FlagSet, cfg *mjsim.Config) {
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same flags and seed give the same events")
	fs.DurationVar(&cfg.Horizon, "duration", cfg.Horizon, "simulated time after the first send beyond which no event is generated (0: none)")
	fs.IntVar(&cfg.MaxEvents, "events", 0, "stop after this many events (0: when the campaigns are over)")
	fs.IntVar(&cfg.Campaigns, "campaigns", cfg.Campaigns, "campaigns to send, each to every recipient (0: no end)")
	fs.DurationVar(&cfg.CampaignEvery, "campaign-every", cfg.CampaignEvery, "simulated time between the starts of two campaigns")
	fs.IntVar(&cfg.Recipients, "recipients", cfg.Recipients, "recipients on the list")
	fs.DurationVar(&cfg.SendOver, "send-over", cfg.SendOver, "a campaign's sends spread evenly over this simulated time")
	for _, p := range []struct {
		v    *float64
		name string
		help string
	}{
		{&cfg.Block, "block", "share of messages blocked, on domains --block-domain does not name"},
		{&cfg.Bounce, "bounce", "share of the messages not blocked that bounce"},
		{&cfg.HardBounce, "hard-bounce", "share of bounces that are hard"},
		{&cfg.Open, "open", "share of sent messages opened"},
		{&cfg.Reopen, "reopen", "chance that an opener opens again (each time)"},
		{&cfg.Click, "click", "chance that an open leads to a click"},
		{&cfg.Unsub, "unsub", "chance that an opener unsubscribes"},
		{&cfg.Spam, "spam", "share of sent messages reported as spam"},
		{&cfg.Dup, "dup", "share of events Mailjet sends twice"},
		{&cfg.Payload, "payload", "share of messages with an EventPayload"},
	} {
		fs.Float64Var(p.v, p.name, *p.v, p.help)
	}
	fs.StringVar(&cfg.CustomIDPrefix, "custom-id", cfg.CustomIDPrefix, "CustomID `prefix`: messages get PREFIX<campaign>-<n>; empty: no CustomID")
	blockDomainsSet := false
	fs.Func("block-domain", "a domain that blocks most mail: `DOMAIN:P` blocks a share P of the mail to DOMAIN; repeatable; none for none (default gmail.com:0.7)", func(s string) error {
		if !blockDomainsSet {
			cfg.BlockDomains, blockDomainsSet = map[string]float64{}, true
		}
		if s == "none" {
			return nil
		}
		d, p, err := mjsim.ParseBlockDomain(s)
		cfg.BlockDomains[d] = p
		return err
	})
	for _, d := range []struct {
		v    *mjsim.Delay
		name string
		what string
	}{
		{&cfg.OpenDelay, "open-delay", "the sent and the first open"},
		{&cfg.ClickDelay, "click-delay", "an open and its click"},
		{&cfg.BounceDelay, "bounce-delay", "the send and a bounce"},
		{&cfg.UnsubDelay, "unsub-delay", "an open and an unsubscribe"},
		{&cfg.SpamDelay, "spam-delay", "the sent and a spam complaint"},
	} {
		fs.Func(d.name, fmt.Sprintf("log-normal delay between %s, as `MEDIAN[,SIGMA]` (default %s)", d.what, d.v), func(s string) error {
			v, err := mjsim.ParseDelay(s)
			*d.v = v
			return err
		})
	}
}

// check enforces one mode and the flags that go with it, and settles the
// defaults that depend on the mode.
func (f *simFlags) check(fs *flag.FlagSet, cfg *mjsim.Config) error {
	modes := 0
	for _, m := range []string{f.url, f.out, f.sinks} {
		if m != "" {
			modes++
		}
	}
	if modes != 1 {
		return errors.New("want exactly one of --url, --out and --sinks")
	}
	var misplaced []string
	fs.Visit(func(fl *flag.Flag) {
		sinkFlag := fl.Name == "fail-rate" || fl.Name == "status" || fl.Name == "latency"
		if sinkFlag != (f.sinks != "") && fl.Name != "sinks" && (sinkFlag || fl.Name != "seed") {
			misplaced = append(misplaced, "--"+fl.Name)
		}
	})
	switch {
	case len(misplaced) > 0 && f.sinks != "":
		return fmt.Errorf("%s: not a flag of --sinks", strings.Join(misplaced, ", "))
	case len(misplaced) > 0:
		return fmt.Errorf("%s: only for --sinks", strings.Join(misplaced, ", "))
	case f.rate < 0 || f.speed < 0 || (f.rate > 0 && f.speed > 0):
		return errors.New("--rate and --speed: at most one, not negative")
	case f.version != 1 && f.version != 2:
		return fmt.Errorf("--version %d: want 1 or 2", f.version)
	case f.concurrency < 1 || f.timeout <= 0 || f.window <= 0:
		return errors.New("-c, --timeout and --batch-window must be positive")
	case f.failRate < 0 || f.failRate > 1:
		return fmt.Errorf("--fail-rate %v: want 0 to 1", f.failRate)
	case f.status < 400 || f.status > 599:
		return fmt.Errorf("--status %d: want a 4xx or 5xx code", f.status)
	}
	if f.password == "" {
		f.password = os.Getenv("HERALD_SIM_PASSWORD")
	}
	switch {
	case f.start != "" && f.start != "now":
		t, err := time.Parse(time.RFC3339, f.start)
		if err != nil {
			return fmt.Errorf("--start %q: want RFC 3339, e.g. 2025-06-02T08:00:00Z, or now", f.start)
		}
		cfg.Start = t
	case f.start == "now" || f.url != "":
		cfg.Start = time.Now().UTC().Truncate(time.Second)
	}
	return nil
}

// schedule is how the flags want the events posted.
func (f *simFlags) schedule(cfg mjsim.Config) mjsim.Schedule {
	return mjsim.Schedule{Rate: f.rate, Speed: f.speed, Version: f.version, Window: f.window, Seed: cfg.Seed}
}

// writeTraffic writes the bodies as JSON lines.
func writeTraffic(f *simFlags, cfg mjsim.Config, stdout, stderr io.Writer) (err error) {
	g, err := mjsim.NewGenerator(cfg)
	if err != nil {
		return err
	}
	w := stdout
	if f.out != "-" {
		file, err := os.Create(f.out)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := file.Close(); err == nil {
				err = cerr
			}
		}()
		w = file
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bodies, events := 0, 0
	bs := mjsim.NewBodies(g, f.schedule(cfg))
	for b, ok := bs.Next(); ok; b, ok = bs.Next() {
		bw.Write(b.JSON)
		bw.WriteByte('\n')
		bodies, events = bodies+1, events+len(b.Events)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f.out != "-" {
		fmt.Fprintf(stderr, "herald sim: %d events in %d bodies written to %s\n", events, bodies, f.out)
	}
	return nil
}

// postTraffic posts the bodies to the webhook and prints the report.
func postTraffic(ctx context.Context, f *simFlags, cfg mjsim.Config, stdout, stderr io.Writer) error {
	u, err := url.Parse(f.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want an http:// or https:// URL", f.url)
	}
	if u.User != nil { // Mailjet's style: credentials in the URL
		f.user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			f.password = p
		}
		u.User = nil
	}
	g, err := mjsim.NewGenerator(cfg)
	if err != nil {
		return err
	}
	paced := f.rate > 0 || f.speed > 0
	fmt.Fprintf(stderr, "herald sim: posting %s to %s, %s\n", describeTraffic(cfg), u.Redacted(), describePace(f, paced))
	rep, err := mjsim.Post(ctx, mjsim.NewBodies(g, f.schedule(cfg)), mjsim.PostOptions{
		URL: u, User: f.user, Password: f.password, Concurrency: f.concurrency, Timeout: f.timeout,
		Paced: paced, NetHTTP: f.netHTTP, Progress: stderr,
	})
	if err != nil {
		return err
	}
	rep.Write(stdout, f.rate)
	if rep.Acked == 0 && rep.Events > 0 {
		return errors.New("no event was acknowledged (200)")
	}
	return nil
}

func describeTraffic(cfg mjsim.Config) string {
	s := fmt.Sprintf("%d campaign(s) to %d recipients from %s (seed %d)", cfg.Campaigns, cfg.Recipients,
		cfg.Start.Format(time.RFC3339), cfg.Seed)
	for d, p := range cfg.BlockDomains {
		s += fmt.Sprintf(", %s blocking %.0f%%", d, p*100)
	}
	return s
}

func describePace(f *simFlags, paced bool) string {
	b := "Version 1 bodies"
	if f.version == 2 {
		b = fmt.Sprintf("Version 2 bodies (%s of events each)", f.window)
	}
	switch {
	case f.rate > 0:
		return fmt.Sprintf("%s at %g events/s", b, f.rate)
	case paced:
		return fmt.Sprintf("%s at %g× simulated time", b, f.speed)
	}
	return b + " as fast as they are taken"
}

// runSinks serves the fake endpoints until ctx ends.
func runSinks(ctx context.Context, f *simFlags, seed uint64, stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", f.sinks)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, port)
	sinks := mjsim.NewSinks(mjsim.SinkOptions{FailRate: f.failRate, Status: f.status, Latency: f.latency,
		Seed: seed, Out: stdout})
	fmt.Fprintf(stdout, "herald sim: fake Slack, Mailjet and CRM on %s (fail rate %g, status %d, latency %s)\n",
		base, f.failRate, f.status, f.latency)
	fmt.Fprintf(stdout, "# herald.yaml\n%s\n", mjsim.Connections(base))
	srv := &http.Server{Handler: sinks, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
	}
	fmt.Fprintln(stderr, sinks.Summary())
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

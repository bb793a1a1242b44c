package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ceilingEnv, set to 1, makes herald-load serve the ceiling (serveCeiling)
// instead of loading a URL: startCeiling re-executes herald-load with it.
const ceilingEnv = "HERALD_LOAD_SERVE_CEILING"

// The ceiling process has this long to print its address, and then, once
// its stdin is closed, to exit, before it is killed.
const (
	ceilingStartTimeout = 10 * time.Second
	ceilingStopTimeout  = 5 * time.Second
)

// ceilingServer returns the bare server measured as the ceiling: it reads
// the body and answers 200.
func ceilingServer() *http.Server {
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
}

// serveCeiling is herald-load as the ceiling's child process: it serves
// ceilingServer on 127.0.0.1:0, writes the address as one line on stdout and
// returns when stdin reaches EOF, which is also what happens when the
// parent dies.
func serveCeiling(stdin io.Reader, stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "herald-load: ceiling:", err)
		return 1
	}
	srv := ceilingServer()
	go srv.Serve(ln)
	fmt.Fprintln(stdout, ln.Addr())
	io.Copy(io.Discard, stdin)
	ctx, cancel := context.WithTimeout(context.Background(), ceilingStopTimeout/2)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Fprintln(stderr, "herald-load: ceiling: shutdown:", err)
		return 1
	}
	return 0
}

// startCeiling starts herald-load again as a child process serving the
// ceiling (serveCeiling), so that the ceiling, like herald, does not share
// the load generator's Go runtime, and returns the URL with target's path.
// The child's stderr goes to stderr. stop closes the child's stdin, kills
// it if it has not exited within ceilingStopTimeout, and returns Wait's
// error.
func startCeiling(target *url.URL, stderr io.Writer) (stop func() error, u *url.URL, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ceilingEnv+"=1")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	// A child that hangs before printing its address is killed, which ends
	// the read below with EOF.
	timer := time.AfterFunc(ceilingStartTimeout, func() { cmd.Process.Kill() })
	line, readErr := bufio.NewReader(stdout).ReadString('\n')
	timer.Stop()
	addr := strings.TrimSpace(line)
	if _, _, err := net.SplitHostPort(addr); readErr != nil || err != nil {
		stdin.Close()
		cmd.Process.Kill()
		return nil, nil, fmt.Errorf("child process printed no address (%q): %w", line, errors.Join(readErr, err, cmd.Wait()))
	}
	stop = func() error {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(ceilingStopTimeout):
			cmd.Process.Kill()
			return fmt.Errorf("child process still running %s after its stdin closed, killed: %w", ceilingStopTimeout, <-done)
		}
	}
	return stop, ceilingURL(addr, target), nil
}

// startCeilingInProcess serves the ceiling inside herald-load's own process,
// sharing the load generator's runtime, and returns the URL with target's
// path.
func startCeilingInProcess(target *url.URL) (stop func() error, u *url.URL, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := ceilingServer()
	go srv.Serve(ln)
	stop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), ceilingStopTimeout)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	return stop, ceilingURL(ln.Addr().String(), target), nil
}

// ceilingURL is target's path on the ceiling at addr.
func ceilingURL(addr string, target *url.URL) *url.URL {
	return &url.URL{Scheme: "http", Host: addr, Path: target.Path, RawPath: target.RawPath}
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// herald is one herald serve process.
type herald struct {
	cmd     *exec.Cmd
	addr    string
	started time.Time
	exited  chan error
	log     *os.File
	logPath string
	logFrom int64 // the log file's size when this process started
}

// startHerald runs `bin serve --config cfg --rules rules --listen
// 127.0.0.1:PORT` with its log appended to logPath.
func startHerald(bin, cfg, rules, logPath string, extra ...string) (*herald, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	h := &herald{addr: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan error, 1), log: log, logPath: logPath}
	if fi, err := log.Stat(); err == nil {
		h.logFrom = fi.Size()
	}
	args := append([]string{"serve", "--config", cfg, "--rules", rules, "--listen", h.addr}, extra...)
	h.cmd = exec.Command(bin, args...)
	h.cmd.Stdout, h.cmd.Stderr = log, log
	h.started = time.Now()
	if err := h.cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	go func() { h.exited <- h.cmd.Wait(); log.Close() }()
	return h, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /readyz until it answers 200 and returns the time since
// the process started.
func (h *herald) waitReady(timeout time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-h.exited:
			return 0, fmt.Errorf("herald exited before it was ready: %v", err)
		default:
		}
		resp, err := client.Get("http://" + h.addr + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(h.started), nil
			}
		}
		time.Sleep(2 * time.Millisecond) // polling a process: there is no signal to wait on
	}
	return 0, fmt.Errorf("herald not ready after %s", timeout)
}

// metric returns the sum of every series of the named metric.
func (h *herald) metric(name string) (float64, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + h.addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return 0, nil
	}
	return sum, sc.Err()
}

// waitMetric polls until the metric reaches at least want and returns the
// time since the process started.
func (h *herald) waitMetric(name string, want float64, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if v, err := h.metric(name); err == nil && v >= want {
			return time.Since(h.started), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	v, _ := h.metric(name)
	return 0, fmt.Errorf("%s is %v after %s, want %v", name, v, timeout, want)
}

// stop sends sig and waits for the process to end.
func (h *herald) stop(sig syscall.Signal, timeout time.Duration) error {
	if err := h.cmd.Process.Signal(sig); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case <-h.exited:
		return nil
	case <-ctx.Done():
		h.cmd.Process.Kill()
		<-h.exited
		return fmt.Errorf("herald did not stop within %s after %s", timeout, sig)
	}
}

// restored returns, once this process has logged "snapshot restored", the
// log position of the snapshot and when (since the process started) it
// was restored.
func (h *herald) restored() (pos float64, at time.Duration, ok bool) {
	data, err := os.ReadFile(h.logPath)
	if err != nil || int64(len(data)) < h.logFrom {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(data[h.logFrom:]), "\n") {
		if !strings.Contains(line, `msg="snapshot restored"`) {
			continue
		}
		t, err1 := time.Parse(time.RFC3339Nano, field(line, "time"))
		p, err2 := strconv.ParseFloat(field(line, "position"), 64)
		if err1 == nil && err2 == nil {
			return p, t.Sub(h.started), true
		}
	}
	return 0, 0, false
}

// field returns the value of key=value in a logfmt line.
func field(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 && strings.HasPrefix(line, key+"=") {
		i = -1
	} else if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

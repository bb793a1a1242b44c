package streams

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashDirEnv tells a re-executed test binary to run crashChild.
const crashDirEnv = "HERALD_STREAMS_CRASH_DIR"

// TestAckedSurvivesSIGKILL shows that an append the embedded server has
// acknowledged is on disk in a way that survives SIGKILL of the process
// (written to the OS, not only buffered in user space), with the default
// SyncAlways=false. A child process appends from 4 goroutines and prints
// each acknowledged sequence; the parent kills it with SIGKILL while
// appends are in flight, reopens the data directory and checks every
// acknowledged record.
func TestAckedSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	for round := range 3 {
		acked := runAndKill(t, dir, 300+round*200)
		c, err := Open(context.Background(), Options{Data: dir, Logger: quiet})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		_, last, err := c.Log().Bounds(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		body := map[uint64]string{}
		for _, r := range readN(t, c.Log(), 1, int(last)) {
			body[r.Seq] = string(r.Body)
		}
		for seq, want := range acked {
			if got := body[seq]; got != want {
				t.Errorf("round %d: acknowledged record %d = %.12q, want %.12q", round, seq, got, want)
			}
		}
		t.Logf("round %d: %d acknowledged, %d in the log after SIGKILL", round, len(acked), last)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill runs the child on dir, kills it with SIGKILL after n acks and
// returns the acknowledged sequences with their bodies.
func runAndKill(t *testing.T, dir string, n int) map[uint64]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{}
	sc := bufio.NewScanner(out)
	for len(acked) < n && sc.Scan() {
		var seq uint64
		var b string
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %s", &seq, &b); err == nil {
			acked[seq] = b
		}
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	if len(acked) < n {
		t.Fatalf("child stopped after %d acks", len(acked))
	}
	return acked
}

// TestCrashChild is the child of TestAckedSurvivesSIGKILL; it does
// nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process only")
	}
	c, err := Open(context.Background(), Options{Data: dir, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				b := fmt.Sprintf("g%d-%d-%s", g, i, strings.Repeat("x", 400))
				seq, err := c.Log().Append(context.Background(), []byte(b), time.Now())
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %s\n", seq, b)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

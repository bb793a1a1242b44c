// Command measure runs the benchmarks of bench/run.sh that need a running
// herald: end-to-end latency (e2e) and restart time (restart). Each starts
// the herald binary it is given on 127.0.0.1 with a data directory of its
// own, drives it with herald sim's generator and sinks (internal/sim), and
// prints Markdown table rows and the commands' parameters.
//
//	go run ./bench/measure e2e -herald ./herald -rate 1000 -d 30s
//	go run ./bench/measure restart -herald ./herald -pending 200000 -after 100000
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: measure e2e|restart [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "e2e":
		err = runE2E(os.Args[2:])
	case "restart":
		err = runRestart(os.Args[2:])
	default:
		fmt.Fprintf(os.Stderr, "measure: unknown benchmark %q (want e2e or restart)\n", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

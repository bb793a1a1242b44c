package streams

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkAppend measures acknowledged appends to the embedded server:
// 400 B (a Version 1 body) and 36 KB (a Version 2 body of 100 events),
// one publisher and 32 concurrent publishers, with and without
// SyncAlways (fsync per write), in process and over loopback TCP.
//
//	go test -run '^$' -bench Append -benchtime 3s ./internal/streams
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{400, 36 << 10} {
		for _, mode := range []struct {
			name string
			o    Options
			tcp  bool
		}{
			{"inproc", Options{}, false},
			{"tcp", Options{Listen: "127.0.0.1:0"}, true},
			{"inproc-fsync", Options{SyncAlways: true}, false},
		} {
			for _, par := range []int{1, 32} {
				name := fmt.Sprintf("%s/%dB/publishers=%d", mode.name, size, par)
				b.Run(name, func(b *testing.B) { benchAppend(b, mode.o, mode.tcp, size, par) })
			}
		}
	}
}

func benchAppend(b *testing.B, o Options, tcp bool, size, publishers int) {
	c := open(b, o)
	l := c.Log()
	if tcp {
		l = tcpLog(b, c)
	}
	body := bytes.Repeat([]byte("e"), size)
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if publishers == 1 {
		for range b.N {
			if _, err := l.Append(ctx, body, start); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism((publishers + 1) / 2) // RunParallel starts parallelism × GOMAXPROCS goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Append(ctx, body, start); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

// tcpLog returns a Log on a second connection to c's embedded server over
// its TCP listener.
func tcpLog(b *testing.B, c *Conn) *Log {
	nc, err := nats.Connect(c.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	o := c.opts
	o.URLs = []string{c.ClientURL()}
	tc := &Conn{opts: o, nc: nc, replicas: 1}
	if err := tc.setup(context.Background()); err != nil {
		b.Fatal(err)
	}
	return tc.Log()
}

// BenchmarkRead measures Read of 400 B records already in the log.
func BenchmarkRead(b *testing.B) {
	c := open(b, Options{})
	body := bytes.Repeat([]byte("e"), 400)
	for range b.N {
		if _, err := c.Log().Append(context.Background(), body, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	readN(b, c.Log(), 1, b.N)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

package streams

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

func TestBufferedConnKeepsOrder(t *testing.T) {
	client, srv := net.Pipe()
	b := newBufferedConn(client)
	var want bytes.Buffer
	for i := range 2000 {
		chunk := bytes.Repeat([]byte{byte(i)}, i%3000+1)
		want.Write(chunk)
		if _, err := b.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(srv, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("bytes arrived changed or out of order")
	}
	b.Close()
	if _, err := b.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
}

func TestBufferedConnReportsPeerClose(t *testing.T) {
	client, srv := net.Pipe()
	b := newBufferedConn(client)
	srv.Close()
	// The pump's write fails; a later Write (once the queue is full, or
	// at once after the failure) returns the error instead of queuing.
	big := make([]byte, pipeBufferBytes)
	var err error
	for range 3 {
		if _, err = b.Write(big); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	b.Close()
}

// Package httpload holds what herald's load generators share: a lean
// HTTP/1.1 client that posts prepared requests over one keep-alive
// connection, and latency percentiles. cmd/herald-load (the ingest
// benchmark) and internal/sim (herald sim) use it.
package httpload

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Conn speaks just enough HTTP/1.1 over one keep-alive TCP connection to
// post prepared requests and read the answers: the requests are built
// once, so the generator spends its CPU on the wire, not on net/http's
// client machinery. On 2 cores that leaves more for the server measured.
// A Conn is used by one goroutine at a time.
type Conn struct {
	Addr    string        // host:port
	Timeout time.Duration // dial, write and read deadline of one request

	conn net.Conn
	br   *bufio.Reader
}

// Request returns the whole HTTP/1.1 request that posts body to u as JSON,
// with basic auth when user or password is set.
func Request(u *url.URL, body []byte, user, password string) []byte {
	return append(Head(u, user, password, len(body)), body...)
}

// Head returns the request line and headers Request writes before body.
func Head(u *url.URL, user, password string, length int) []byte {
	b := make([]byte, 0, 256)
	b = fmt.Appendf(b, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: herald-load\r\nContent-Type: application/json\r\n",
		u.RequestURI(), u.Host)
	if user != "" || password != "" {
		b = append(b, "Authorization: Basic "...)
		b = base64.StdEncoding.AppendEncode(b, []byte(user+":"+password))
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(length), 10)
	return append(b, "\r\n\r\n"...)
}

// ErrUnsupported is returned for an answer Conn cannot read (chunked).
var ErrUnsupported = errors.New("unsupported answer (chunked)")

// Do writes one request and reads its answer, returning the status code.
// The connection is dialled on first use and after any error or
// "Connection: close".
func (c *Conn) Do(req []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.Addr, c.timeout())
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout()))
	if _, err := c.conn.Write(req); err != nil {
		c.Close()
		return 0, err
	}
	code, keep, err := ReadResponse(c.br)
	if err != nil || !keep {
		c.Close()
	}
	return code, err
}

func (c *Conn) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 30 * time.Second
	}
	return c.Timeout
}

// Close closes the connection; the next Do dials again.
func (c *Conn) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// ReadResponse reads a status line, headers and a Content-Length body.
func ReadResponse(br *bufio.Reader) (code int, keepAlive bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, keepAlive := 0, true
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) <= 2 { // the blank line
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return code, false, ErrUnsupported
		case bytes.EqualFold(name, []byte("Connection")):
			keepAlive = !bytes.EqualFold(value, []byte("close"))
		}
	}
	if _, err := br.Discard(length); err != nil {
		return 0, false, err
	}
	return code, keepAlive, nil
}

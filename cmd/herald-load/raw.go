package main

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

// rawClient speaks just enough HTTP/1.1 over one keep-alive TCP connection
// to post prepared requests and read the answers: the requests are built
// once, so the generator spends its CPU on the wire, not on net/http's
// client machinery. On 2 cores that leaves more for the server measured.
type rawClient struct {
	addr    string
	timeout time.Duration
	conn    net.Conn
	br      *bufio.Reader
}

// rawRequests returns, for each body, the whole HTTP request that posts it
// to u, with basic auth when user or password is set.
func rawRequests(u *url.URL, bodies [][]byte, user, password string) [][]byte {
	var auth string
	if user != "" || password != "" {
		auth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)) + "\r\n"
	}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: herald-load\r\nContent-Type: application/json\r\n%s",
		u.RequestURI(), u.Host, auth)
	out := make([][]byte, len(bodies))
	for i, b := range bodies {
		var buf bytes.Buffer
		buf.WriteString(head)
		buf.WriteString("Content-Length: " + strconv.Itoa(len(b)) + "\r\n\r\n")
		buf.Write(b)
		out[i] = buf.Bytes()
	}
	return out
}

var errUnsupported = errors.New("unsupported answer (chunked)")

// do writes one request and reads its answer, returning the status code.
// The connection is dialled on first use and after any error or
// "Connection: close".
func (c *rawClient) do(req []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return 0, err
	}
	code, keep, err := readResponse(c.br)
	if err != nil || !keep {
		c.close()
	}
	return code, err
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// readResponse reads a status line, headers and a Content-Length body.
func readResponse(br *bufio.Reader) (code int, keepAlive bool, err error) {
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
			return code, false, errUnsupported
		case bytes.EqualFold(name, []byte("Connection")):
			keepAlive = !bytes.EqualFold(value, []byte("close"))
		}
	}
	if _, err := br.Discard(length); err != nil {
		return 0, false, err
	}
	return code, keepAlive, nil
}

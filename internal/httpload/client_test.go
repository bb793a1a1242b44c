package httpload

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	for _, tt := range []struct {
		in        string
		code      int
		keepAlive bool
		rest      string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nNEXT", 200, true, "NEXT"},
		{"HTTP/1.1 400 Bad Request\r\ncontent-length: 17\r\n\r\n{\"error\":\"nope\"}\nNEXT", 400, true, "NEXT"},
		{"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", 503, false, ""},
	} {
		br := bufio.NewReader(strings.NewReader(tt.in))
		code, keep, err := ReadResponse(br)
		rest, _ := io.ReadAll(br)
		if err != nil || code != tt.code || keep != tt.keepAlive || string(rest) != tt.rest {
			t.Errorf("%q: %d %v %v, rest %q", tt.in, code, keep, err, rest)
		}
	}
	if _, _, err := ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))); err == nil {
		t.Error("chunked answer accepted")
	}
}

// The requests are what net/http reads as a POST with the body and the
// basic auth.
func TestRequest(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1/webhooks/mailjet?x=1")
	for _, tt := range []struct{ user, password string }{{"mailjet", "pw"}, {"", ""}} {
		req := Request(u, []byte(`{"event":"sent"}`), tt.user, tt.password)
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		user, pass, ok := r.BasicAuth()
		if r.Method != "POST" || r.URL.RequestURI() != "/webhooks/mailjet?x=1" || string(body) != `{"event":"sent"}` ||
			user != tt.user || pass != tt.password || ok != (tt.user != "") {
			t.Errorf("read back %s %s %q %s:%s (%v)", r.Method, r.URL, body, user, pass, ok)
		}
	}
}

// A Conn keeps one connection for many requests and dials again after the
// server closes it.
func TestConnKeepAlive(t *testing.T) {
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns[r.RemoteAddr] = true // one Conn: requests come one at a time
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/a")
	c := &Conn{Addr: u.Host, Timeout: 5 * time.Second}
	defer c.Close()
	for range 3 {
		if code, err := c.Do(Request(u, []byte("{}"), "", "")); err != nil || code != http.StatusAccepted {
			t.Fatalf("Do: %d %v", code, err)
		}
	}
	if len(conns) != 1 {
		t.Errorf("3 requests used %d connections, want 1", len(conns))
	}
	closing, _ := url.Parse(srv.URL + "/a?close=1")
	for range 2 {
		if _, err := c.Do(Request(closing, []byte("{}"), "", "")); err != nil {
			t.Fatal(err)
		}
	}
	// The first closing answer comes on the kept connection, the second on
	// a new one.
	if len(conns) != 2 {
		t.Errorf("after two closing answers: %d connections, want 2", len(conns))
	}
}

func TestPercentile(t *testing.T) {
	lat := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 6}, {0.9, 10}, {0.99, 10}, {1, 10}, {0, 1}} {
		if got := Percentile(lat, tt.p); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("Percentile of nothing is not 0")
	}
}

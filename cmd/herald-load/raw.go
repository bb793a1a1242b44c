package main

import (
	"net/url"

	"github.com/heraldmail/herald/internal/httpload"
)

// rawRequests returns, for each body, the whole HTTP request that posts it
// to u, with basic auth when user or password is set: the built-in client
// (httpload.Conn) sends them as they are.
func rawRequests(u *url.URL, bodies [][]byte, user, password string) [][]byte {
	out := make([][]byte, len(bodies))
	for i, b := range bodies {
		out[i] = httpload.Request(u, b, user, password)
	}
	return out
}

// Package streamstest runs NATS servers in process for tests: a JetStream
// cluster on loopback, each server storing in its own t.TempDir().
package streamstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds a cluster's start (routes, meta leader election).
const readyTimeout = 30 * time.Second

// Cluster is a set of in-process NATS servers with JetStream.
type Cluster struct {
	// URLs are the servers' client URLs (nats://127.0.0.1:port).
	URLs []string
	// Servers are the running servers; a stopped one stays in place.
	Servers []*server.Server
	opts    []*server.Options
	t       testing.TB
}

// StartCluster starts n servers on 127.0.0.1 with JetStream and waits
// until they are ready and have a JetStream meta leader. With n >= 2 they
// form cluster "herald-test" with routes to one another; with n == 1 the
// server is standalone (not clustered). The servers are shut down when
// the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	clientPorts, routePorts := freePorts(t, n), freePorts(t, n)
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "herald-test", Host: "127.0.0.1", Port: routePorts[i]}
			o.Routes = routes
		}
		c.opts = append(c.opts, o)
		c.URLs = append(c.URLs, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
		c.Servers = append(c.Servers, nil)
	}
	for i := range n {
		c.start(i)
	}
	t.Cleanup(c.shutdown)
	c.WaitReady()
	return c
}

// URL returns the client URLs joined with commas, as herald's --nats.
func (c *Cluster) URL() string { return strings.Join(c.URLs, ",") }

// Stop shuts server i down and waits until it has exited.
func (c *Cluster) Stop(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i].WaitForShutdown()
}

// Restart starts server i again with its ports and store, and waits until
// the cluster is ready.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.start(i)
	c.WaitReady()
}

// WaitReady waits until every running server accepts clients and, with
// JetStream clustered, knows the meta leader.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for _, s := range c.Servers {
		if s.Running() && !s.ReadyForConnections(time.Until(deadline)) {
			c.t.Fatalf("nats server %s not ready", s.Name())
		}
	}
	if len(c.Servers) == 1 {
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !c.hasMetaLeader() {
		if time.Now().After(deadline) {
			c.t.Fatal("nats cluster: no JetStream meta leader")
		}
		<-tick.C
	}
}

// hasMetaLeader reports whether every running server is current with a
// JetStream meta leader among them.
func (c *Cluster) hasMetaLeader() bool {
	leader := false
	for _, s := range c.Servers {
		if !s.Running() {
			continue
		}
		if !s.JetStreamIsCurrent() {
			return false
		}
		leader = leader || s.JetStreamIsLeader()
	}
	return leader
}

func (c *Cluster) start(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		c.t.Fatalf("nats server %d: %v", i+1, err)
	}
	s.Start()
	c.Servers[i] = s
}

func (c *Cluster) shutdown() {
	for _, s := range c.Servers {
		if s != nil {
			s.Shutdown()
		}
	}
	for _, s := range c.Servers {
		if s != nil {
			s.WaitForShutdown()
		}
	}
}

// freePorts finds n free TCP ports on 127.0.0.1. They are free when
// returned; another process could take one before the server binds it,
// which on a test machine is rare enough.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

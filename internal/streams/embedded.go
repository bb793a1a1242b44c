package streams

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedReadyTimeout bounds the embedded server's start, which includes
// recovering the streams from disk.
const embeddedReadyTimeout = 2 * time.Minute

// embedded is the in-process NATS server with JetStream.
type embedded struct {
	srv  *server.Server
	lock *os.File // held on Data/herald.lock while the server runs
}

// startEmbedded starts a JetStream server storing under o.Data/jetstream.
// It listens on o.Listen when set, and otherwise opens no port at all:
// clients connect in process (nats.InProcessServer).
func startEmbedded(o *Options) (*embedded, error) {
	if err := os.MkdirAll(o.Data, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(o.Data, "herald.lock"))
	if err != nil {
		return nil, err
	}
	opts, err := serverOptions(o)
	if err != nil {
		lock.Close()
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.SetLoggerV2(&serverLog{l: o.Logger.With("component", "nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(embeddedReadyTimeout) || !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		lock.Close()
		return nil, errors.New("embedded nats: not ready (see the nats log lines above)")
	}
	return &embedded{srv: srv, lock: lock}, nil
}

// serverOptions translates Options into the embedded server's.
func serverOptions(o *Options) (*server.Options, error) {
	opts := &server.Options{
		ServerName:   "herald",
		JetStream:    true,
		StoreDir:     o.Data, // the server adds "jetstream/"
		NoSigs:       true,
		MaxPayload:   o.MaxPayload,
		SyncAlways:   o.SyncAlways,
		SyncInterval: o.SyncInterval,
		DontListen:   o.Listen == "",
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded listen %q: %w", o.Listen, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("embedded listen %q: bad port", o.Listen)
		}
		if n == 0 {
			n = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, n
	}
	return opts, nil
}

// shutdown stops the server, waits for it to flush and exit, and releases
// the data directory.
func (e *embedded) shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.lock.Close()
}

// serverLog sends the NATS server's log lines to slog. Notices are
// debug-level: the server is an implementation detail of herald and its
// start banner would drown herald's own lines.
type serverLog struct{ l *slog.Logger }

func (s *serverLog) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLog) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s *serverLog) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLog) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLog) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLog) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }

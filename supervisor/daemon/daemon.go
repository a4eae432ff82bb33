// Package daemon runs podvisor as a service: one supervisor that persists
// its pods under a root directory, recovers them at start, and serves the
// API of package api on a unix socket until its context ends, when it stops
// every pod gracefully while keeping their desired state.
//
// It does not parse flags or handle signals (the command does), and it
// holds no pod logic of its own.
package daemon

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/api/server"
)

// Defaults of a daemon.
const (
	DefaultRoot   = "/var/lib/podvisor"
	DefaultSocket = "/run/podvisor/podvisor.sock"
)

// Config configures a daemon. Zero fields take the defaults.
type Config struct {
	Root         string
	Socket       string
	CgroupParent string
	Logger       zerolog.Logger
	Version      string
	LogMaxSize   int64
	LogMaxFiles  int
	// Group may use the socket besides root; default "podvisor".
	Group string
	// Ready, if set, is called once the API answers and recovered pods
	// have been started.
	Ready func(summary string)
	// Delegate keeps pods inside the cgroup systemd gave the service
	// (Delegate=yes) when CgroupParent is empty.
	Delegate bool
	// Reload delivers reload requests (SIGHUP); Reconfigure then says the
	// settings to apply.
	Reload      <-chan struct{}
	Reconfigure func() (Settings, error)
	// ReadTimeout bounds the reading of a request, headers and body
	// (default DefaultReadTimeout); IdleTimeout closes a keep-alive
	// connection that sends no new request (default DefaultIdleTimeout).
	// Neither bounds an answer: logs and events streams go on for as
	// long as their clients read them.
	ReadTimeout time.Duration
	IdleTimeout time.Duration
	// MaxConns caps the API connections open at once; default
	// MaxConns(RLIMIT_NOFILE).
	MaxConns int
	// Network configures pod networking (see supervisor.NetworkOptions).
	Network supervisor.NetworkOptions
	// MetricsAddress, if set, serves GET /metrics on this TCP address
	// (host:port) too, without authentication.
	MetricsAddress string
}

// Defaults of the API server's timeouts.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
)

// Settings are what a reload may change without touching any pod.
type Settings struct {
	LogLevel    zerolog.Level
	LogMaxSize  int64
	LogMaxFiles int
}

// Run serves until ctx ends, then stops every pod and returns nil, or
// returns the error that kept it from starting.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if cfg.Socket == "" {
		cfg.Socket = DefaultSocket
	}
	log := cfg.Logger
	if os.Getenv("GOGC") == "" {
		// A long-lived daemon with a small heap: trade a little GC work
		// for a smaller resident set (see docs/benchmarks.md).
		debug.SetGCPercent(50)
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = MaxConns(nofile())
	}
	if err := os.MkdirAll(cfg.Root, privateDir); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(cfg.Root, "daemon.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("another podvisor daemon uses root %s: %w", cfg.Root, pod.ErrConflict)
	}
	// The metrics port first: a bad or taken address fails the start
	// before anything is made.
	var metricsLn net.Listener
	if cfg.MetricsAddress != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddress); err != nil {
			return fmt.Errorf("--metrics-address %s: %w", cfg.MetricsAddress, err)
		}
		defer metricsLn.Close()
	}
	ln := activated(log)
	ownSocket := ln == nil
	if ln != nil {
		log.Info().Str("socket", ln.Addr().String()).Msg("serving on the socket systemd passed")
	} else if ln, err = listen(cfg.Socket, cfg.Group, log); err != nil {
		return err
	}
	// The root and what it holds are private; the API group may pass
	// through the root only when the socket is inside.
	rootGID := -1
	if inside(ln.Addr().String(), cfg.Root) {
		rootGID = GroupID(cfg.Group)
	}
	secureRoot(cfg.Root, rootGID, log)
	sv, err := supervisor.New(supervisor.Options{
		Root:         cfg.Root,
		CgroupParent: cfg.CgroupParent,
		Logger:       log,
		Persist:      true,
		LogMaxSize:   cfg.LogMaxSize,
		LogMaxFiles:  cfg.LogMaxFiles,
		Delegate:     cfg.Delegate,
		Network:      cfg.Network,
	})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &server.Server{Supervisor: sv, Log: log, Version: cfg.Version, Group: cfg.Group}
	srv.Start()
	defer srv.Close()
	// Streams (logs -f, events -f) end when the daemon stops.
	serveCtx, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	// At most MaxConns connections, so that idle or slow clients can
	// never take the descriptors the pods and state files need.
	limited := newConnLimit(ln, cfg.MaxConns, log)
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ConnContext:       server.ConnContext,
		ConnState:         limited.ConnState,
		BaseContext:       func(net.Listener) context.Context { return serveCtx },
		ReadHeaderTimeout: min(DefaultReadHeaderTimeout, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          stdlog.New(httpLog{log}, "", 0),
	}
	// The socket listens already, so clients that come during recovery
	// wait in its backlog; they are served once every pod is back.
	began := time.Now()
	if err := sv.Recover(); err != nil {
		log.Error().Err(err).Msg("some pods could not be recovered")
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(limited) }()
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", server.MetricsHandler(sv))
		metricsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: DefaultReadHeaderTimeout, ErrorLog: stdlog.New(httpLog{log}, "", 0)}
		go func() { _ = metricsSrv.Serve(metricsLn) }()
		defer metricsSrv.Close()
		log.Info().Str("address", metricsLn.Addr().String()).Msg("serving metrics over TCP (no authentication)")
	}
	log.Info().Str("socket", ln.Addr().String()).Str("root", cfg.Root).Int("pods", len(sv.List())).
		Int("maxConns", cfg.MaxConns).Dur("recovery", time.Since(began)).Msg("podvisor daemon ready")
	defer TrimSoon().Stop()
	status := statusLine(sv)
	notify(log, "READY=1\nSTATUS="+status)
	if cfg.Ready != nil {
		cfg.Ready(status)
	}
	stopHelpers := make(chan struct{})
	go watchdog(log, sv, stopHelpers)
	go followStatus(log, sv, stopHelpers)

	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err := <-serveErr:
			log.Error().Err(err).Msg("API server ended")
			done = true
		case <-cfg.Reload:
			reload(log, cfg, sv)
		}
	}
	close(stopHelpers)
	notify(log, "STOPPING=1\nSTATUS=stopping every pod")
	log.Info().Msg("stopping every pod")
	endStreams()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = httpSrv.Shutdown(shutdownCtx)
	cancel()
	err = sv.Shutdown(context.Background())
	if ownSocket {
		_ = os.Remove(cfg.Socket)
	}
	if err != nil {
		log.Error().Err(err).Msg("shutdown")
	}
	log.Info().Msg("podvisor daemon stopped")
	return nil
}

// summary counts pods that run and pods that fail.
func summary(sv *supervisor.Supervisor) (running, failing int) {
	for _, p := range sv.List() {
		st := p.Status()
		switch st.Phase {
		case pod.PhaseRunning, pod.PhaseInitializing:
			running++
			for _, ps := range append(st.Init, st.Processes...) {
				if ps.Reason == pod.ReasonCrashLoopBackOff {
					failing++
					break
				}
			}
		case pod.PhaseFailed:
			failing++
		}
	}
	return running, failing
}

// listen opens the API socket: a stale socket file is replaced, a live one
// is an error; the socket is 0660 with group podvisor when that group
// exists, else 0600, and so is a directory it makes for it (0710 or 0700).
func listen(path, group string, log zerolog.Logger) (net.Listener, error) {
	if err := mkdirSocketDir(filepath.Dir(path), GroupID(group)); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("socket %s: another daemon answers there: %w", path, pod.ErrConflict)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := SecureSocket(path, group); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// SecureSocket gives the socket file mode 0660 and group podvisor when that
// group exists, else mode 0600.
func SecureSocket(path, group string) error {
	gid := GroupID(group)
	if gid < 0 {
		return os.Chmod(path, 0o600)
	}
	if err := os.Chown(path, 0, gid); err != nil {
		return err
	}
	return os.Chmod(path, 0o660)
}

// GroupID is the id of the API group (default "podvisor"), or -1 when the
// group does not exist.
func GroupID(group string) int {
	if group == "" {
		group = "podvisor"
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return -1
	}
	id, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1
	}
	return id
}

// reload applies new settings without touching any pod: log level, log
// rotation, and reopened log files.
func reload(log zerolog.Logger, cfg Config, sv *supervisor.Supervisor) {
	notify(log, "RELOADING=1\nMONOTONIC_USEC="+monotonicUsec())
	if cfg.Reconfigure != nil {
		s, err := cfg.Reconfigure()
		if err != nil {
			log.Error().Err(err).Msg("reload: keeping the current settings")
		} else {
			zerolog.SetGlobalLevel(s.LogLevel)
			sv.SetLogLimits(s.LogMaxSize, s.LogMaxFiles)
		}
	}
	sv.ReopenLogs()
	log.Info().Msg("reloaded")
	notify(log, "READY=1\nSTATUS="+statusLine(sv))
}

// httpLog passes the HTTP server's own messages (a failed accept...) to
// the daemon's log.
type httpLog struct{ log zerolog.Logger }

func (h httpLog) Write(p []byte) (int, error) {
	h.log.Warn().Str("from", "http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

func monotonicUsec() string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return strconv.FormatInt(ts.Nano()/1000, 10)
}

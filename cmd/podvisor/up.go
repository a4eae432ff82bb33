package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/api/manifest"
	"github.com/podvisor/podvisor/supervisor/api/server"
	"github.com/podvisor/podvisor/supervisor/daemon"
)

func rootFlag() cli.Flag {
	return &cli.StringFlag{Name: "root", Value: supervisor.DefaultRoot, EnvVars: []string{"PODVISOR_ROOT"}, Usage: "directory for runtime files"}
}

func cgroupParentFlag() cli.Flag {
	return &cli.StringFlag{Name: "cgroup-parent", Value: supervisor.DefaultCgroupParent, EnvVars: []string{"PODVISOR_CGROUP_PARENT"}, Usage: "cgroup under which pod cgroups are made"}
}

func upCommand() *cli.Command {
	return &cli.Command{
		Name:      "up",
		Usage:     "run the pods of FILE (podvisor/v1 or Kubernetes manifests) in the foreground, without a daemon",
		ArgsUsage: "FILE",
		Flags:     logFlags(append(append([]cli.Flag{rootFlag(), cgroupParentFlag(), metricsFlag()}, manifestFlags()...), networkFlags()...)...),
		Action:    upAction,
	}
}

// prefixWriter prints process output as "process | line", or, with
// withPod, "pod/process | line", one line at a time.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	colour  bool
	withPod bool
	colors  map[string]int
}

var palette = []int{36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94}

func (pw *prefixWriter) line(l supervisor.Line) {
	process, line := l.Process, l.Text
	if pw.withPod {
		process = l.Pod + "/" + process
	}
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.colour {
		c, ok := pw.colors[process]
		if !ok {
			c = palette[len(pw.colors)%len(palette)]
			pw.colors[process] = c
		}
		fmt.Fprintf(pw.w, "\x1b[%dm%s |\x1b[0m %s\n", c, process, line)
		return
	}
	fmt.Fprintf(pw.w, "%s | %s\n", process, line)
}

func upAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("up: exactly one FILE is needed")
	}
	file := c.Args().First()
	data, err := readManifestFlags(c)
	if err != nil {
		return err
	}
	b, err := readSpec(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	res, err := data.load(b, c.String("root"))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	logger, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	for _, n := range res.Notices {
		logger.Info().Msg(manifest.NoticePrefix + n)
	}
	for _, w := range res.Warnings {
		logger.Warn().Msg(manifest.WarningPrefix + w)
	}
	out := &prefixWriter{w: c.App.Writer, colors: map[string]int{}, withPod: len(res.Pods) > 1}
	if f, ok := c.App.Writer.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		out.colour = true
	}
	// Signals first, so a Ctrl-C during start-up is not lost.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	// Under systemd (a generated unit with Delegate=yes), the pod lives in
	// the unit's cgroup unless --cgroup-parent says otherwise.
	parent := c.String("cgroup-parent")
	delegate := !c.IsSet("cgroup-parent") && daemon.InUnit()
	if delegate {
		parent = ""
	}
	netOpts, err := networkOptions(c)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if addr := c.String("metrics-address"); addr != "" {
		if metricsLn, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("--metrics-address %s: %w", addr, err)
		}
		defer metricsLn.Close()
	}
	sv, err := supervisor.New(supervisor.Options{
		Root:         c.String("root"),
		CgroupParent: parent,
		Delegate:     delegate,
		Logger:       logger,
		Output:       out.line,
		Network:      netOpts,
	})
	if err != nil {
		return err
	}
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", server.MetricsHandler(sv))
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ms.Serve(metricsLn) }()
		defer ms.Close()
	}
	// Every pod is created, then every pod started, all or none (the
	// logs of a failed start are kept).
	pods, err := sv.CreateAll(context.Background(), res.Pods, supervisor.CreateAllOptions{Start: true, KeepLogs: true})
	if err != nil {
		_ = sv.Close(context.Background())
		return err
	}
	ended := make(chan pod.Status, len(pods))
	for _, p := range pods {
		go func() {
			st, _ := p.Wait(context.Background())
			ended <- st
		}()
	}
	// The trim of start-up's memory, stopped if up ends before it ran.
	var trim atomic.Pointer[time.Timer]
	defer func() {
		if t := trim.Load(); t != nil {
			t.Stop()
		}
	}()
	// Under systemd (a unit made by `podvisor generate systemd`), say ready
	// once the app processes of every pod have been started (or the pod
	// has ended), unless none runs any more.
	go func() {
		var names []string
		for _, p := range pods {
			st, err := p.WaitFor(context.Background(), (*pod.Status).Launched)
			if err != nil {
				return
			}
			if !st.Phase.Ended() {
				names = append(names, st.Name)
			}
		}
		if len(names) == 0 {
			return
		}
		// Start-up is over: once it has settled, the binary's pages and
		// the heap it alone needed go back to the kernel (as the
		// daemon's do once ready).
		trim.Store(daemon.TrimSoon())
		what := "pod " + names[0]
		if len(names) > 1 {
			what = "pods " + strings.Join(names, ", ")
		}
		daemon.Notify(logger, "READY=1\nSTATUS="+what+" running")
	}()
	var finals []pod.Status
	stopping := false
	them := "the pod"
	if len(pods) > 1 {
		them = "the pods"
	}
	for len(finals) < len(pods) {
		select {
		case st := <-ended:
			finals = append(finals, st)
		case sig := <-sigs:
			grace := (*time.Duration)(nil)
			if stopping {
				zero := time.Duration(0)
				grace = &zero
				logger.Warn().Msg("second signal: killing " + them + " now")
			} else {
				logger.Info().Str("signal", sig.String()).Msg("stopping " + them)
			}
			if !stopping {
				daemon.Notify(logger, "STOPPING=1")
			}
			stopping = true
			for _, p := range pods {
				go func() { _ = p.Stop(context.Background(), grace) }()
			}
		}
	}
	var rmErr error
	for _, p := range pods {
		if err := sv.Remove(context.Background(), p.Name(), supervisor.RemoveOptions{Force: true, KeepLogs: true}); err != nil && rmErr == nil {
			rmErr = err
		}
	}
	closeErr := sv.Close(context.Background())
	if rmErr != nil {
		return rmErr
	}
	if closeErr != nil {
		return closeErr
	}
	failed := false
	for _, final := range finals {
		if final.Phase == pod.PhaseFailed {
			if final.Message != "" {
				logger.Error().Str("pod", final.Name).Msg(final.Message)
			}
			failed = true
		}
	}
	if failed {
		return errExit{1}
	}
	return nil
}

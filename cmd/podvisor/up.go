package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
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
		Usage:     "run one pod in the foreground, without a daemon",
		ArgsUsage: "FILE",
		Flags:     logFlags(rootFlag(), cgroupParentFlag()),
		Action:    upAction,
	}
}

// prefixWriter prints process output as "name | line", one line at a time.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	colour bool
	colors map[string]int
}

var palette = []int{36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94}

func (pw *prefixWriter) line(l supervisor.Line) {
	process, line := l.Process, l.Text
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
	spec, err := loadPod(c.Args().First())
	if err != nil {
		return fmt.Errorf("%s: %w", c.Args().First(), err)
	}
	logger, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	out := &prefixWriter{w: c.App.Writer, colors: map[string]int{}}
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
	sv, err := supervisor.New(supervisor.Options{
		Root:         c.String("root"),
		CgroupParent: parent,
		Delegate:     delegate,
		Logger:       logger,
		Output:       out.line,
	})
	if err != nil {
		return err
	}
	p, err := sv.Create(spec)
	if err != nil {
		_ = sv.Close(context.Background())
		return err
	}
	if err := p.Start(); err != nil {
		_ = sv.Remove(context.Background(), p.Name(), supervisor.RemoveOptions{Force: true, KeepLogs: true})
		_ = sv.Close(context.Background())
		return err
	}
	ended := make(chan pod.Status, 1)
	go func() {
		st, _ := p.Wait(context.Background())
		ended <- st
	}()
	// Under systemd (a unit made by `podvisor generate systemd`), say ready
	// once the app processes have been started.
	go func() {
		if st, err := p.WaitFor(context.Background(), (*pod.Status).Launched); err == nil && !st.Phase.Ended() {
			daemon.Notify(logger, "READY=1\nSTATUS=pod "+st.Name+" running")
		}
	}()
	var final pod.Status
	stopping := false
	for done := false; !done; {
		select {
		case final = <-ended:
			done = true
		case sig := <-sigs:
			grace := (*time.Duration)(nil)
			if stopping {
				zero := time.Duration(0)
				grace = &zero
				logger.Warn().Msg("second signal: killing the pod now")
			} else {
				logger.Info().Str("signal", sig.String()).Msg("stopping the pod")
			}
			if !stopping {
				daemon.Notify(logger, "STOPPING=1")
			}
			stopping = true
			go func() { _ = p.Stop(context.Background(), grace) }()
		}
	}
	rmErr := sv.Remove(context.Background(), p.Name(), supervisor.RemoveOptions{Force: true, KeepLogs: true})
	closeErr := sv.Close(context.Background())
	if rmErr != nil {
		return rmErr
	}
	if closeErr != nil {
		return closeErr
	}
	if final.Phase == pod.PhaseFailed {
		if final.Message != "" {
			logger.Error().Str("pod", final.Name).Msg(final.Message)
		}
		return errExit{1}
	}
	return nil
}

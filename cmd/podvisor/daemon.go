package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/daemon"
)

func daemonCommand() *cli.Command {
	return &cli.Command{
		Name:  "daemon",
		Usage: "run the podvisor daemon: keep pods, serve the API on a unix socket",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: daemon.DefaultRoot, EnvVars: []string{"PODVISOR_ROOT"}, Usage: "state directory"},
			socketFlag(),
			cgroupParentFlag(),
			&cli.Int64Flag{Name: "log-max-size", Value: supervisor.DefaultLogMaxSize, Usage: "rotate a process's log file past this many bytes"},
			&cli.IntFlag{Name: "log-max-files", Value: supervisor.DefaultLogMaxFiles, Usage: "log files kept per process, the current one included"},
		},
		Action: func(c *cli.Context) error {
			logger, err := newLogger(c, c.App.ErrWriter)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return daemon.Run(ctx, daemon.Config{
				Root:         c.String("root"),
				Socket:       c.String("socket"),
				CgroupParent: c.String("cgroup-parent"),
				Logger:       logger,
				Version:      versionString(),
				LogMaxSize:   c.Int64("log-max-size"),
				LogMaxFiles:  c.Int("log-max-files"),
			})
		},
	}
}

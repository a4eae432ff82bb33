package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/supervisor"
)

func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func execCommand() *cli.Command {
	return &cli.Command{
		Name:                   "exec",
		UseShortOptionHandling: true,
		Usage:                  "run a command inside a pod's namespaces and cgroup; exits with its exit code",
		ArgsUsage:              "NAME -- COMMAND [ARG...]",
		Flags: []cli.Flag{
			socketFlag(),
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a terminal"},
			&cli.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "attach standard input"},
			&cli.StringFlag{Name: "process", Usage: "run as this process: its cgroup, user, environment and working directory"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			if len(args) < 2 {
				return errors.New("exec: NAME -- COMMAND is needed")
			}
			name, command := args[0], args[1:]
			if command[0] == "--" {
				command = command[1:]
			}
			if len(command) == 0 {
				return errors.New("exec: a COMMAND is needed after --")
			}
			cl := client(c)
			st, err := cl.Get(c.Context, name)
			if err != nil {
				return err
			}
			spec, err := cl.Spec(c.Context, name)
			if err != nil {
				return err
			}
			req := supervisor.ExecRequest{
				Status: st, Spec: spec, Process: c.String("process"), Command: command,
				TTY: c.Bool("tty"), Stdout: os.Stdout, Stderr: os.Stderr,
			}
			if c.Bool("stdin") {
				req.Stdin = os.Stdin
			}
			code, err := supervisor.Exec(context.Background(), req)
			if err != nil {
				return err
			}
			if code != 0 {
				return errExit{code}
			}
			return nil
		},
	}
}

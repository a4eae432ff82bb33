package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
)

// nodeProgram is the node agent's program, installed next to podvisor.
const nodeProgram = "podvisor-node"

// nodeCommand runs the node agent, a program of its own (podvisor-node,
// next to this one or on PATH): the Kubernetes client libraries it links
// would otherwise slow every start of podvisor. Its flags are its own.
func nodeCommand() *cli.Command {
	return &cli.Command{
		Name:            "node",
		Usage:           "join a Kubernetes cluster as a node whose Pods are this host's podvisor pods (runs podvisor-node; see podvisor node --help)",
		ArgsUsage:       "--kubeconfig FILE [--node-name NAME] [--socket PATH] [--taint KEY=VALUE:EFFECT] [--labels K=V,...] ...",
		SkipFlagParsing: true,
		Action:          func(c *cli.Context) error { return execNode(c.Args().Slice()) },
	}
}

// execNode replaces this program with the node agent, given args.
func execNode(args []string) error {
	prog, err := findNodeProgram()
	if err != nil {
		return err
	}
	return syscall.Exec(prog, append([]string{prog}, args...), os.Environ())
}

// findNodeProgram is podvisor-node next to this program, else on PATH.
func findNodeProgram() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), nodeProgram)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(nodeProgram)
	if err != nil {
		return "", fmt.Errorf("node: %s is not installed next to podvisor or on PATH (make install puts it there)", nodeProgram)
	}
	return p, nil
}

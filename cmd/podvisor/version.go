package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print podvisor's version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "Client: podvisor %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

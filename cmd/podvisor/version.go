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
		Usage: "print the client's and the daemon's versions",
		Flags: []cli.Flag{socketFlag(), &cli.BoolFlag{Name: "client", Usage: "only the client's"}},
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "Client: podvisor %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if c.Bool("client") {
				return nil
			}
			v, err := client(c).Version(c.Context)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Daemon: podvisor %s (API %s, %s, %s/%s)\n", v.Version, v.APIVersion, v.GoVersion, v.OS, v.Arch)
			return nil
		},
	}
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

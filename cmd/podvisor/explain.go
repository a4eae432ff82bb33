package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/pod"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "say why each process of a pod (or the named one) is or is not running and ready",
		ArgsUsage: "NAME [PROCESS]",
		Flags:     []cli.Flag{socketFlag(), outputFlag("text", "text or json")},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return errors.New("explain: NAME [PROCESS] is needed")
			}
			o := c.String("output")
			if o != "text" && o != "json" {
				return fmt.Errorf("-o: must be text or json, got %q", o)
			}
			ex, err := client(c).Explain(c.Context, c.Args().Get(0), c.Args().Get(1))
			if err != nil {
				return err
			}
			if o == "json" {
				return printJSON(c.App.Writer, ex)
			}
			printExplanation(c.App.Writer, &ex)
			return nil
		},
	}
}

// printExplanation prints an explanation as one screen of text.
func printExplanation(w io.Writer, ex *pod.Explanation) {
	fmt.Fprintln(w, ex.Summary)
	for i := range ex.Processes {
		x := &ex.Processes[i]
		fmt.Fprintln(w)
		head := fmt.Sprintf("%s (%s): %s", x.Name, x.Kind, x.State)
		if x.Reason != "" {
			head += " (" + x.Reason + ")"
		}
		if x.Ready {
			head += ", ready"
		} else if x.Kind != "init" {
			head += ", not ready"
		}
		switch {
		case x.RestartCount == 1:
			head += ", 1 restart"
		case x.RestartCount > 1:
			head += fmt.Sprintf(", %d restarts", x.RestartCount)
		}
		fmt.Fprintln(w, head)
		fmt.Fprintln(w, "  "+x.Summary)
		for _, d := range x.Details {
			fmt.Fprintln(w, "  "+d)
		}
		if len(x.LastOutput) > 0 && x.Cause != pod.CauseRunning {
			fmt.Fprintln(w, "  Last output:")
			for _, l := range x.LastOutput {
				fmt.Fprintln(w, "    | "+strings.TrimRight(l, "\r\n"))
			}
		}
	}
}

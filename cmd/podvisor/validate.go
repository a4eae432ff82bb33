package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
	"github.com/podvisor/podvisor/supervisor/api/manifest"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check pod files (podvisor/v1 or Kubernetes manifests): print each problem with its field path, or FILE: ok",
		ArgsUsage: "FILE...",
		Flags:     manifestFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return errors.New("validate: at least one FILE is needed")
			}
			data, err := readManifestFlags(c)
			if err != nil {
				return err
			}
			bad := 0
			var problems []string
			for _, file := range c.Args().Slice() {
				b, err := readSpec(file)
				if err == nil {
					var res *kube.Result
					res, err = data.load(b, "/")
					printLines(c.App.ErrWriter, file+": ", manifest.Lines(res))
				}
				if err != nil {
					bad++
					var list pod.ErrorList
					if errors.As(err, &list) {
						for _, fe := range list {
							problems = append(problems, fmt.Sprintf("%s: %s", file, fe))
						}
					} else {
						problems = append(problems, fmt.Sprintf("%s: %s", file, err))
					}
					continue
				}
				fmt.Fprintf(c.App.Writer, "%s: ok\n", file)
			}
			if bad > 0 {
				// The problems go to stdout, the command's result, and again
				// in the error on stderr, so either stream tells the story.
				for _, p := range problems {
					fmt.Fprintln(c.App.Writer, p)
				}
				return errors.New(strings.Join(problems, "\n"))
			}
			return nil
		},
	}
}

// loadPod reads, decodes, defaults and validates a podvisor/v1 pod file
// ("-" is stdin).
func loadPod(file string) (*pod.Pod, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = readAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	return pod.Load(data)
}

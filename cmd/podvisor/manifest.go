package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/pod/kube"
	"github.com/podvisor/podvisor/supervisor/api/manifest"
)

// manifestFlags are the flags of the commands that read pod files
// (validate, up, run, create): the data of a Kubernetes manifest's
// ConfigMaps and Secrets, and --ignore-unsupported.
func manifestFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "configmap", Usage: "a file of ConfigMaps for the manifest's env and volumes (repeatable)", TakesFile: true},
		&cli.StringSliceFlag{Name: "secret", Usage: "a file of Secrets for the manifest's env and volumes (repeatable)", TakesFile: true},
		&cli.BoolFlag{Name: "ignore-unsupported", Usage: "warn about a Kubernetes field podvisor cannot honour, and leave it out, instead of refusing the file"},
	}
}

// manifestData is what the manifest flags give: the contents of the
// --configmap and --secret files, and --ignore-unsupported.
type manifestData struct {
	configMaps, secrets [][]byte
	ignoreUnsupported   bool
}

// readManifestFlags reads the files of --configmap and --secret.
func readManifestFlags(c *cli.Context) (manifestData, error) {
	d := manifestData{ignoreUnsupported: c.Bool("ignore-unsupported")}
	for _, f := range c.StringSlice("configmap") {
		b, err := readSpec(f)
		if err != nil {
			return d, fmt.Errorf("--configmap %s: %w", f, err)
		}
		d.configMaps = append(d.configMaps, b)
	}
	for _, f := range c.StringSlice("secret") {
		b, err := readSpec(f)
		if err != nil {
			return d, fmt.Errorf("--secret %s: %w", f, err)
		}
		d.secrets = append(d.secrets, b)
	}
	return d, nil
}

// load reads a pod file as the daemon would (manifest.Load), with the
// flags' data and the facts of this host; root is podvisor's root, whose
// file system is the disk a resourceFieldRef of ephemeral-storage reads.
func (d manifestData) load(data []byte, root string) (*kube.Result, error) {
	return manifest.LoadOnHost(data, root, kube.Options{ConfigMaps: d.configMaps, Secrets: d.secrets, IgnoreUnsupported: d.ignoreUnsupported})
}

// printLines prints notices and warnings, one per line, each after prefix.
func printLines(w io.Writer, prefix string, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(w, "%s%s\n", prefix, l)
	}
}

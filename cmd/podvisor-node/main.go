// Command podvisor-node is podvisor's Kubernetes node agent (`podvisor
// node` runs it): it registers a Node with an API server and runs the Pods
// bound to it as pods of the podvisor daemon on this host. It is a program
// of its own so that the Kubernetes client libraries it links do not
// weigh on every start of podvisor.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/supervisor/api"
	"github.com/podvisor/podvisor/supervisor/daemon"
	"github.com/podvisor/podvisor/supervisor/kubenode"
)

// version is set at build time (-X main.version=...).
var version = "dev"

// DefaultConfig is the node agent's optional settings file.
const DefaultConfig = "/etc/podvisor/node.yaml"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if err := app.Run(args); err != nil {
		fmt.Fprintf(stderr, "podvisor node: %s\n", err)
		return 1
	}
	return 0
}

// settings are the flags a settings file may set, by their names.
var fileKeys = []string{"kubeconfig", "node-name", "socket", "taint", "labels", "listen-address", "tls-cert-file",
	"tls-key-file", "client-ca-file", "internal-ip", "max-pods", "pod-cidr", "log-level"}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "podvisor node",
		Usage:     "join a Kubernetes cluster as a node whose Pods are podvisor pods of this host",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kubeconfig", EnvVars: []string{"KUBECONFIG"}, Usage: "kubeconfig of the node's identity with the API server"},
			&cli.StringFlag{Name: "node-name", Usage: "the Node's name (default: the host's name)"},
			&cli.StringFlag{Name: "socket", Value: daemon.DefaultSocket, EnvVars: []string{"PODVISOR_SOCKET"}, Usage: "the podvisor daemon's API socket"},
			&cli.StringSliceFlag{Name: "taint", Usage: "a taint KEY=VALUE:EFFECT (repeatable; default podvisor.io/host-processes=true:NoSchedule; \"\" for none)"},
			&cli.StringFlag{Name: "labels", Usage: "labels KEY=VALUE,... added to the Node's"},
			&cli.StringFlag{Name: "listen-address", Value: kubenode.DefaultListenAddress, Usage: "address of the kubelet API (logs, exec)"},
			&cli.StringFlag{Name: "tls-cert-file", Usage: "the kubelet API's certificate (default: a self-signed one)"},
			&cli.StringFlag{Name: "tls-key-file", Usage: "the kubelet API's key"},
			&cli.StringFlag{Name: "client-ca-file", Usage: "ask kubelet API clients for a certificate signed by this CA (the API server's)"},
			&cli.StringFlag{Name: "internal-ip", Usage: "the node's address (default: the address of the default route)"},
			&cli.IntFlag{Name: "max-pods", Value: kubenode.DefaultMaxPods, Usage: "the node's pod capacity"},
			&cli.StringFlag{Name: "pod-cidr", Usage: "the node's spec.podCIDR (give the daemon the same --pod-cidr)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "config", Value: DefaultConfig, EnvVars: []string{"PODVISOR_NODE_CONFIG"}, Usage: "settings file: the flags' names as keys; flags win"},
		},
		Action: action,
	}
}

// applySettings sets each flag the settings file names and the command
// line did not.
func applySettings(c *cli.Context) error {
	path := c.String("config")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !c.IsSet("config") {
		return nil
	} else if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: yaml: %w", path, err)
	}
	for k, v := range m {
		known := false
		for _, f := range fileKeys {
			known = known || f == k
		}
		if !known {
			return fmt.Errorf("%s: unknown key %q (keys: %s)", path, k, strings.Join(fileKeys, ", "))
		}
		if c.IsSet(k) {
			continue
		}
		vals := []string{fmt.Sprint(v)}
		if list, ok := v.([]any); ok {
			vals = nil
			for _, x := range list {
				vals = append(vals, fmt.Sprint(x))
			}
		}
		for _, s := range vals {
			if err := c.Set(k, s); err != nil {
				return fmt.Errorf("%s: %s: %w", path, k, err)
			}
		}
	}
	return nil
}

func action(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", c.Args().First())
	}
	if err := applySettings(c); err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil || lvl == zerolog.NoLevel {
		return fmt.Errorf("--log-level: unknown level %q", c.String("log-level"))
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: c.App.ErrWriter, TimeFormat: time.TimeOnly, NoColor: true}).Level(lvl).With().Timestamp().Logger()
	if c.String("kubeconfig") == "" {
		return errors.New("--kubeconfig: required (the node's identity with the API server)")
	}
	taints, err := parseTaints(c.StringSlice("taint"), c.IsSet("taint"))
	if err != nil {
		return err
	}
	labels, err := parseLabels(c.String("labels"))
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	return kubenode.Run(ctx, kubenode.Config{
		NodeName:      c.String("node-name"),
		Kubeconfig:    c.String("kubeconfig"),
		Client:        api.NewClient(c.String("socket")),
		ListenAddress: c.String("listen-address"),
		TLSCertFile:   c.String("tls-cert-file"),
		TLSKeyFile:    c.String("tls-key-file"),
		ClientCAFile:  c.String("client-ca-file"),
		InternalIP:    c.String("internal-ip"),
		MaxPods:       c.Int("max-pods"),
		Labels:        labels,
		Taints:        taints,
		PodCIDR:       c.String("pod-cidr"),
		Version:       version,
		Log:           log,
		Ready:         func() { daemon.Notify(log, "READY=1") },
	})
}

// parseTaints reads KEY=VALUE:EFFECT taints; none given is the default
// taint, one empty string is no taint.
func parseTaints(list []string, set bool) ([]corev1.Taint, error) {
	if !set {
		return nil, nil
	}
	out := []corev1.Taint{}
	for _, s := range list {
		if s == "" {
			continue
		}
		kv, effect, ok := strings.Cut(s, ":")
		k, v, _ := strings.Cut(kv, "=")
		switch corev1.TaintEffect(effect) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			ok = false
		}
		if !ok || k == "" {
			return nil, fmt.Errorf("--taint %q: want KEY=VALUE:EFFECT, EFFECT one of NoSchedule, PreferNoSchedule, NoExecute", s)
		}
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return out, nil
}

// parseLabels reads KEY=VALUE,... labels.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels %q: want KEY=VALUE,...", kv)
		}
		out[k] = v
	}
	return out, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/daemon"
)

// DefaultConfig is the daemon's optional settings file, re-read on SIGHUP.
const DefaultConfig = "/etc/podvisor/daemon.yaml"

// fileSettings is the settings file: what a reload may change.
type fileSettings struct {
	LogLevel    string `yaml:"logLevel"`
	LogMaxSize  string `yaml:"logMaxSize"`
	LogMaxFiles int    `yaml:"logMaxFiles"`
}

// parseSize reads a byte count: a plain number or a quantity ("10Mi").
func parseSize(s string) (int64, error) {
	q, err := pod.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return q.Value(), nil
}

func daemonCommand() *cli.Command {
	return &cli.Command{
		Name:  "daemon",
		Usage: "run the podvisor daemon: keep pods, serve the API on a unix socket",
		Flags: logFlags(append([]cli.Flag{
			&cli.StringFlag{Name: "root", Value: daemon.DefaultRoot, EnvVars: []string{"PODVISOR_ROOT"}, Usage: "state directory"},
			socketFlag(),
			&cli.StringFlag{Name: "cgroup-parent", EnvVars: []string{"PODVISOR_CGROUP_PARENT"}, Usage: "cgroup under which pod cgroups are made (default: the delegated cgroup under systemd, else podvisor)"},
			&cli.StringFlag{Name: "log-max-size", Value: "10Mi", Usage: "rotate a process's log file past this size (bytes, or a quantity such as 10Mi)"},
			&cli.IntFlag{Name: "log-max-files", Value: supervisor.DefaultLogMaxFiles, Usage: "log files kept per process, the current one included"},
			&cli.StringFlag{Name: "config", Value: DefaultConfig, EnvVars: []string{"PODVISOR_CONFIG"}, Usage: "settings file (logLevel, logMaxSize, logMaxFiles), re-read on SIGHUP; flags win"},
			metricsFlag(),
		}, networkFlags()...)...),
		Action: func(c *cli.Context) error {
			settings, err := daemonSettings(c)
			if err != nil {
				return err
			}
			netOpts, err := networkOptions(c)
			if err != nil {
				return err
			}
			logger, err := newLogger(c, c.App.ErrWriter)
			if err != nil {
				return err
			}
			// The level is global so that a reload can change it.
			logger = logger.Level(zerolog.TraceLevel)
			zerolog.SetGlobalLevel(settings.LogLevel)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			reload := make(chan struct{}, 1)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default:
					}
				}
			}()
			parent := c.String("cgroup-parent")
			return daemon.Run(ctx, daemon.Config{
				Root:           c.String("root"),
				Socket:         flagValue(c, "socket"),
				CgroupParent:   parent,
				Delegate:       parent == "" && daemon.InUnit(),
				Logger:         logger,
				Version:        versionString(),
				LogMaxSize:     settings.LogMaxSize,
				LogMaxFiles:    settings.LogMaxFiles,
				Reload:         reload,
				Reconfigure:    func() (daemon.Settings, error) { return daemonSettings(c) },
				Network:        netOpts,
				MetricsAddress: c.String("metrics-address"),
			})
		},
	}
}

// daemonSettings reads the settings file, then lets flags given on the
// command line (or their environment variables) win.
func daemonSettings(c *cli.Context) (daemon.Settings, error) {
	s := daemon.Settings{LogLevel: zerolog.InfoLevel, LogMaxSize: supervisor.DefaultLogMaxSize, LogMaxFiles: supervisor.DefaultLogMaxFiles}
	var f fileSettings
	path := c.String("config")
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !c.IsSet("config"):
	case err != nil:
		return s, err
	default:
		dec := yaml.NewDecoder(bytesReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			return s, fmt.Errorf("%s: %w", path, err)
		}
	}
	if f.LogLevel != "" {
		lvl, err := zerolog.ParseLevel(f.LogLevel)
		if err != nil {
			return s, fmt.Errorf("%s: logLevel: unknown level %q", path, f.LogLevel)
		}
		s.LogLevel = lvl
	}
	if f.LogMaxSize != "" {
		n, err := parseSize(f.LogMaxSize)
		if err != nil {
			return s, fmt.Errorf("%s: logMaxSize: %w", path, err)
		}
		s.LogMaxSize = n
	}
	if f.LogMaxFiles > supervisor.MaxLogFiles {
		return s, fmt.Errorf("%s: logMaxFiles: must be at most %d, got %d", path, supervisor.MaxLogFiles, f.LogMaxFiles)
	}
	if f.LogMaxFiles > 0 {
		s.LogMaxFiles = f.LogMaxFiles
	}
	if flagSet(c, "log-level") {
		lvl, err := zerolog.ParseLevel(flagValue(c, "log-level"))
		if err != nil {
			return s, fmt.Errorf("--log-level: unknown level %q", flagValue(c, "log-level"))
		}
		s.LogLevel = lvl
	}
	if c.IsSet("log-max-size") {
		n, err := parseSize(c.String("log-max-size"))
		if err != nil {
			return s, fmt.Errorf("--log-max-size: %w", err)
		}
		s.LogMaxSize = n
	}
	if c.IsSet("log-max-files") {
		n := c.Int("log-max-files")
		if n > supervisor.MaxLogFiles {
			return s, fmt.Errorf("--log-max-files: must be at most %d, got %d", supervisor.MaxLogFiles, n)
		}
		if n > 0 {
			s.LogMaxFiles = n
		}
	}
	return s, nil
}

// flagSet reports whether a flag was given, globally or on the command.
func flagSet(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return true
		}
	}
	return false
}

// Command podvisor runs pods of ordinary host processes with Kubernetes pod
// semantics: shared network and IPC namespaces, one cgroup, init processes
// then app processes, restart policies with back-off, TERM-then-KILL stop.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// errExit carries an exit code without a message of its own.
type errExit struct{ code int }

func (e errExit) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[1] == "node" {
		// The node agent's arguments are its own: passed on untouched.
		if err := execNode(args[2:]); err != nil {
			fmt.Fprintf(stderr, "podvisor: %s\n", err)
			return 1
		}
	}
	app := newApp(stdout, stderr)
	err := app.Run(reorderArgs(app, args))
	if err == nil {
		return 0
	}
	var ee errExit
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(stderr, "podvisor: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	return 1
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                   "podvisor",
		Usage:                  "a process-level pod supervisor",
		Version:                versionString(),
		EnableBashCompletion:   true,
		UseShortOptionHandling: true,
		Writer:                 stdout,
		ErrWriter:              stderr,
		HideVersion:            true,
		ExitErrHandler:         func(*cli.Context, error) {},
		// --configmap and --secret take file names, commas included.
		DisableSliceFlagSeparator: true,
		Flags:                     logFlags(socketFlag()),
		Commands: append([]*cli.Command{
			upCommand(),
			daemonCommand(),
			validateCommand(),
			versionCommand(),
			generateCommand(),
			completionCommand(),
		}, append(clientCommands(), getCommand(), networkCommand(), portCommand(), statsCommand(), explainCommand(), nodeCommand())...),
	}
}

// logFlags are the log flags, global and repeated on the commands that log
// (so that their help shows them), with more flags after.
func logFlags(more ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"PODVISOR_LOG_LEVEL"}, Usage: "podvisor's own log level: debug, info, warn, error"},
		&cli.StringFlag{Name: "log-format", Value: "console", EnvVars: []string{"PODVISOR_LOG_FORMAT"}, Usage: "console or json"},
	}, more...)
}

// flagValue reads a flag that may be given globally or on the command:
// the innermost context where it was set wins, else the command's default.
func flagValue(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.Command == nil && cc.App == nil {
			continue
		}
		if cc.IsSet(name) {
			return cc.String(name)
		}
	}
	return c.String(name)
}

// newLogger makes podvisor's own logger on w.
func newLogger(c *cli.Context, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(flagValue(c, "log-level"))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("--log-level: unknown level %q", flagValue(c, "log-level"))
	}
	switch flagValue(c, "log-format") {
	case "json":
		if journalStream() {
			w = journalWriter{}
		}
	case "console":
		if journalStream() {
			// stderr goes to the journal: write journal-native entries with
			// POD= and PROCESS= fields instead of text.
			w = journalWriter{}
			break
		}
		f, isFile := w.(*os.File)
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isFile || !term.IsTerminal(int(f.Fd()))}
	default:
		return zerolog.Logger{}, fmt.Errorf("--log-format: must be console or json, got %q", flagValue(c, "log-format"))
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

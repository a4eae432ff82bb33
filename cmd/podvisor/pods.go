package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
	"github.com/podvisor/podvisor/supervisor/daemon"
)

func socketFlag() cli.Flag {
	return &cli.StringFlag{Name: "socket", Value: daemon.DefaultSocket, EnvVars: []string{"PODVISOR_SOCKET"}, Usage: "the daemon's API socket"}
}

func client(c *cli.Context) *api.Client { return api.NewClient(flagValue(c, "socket")) }

func readSpec(file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(file)
}

func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: exactly one %s is needed", c.Command.Name, what)
	}
	return c.Args().First(), nil
}

// checkStarted turns a pod that failed while starting into an error.
func checkStarted(st pod.Status) error {
	if st.Phase == pod.PhaseFailed {
		msg := st.Message
		if msg == "" {
			msg = "failed"
		}
		for _, ps := range append(st.Init, st.Processes...) {
			if ps.Reason == pod.ReasonStartError || ps.Reason == pod.ReasonError || ps.Reason == pod.ReasonOOMKilled {
				if ps.Message != "" {
					msg += ": " + ps.Message
				}
				break
			}
		}
		return fmt.Errorf("pod %s failed: %s", st.Name, msg)
	}
	return nil
}

func clientCommands() []*cli.Command {
	timeout := &cli.IntFlag{Name: "timeout", Usage: "grace period in seconds, instead of the pod's terminationGracePeriodSeconds"}
	return []*cli.Command{
		{
			Name: "run", Usage: "create the pods of FILE (podvisor/v1 or Kubernetes manifests) and start them; returns once their processes have started", ArgsUsage: "FILE",
			Flags:  append([]cli.Flag{socketFlag()}, manifestFlags()...),
			Action: createAction(true),
		},
		{
			Name: "create", Usage: "create the pods of FILE (podvisor/v1 or Kubernetes manifests) without starting them", ArgsUsage: "FILE",
			Flags:  append([]cli.Flag{socketFlag()}, manifestFlags()...),
			Action: createAction(false),
		},
		{
			Name: "start", Usage: "start a pod; returns once its processes have started", ArgsUsage: "NAME",
			Flags: []cli.Flag{socketFlag()},
			Action: podAction(true, func(c *cli.Context, name string) (pod.Status, error) {
				return client(c).Start(c.Context, name, true)
			}),
		},
		{
			Name: "restart", Usage: "stop a pod, then start it again", ArgsUsage: "NAME",
			Flags: []cli.Flag{socketFlag(), timeout},
			Action: podAction(true, func(c *cli.Context, name string) (pod.Status, error) {
				timeout, err := timeoutFlag(c)
				if err != nil {
					return pod.Status{}, err
				}
				return client(c).Restart(c.Context, name, timeout)
			}),
		},
		{
			Name: "stop", Usage: "stop a pod (stop signals, grace period, then SIGKILL); returns once it is stopped", ArgsUsage: "NAME",
			Flags: []cli.Flag{socketFlag(), timeout},
			Action: podAction(false, func(c *cli.Context, name string) (pod.Status, error) {
				timeout, err := timeoutFlag(c)
				if err != nil {
					return pod.Status{}, err
				}
				return client(c).Stop(c.Context, name, timeout)
			}),
		},
		{
			Name: "rm", Usage: "remove pods; -f stops running ones first", ArgsUsage: "NAME...",
			Flags: []cli.Flag{socketFlag(), &cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "stop a running pod first"}, timeout},
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return errors.New("rm: at least one NAME is needed")
				}
				timeout, err := timeoutFlag(c)
				if err != nil {
					return err
				}
				var errs []error
				for _, name := range c.Args().Slice() {
					if err := client(c).Remove(c.Context, name, c.Bool("force"), timeout); err != nil {
						errs = append(errs, err)
						continue
					}
					fmt.Fprintln(c.App.Writer, name)
				}
				return errors.Join(errs...)
			},
		},
		{
			Name: "ps", Usage: "list pods",
			Flags: []cli.Flag{socketFlag(), outputFlag("table", "table, wide, json or yaml")},
			Action: func(c *cli.Context) error {
				pods, err := client(c).List(c.Context)
				if err != nil {
					return err
				}
				switch o := c.String("output"); o {
				case "table", "wide":
					return printTable(c.App.Writer, pods, o == "wide")
				case "json":
					return printJSON(c.App.Writer, pods)
				case "yaml":
					return printYAML(c.App.Writer, pods)
				default:
					return fmt.Errorf("-o: must be table, wide, json or yaml, got %q", o)
				}
			},
		},
		{
			Name: "inspect", Usage: "print a pod's status; with --kube, the pod as a Kubernetes v1 Pod with its status", ArgsUsage: "NAME",
			Flags: []cli.Flag{socketFlag(), outputFlag("json", "json or yaml"), kubeFlag()},
			Action: func(c *cli.Context) error {
				name, err := oneArg(c, "NAME")
				if err != nil {
					return err
				}
				o := c.String("output")
				if o != "json" && o != "yaml" {
					return fmt.Errorf("-o: must be json or yaml, got %q", o)
				}
				var v any
				if c.Bool("kube") {
					kp, err := kubePod(c, name, kubeOptions())
					if err != nil {
						return err
					}
					v = kp
				} else {
					st, err := client(c).Get(c.Context, name)
					if err != nil {
						return err
					}
					v = st
				}
				if o == "yaml" {
					return printYAML(c.App.Writer, v)
				}
				return printJSON(c.App.Writer, v)
			},
		},
		{
			Name: "logs", Usage: "print a pod's logs: one process, or all interleaved in time", ArgsUsage: "NAME [PROCESS]",
			Flags: []cli.Flag{
				socketFlag(),
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines, across restarts"},
				&cli.IntFlag{Name: "tail", Value: -1, Usage: "only the last N lines"},
				&cli.BoolFlag{Name: "timestamps", Usage: "prefix each line with its time (RFC 3339)"},
			},
			Action: logsAction,
		},
		{
			Name: "events", Usage: "print recent events; -f follows new ones",
			Flags: []cli.Flag{
				socketFlag(),
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events"},
				&cli.StringFlag{Name: "since", Usage: "only events from this time on: a duration before now (10m) or a time (RFC 3339)"},
				outputFlag("table", "table or json (JSON lines)"),
			},
			Action: eventsAction,
		},
		execCommand(),
	}
}

// createAction sends a pod file, podvisor/v1 or Kubernetes manifests,
// with the --configmap and --secret files, to the daemon, which creates
// every pod of it or none; it prints the notices and warnings on stderr,
// then each pod's name. With start, the pods are started and must not fail
// while starting.
func createAction(start bool) cli.ActionFunc {
	return func(c *cli.Context) error {
		file, err := oneArg(c, "FILE")
		if err != nil {
			return err
		}
		data, err := readManifestFlags(c)
		if err != nil {
			return err
		}
		spec, err := readSpec(file)
		if err != nil {
			return err
		}
		sts, warnings, err := client(c).CreateAll(c.Context, spec, api.CreateOptions{
			Start:             start,
			Wait:              start,
			IgnoreUnsupported: data.ignoreUnsupported,
			ConfigMaps:        data.configMaps,
			Secrets:           data.secrets,
		})
		printLines(c.App.ErrWriter, "", warnings)
		if err != nil {
			return err
		}
		var errs []error
		for _, st := range sts {
			if start {
				if err := checkStarted(st); err != nil {
					errs = append(errs, err)
					continue
				}
			}
			fmt.Fprintln(c.App.Writer, st.Name)
		}
		return errors.Join(errs...)
	}
}

// podAction is a verb on one pod: it prints the pod's name on success, and
// with started, fails when the pod failed while starting.
func podAction(started bool, do func(c *cli.Context, name string) (pod.Status, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		name, err := oneArg(c, "NAME")
		if err != nil {
			return err
		}
		st, err := do(c, name)
		if err != nil {
			return err
		}
		if started {
			if err := checkStarted(st); err != nil {
				return err
			}
		}
		fmt.Fprintln(c.App.Writer, name)
		return nil
	}
}

func outputFlag(def, usage string) cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: def, Usage: usage}
}

// timeoutFlag reads --timeout, a grace period in whole seconds: nil when
// not given, an error naming the flag when pod.GracePeriod refuses it (below
// 0 or above pod.MaxGracePeriodSeconds), so that it never wraps.
func timeoutFlag(c *cli.Context) (*int, error) {
	if !c.IsSet("timeout") {
		return nil, nil
	}
	v := c.Int("timeout")
	if _, err := pod.GracePeriod(int64(v)); err != nil {
		return nil, fmt.Errorf("--timeout: %w", err)
	}
	return &v, nil
}

// printJSON prints v as indented JSON, with <, > and & as they are (as
// kubectl prints them), not escaped for HTML.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printYAML prints v as YAML with the JSON field names.
func printYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	return enc.Encode(generic)
}

// printTable prints ps's table. A NAMESPACE column comes first when a pod
// has a namespace (one made from a Kubernetes manifest), as in kubectl get
// pods -A; a podvisor/v1 pod has none there: "-".
func printTable(w io.Writer, pods []pod.Status, wide bool) error {
	withNS := slices.ContainsFunc(pods, func(st pod.Status) bool { return st.Namespace != "" })
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if withNS {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	if wide {
		fmt.Fprintln(tw, "NAME\tPHASE\tREADY\tRESTARTS\tAGE\tIP\tPORTS\tPIDS\tCGROUP\tMESSAGE")
	} else {
		fmt.Fprintln(tw, "NAME\tPHASE\tREADY\tRESTARTS\tAGE")
	}
	for _, st := range pods {
		ready, total := st.Ready()
		row := fmt.Sprintf("%s\t%s\t%d/%d\t%d\t%s", st.Name, st.Phase, ready, total, st.Restarts(), age(time.Since(st.CreatedAt)))
		if withNS {
			ns := st.Namespace
			if ns == "" {
				ns = "-"
			}
			row = ns + "\t" + row
		}
		if wide {
			var pids []string
			for _, ps := range append(st.Init, st.Processes...) {
				if ps.PID > 0 {
					pids = append(pids, strconv.Itoa(ps.PID))
				}
			}
			p := strings.Join(pids, ",")
			if p == "" {
				p = "-"
			}
			ip := st.PodIP
			if ip == "" {
				ip = "-"
			}
			var ports []string
			for _, pp := range st.Ports {
				host := pp.HostIP
				if host == "" {
					host = "0.0.0.0"
				}
				ports = append(ports, fmt.Sprintf("%s->%d/%s", net.JoinHostPort(host, strconv.Itoa(int(pp.HostPort))), pp.ContainerPort, strings.ToLower(pp.Protocol)))
			}
			pt := strings.Join(ports, ",")
			if pt == "" {
				pt = "-"
			}
			row += fmt.Sprintf("\t%s\t%s\t%s\t%s\t%s", ip, pt, p, st.Cgroup, st.Message)
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// age prints a duration the way kubectl does (HumanDuration): 65s, 5m10s,
// 12m, 3h5m, 9h, 2d3h, 10d, 2y.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	seconds := int(d.Round(time.Second) / time.Second)
	switch {
	case seconds < 60*2:
		return fmt.Sprintf("%ds", seconds)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		if s := seconds % 60; s != 0 {
			return fmt.Sprintf("%dm%ds", minutes, s)
		}
		return fmt.Sprintf("%dm", minutes)
	}
	if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	if hours < 8 {
		if m := minutes % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", hours, m)
		}
		return fmt.Sprintf("%dh", hours)
	}
	if hours < 48 {
		return fmt.Sprintf("%dh", hours)
	}
	if hours < 24*8 {
		if h := hours % 24; h != 0 {
			return fmt.Sprintf("%dd%dh", hours/24, h)
		}
		return fmt.Sprintf("%dd", hours/24)
	}
	if hours < 24*365*2 {
		return fmt.Sprintf("%dd", hours/24)
	}
	if hours < 24*365*8 {
		if dd := hours / 24 % 365; dd != 0 {
			return fmt.Sprintf("%dy%dd", hours/24/365, dd)
		}
		return fmt.Sprintf("%dy", hours/24/365)
	}
	return fmt.Sprintf("%dy", hours/24/365)
}

func logsAction(c *cli.Context) error {
	if c.NArg() < 1 || c.NArg() > 2 {
		return errors.New("logs: NAME [PROCESS] is needed")
	}
	name, process := c.Args().Get(0), c.Args().Get(1)
	ctx := c.Context
	if c.Bool("follow") {
		var cancel context.CancelFunc
		ctx, cancel = signalContext(ctx)
		defer cancel()
	}
	w := c.App.Writer
	tail := c.Int("tail") // -1 (the flag's default): all
	switch {
	case tail < 0:
		tail = 0
	case tail == 0:
		tail = -1 // none of the history, as kubectl's --tail=0
	}
	return client(c).Logs(ctx, name, api.LogsOptions{Process: process, Tail: tail, Follow: c.Bool("follow")}, func(e pod.LogEntry) error {
		var b strings.Builder
		if c.Bool("timestamps") {
			b.WriteString(e.Time.Format(time.RFC3339Nano))
			b.WriteByte(' ')
		}
		if process == "" {
			b.WriteString(e.Process)
			b.WriteString(" | ")
		}
		b.WriteString(e.Line)
		if !e.Partial {
			b.WriteByte('\n')
		}
		_, err := io.WriteString(w, b.String())
		return err
	})
}

func eventsAction(c *cli.Context) error {
	ctx := c.Context
	if c.Bool("follow") {
		var cancel context.CancelFunc
		ctx, cancel = signalContext(ctx)
		defer cancel()
	}
	o := c.String("output")
	if o != "table" && o != "json" {
		return fmt.Errorf("-o: must be table or json, got %q", o)
	}
	since := ""
	if v := c.String("since"); v != "" {
		// Resolved here, so that the daemon's clock and the user's words
		// mean the same instant.
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			since = time.Now().Add(-d).UTC().Format(time.RFC3339Nano)
		} else if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			since = t.Format(time.RFC3339Nano)
		} else {
			return fmt.Errorf("--since: %q is not a duration (10m) or an RFC 3339 time (2026-11-30T10:00:00Z)", v)
		}
	}
	w := c.App.Writer
	enc := json.NewEncoder(w)
	return client(c).EventsSince(ctx, since, c.Bool("follow"), func(e pod.Event) error {
		if o == "json" {
			return enc.Encode(e)
		}
		_, err := fmt.Fprintln(w, formatEvent(e))
		return err
	})
}

func formatEvent(e pod.Event) string {
	subject := e.Pod
	if e.Process != "" {
		subject += "/" + e.Process
	}
	var detail []string
	if e.PID != 0 {
		detail = append(detail, fmt.Sprintf("pid=%d", e.PID))
	}
	if e.ExitCode != nil {
		detail = append(detail, fmt.Sprintf("exitCode=%d", *e.ExitCode))
	}
	if e.Signal != "" {
		detail = append(detail, "signal="+e.Signal)
	}
	if e.Reason != "" {
		detail = append(detail, "reason="+e.Reason)
	}
	if e.Delay != "" {
		detail = append(detail, "delay="+e.Delay)
	}
	if e.Phase != "" {
		detail = append(detail, "phase="+string(e.Phase))
	}
	if e.Message != "" {
		detail = append(detail, "message="+strconv.Quote(e.Message))
	}
	if e.Seq != 0 {
		detail = append(detail, fmt.Sprintf("seq=%d", e.Seq))
	}
	return fmt.Sprintf("%s  %-12s %s %s", e.Time.Local().Format("2006-01-02T15:04:05.000"), e.Type, subject, strings.Join(detail, " "))
}

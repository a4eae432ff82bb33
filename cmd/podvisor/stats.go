package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/pod"
)

// statsEntry is one pod of `podvisor stats -o json`.
type statsEntry struct {
	Pod              string         `json:"pod"`
	Namespace        string         `json:"namespace,omitempty"`
	CPU              float64        `json:"cpu"` // cores
	MemoryBytes      uint64         `json:"memoryBytes"`
	MemoryLimitBytes uint64         `json:"memoryLimitBytes"`
	Pids             uint64         `json:"pids"`
	RxBytes          uint64         `json:"rxBytes"`
	TxBytes          uint64         `json:"txBytes"`
	Processes        []statsProcess `json:"processes"`
}

type statsProcess struct {
	Name        string  `json:"name"`
	CPU         float64 `json:"cpu"`
	MemoryBytes uint64  `json:"memoryBytes"`
	Pids        uint64  `json:"pids"`
}

func statsCommand() *cli.Command {
	return &cli.Command{
		Name: "stats", Usage: "CPU, memory, pids and network of pods, live (like podman pod stats)", ArgsUsage: "[NAME...]",
		Flags: []cli.Flag{
			socketFlag(),
			&cli.BoolFlag{Name: "no-stream", Usage: "print once and exit"},
			&cli.BoolFlag{Name: "processes", Usage: "a line per process too"},
			&cli.DurationFlag{Name: "interval", Value: 2 * time.Second, Usage: "time between two refreshes"},
			outputFlag("table", "table or json"),
		},
		Action: func(c *cli.Context) error {
			o := c.String("output")
			if o != "table" && o != "json" {
				return fmt.Errorf("-o: must be table or json, got %q", o)
			}
			names := c.Args().Slice()
			ctx, cancel := signalContext(c.Context)
			defer cancel()
			prev, err := client(c).Stats(ctx, names...)
			if err != nil {
				return err
			}
			// CPU use is measured between two readings: the first line
			// comes after a second.
			wait := time.Second
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
				cur, err := client(c).Stats(ctx, names...)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				entries := statsEntries(prev, cur)
				if o == "json" {
					if err := printJSON(c.App.Writer, entries); err != nil {
						return err
					}
				} else {
					if !c.Bool("no-stream") {
						fmt.Fprint(c.App.Writer, "\x1b[H\x1b[2J") // home, clear
					}
					if err := printStats(c.App.Writer, entries, c.Bool("processes")); err != nil {
						return err
					}
				}
				if c.Bool("no-stream") {
					return nil
				}
				prev, wait = cur, c.Duration("interval")
			}
		},
	}
}

// statsEntries computes CPU use (cores) between two readings.
func statsEntries(prev, cur []pod.PodStats) []statsEntry {
	before := map[string]pod.PodStats{}
	for _, p := range prev {
		before[p.Pod] = p
	}
	out := []statsEntry{}
	for _, p := range cur {
		e := statsEntry{Pod: p.Pod, Namespace: p.Namespace, MemoryBytes: p.MemoryBytes, MemoryLimitBytes: p.MemoryLimitBytes,
			Pids: p.Pids, RxBytes: p.RxBytes, TxBytes: p.TxBytes, Processes: []statsProcess{}}
		b, ok := before[p.Pod]
		dt := p.Time.Sub(b.Time).Seconds()
		rate := func(now, then float64) float64 {
			if !ok || dt <= 0 || now < then {
				return 0
			}
			return (now - then) / dt
		}
		e.CPU = rate(p.CPUSeconds, b.CPUSeconds)
		prevProc := map[string]pod.ProcessStats{}
		for _, pr := range b.Processes {
			prevProc[pr.Name] = pr
		}
		for _, pr := range p.Processes {
			e.Processes = append(e.Processes, statsProcess{Name: pr.Name, CPU: rate(pr.CPUSeconds, prevProc[pr.Name].CPUSeconds),
				MemoryBytes: pr.MemoryBytes, Pids: pr.Pids})
		}
		out = append(out, e)
	}
	return out
}

func printStats(w io.Writer, entries []statsEntry, processes bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "POD\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS\tNET I/O")
	for _, e := range entries {
		limit, pct := "-", "-"
		if e.MemoryLimitBytes > 0 {
			limit = bytesHuman(e.MemoryLimitBytes)
			pct = fmt.Sprintf("%.2f%%", 100*float64(e.MemoryBytes)/float64(e.MemoryLimitBytes))
		}
		fmt.Fprintf(tw, "%s\t%.2f%%\t%s / %s\t%s\t%d\t%s / %s\n", e.Pod, 100*e.CPU, bytesHuman(e.MemoryBytes), limit, pct, e.Pids, bytesHuman(e.RxBytes), bytesHuman(e.TxBytes))
		if processes {
			for _, p := range e.Processes {
				fmt.Fprintf(tw, "  %s/%s\t%.2f%%\t%s\t\t%d\t\n", e.Pod, p.Name, 100*p.CPU, bytesHuman(p.MemoryBytes), p.Pids)
			}
		}
	}
	return tw.Flush()
}

// bytesHuman prints a size as docker stats does: 12.3MiB.
func bytesHuman(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, i := float64(n), 0
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	for f /= unit; f >= unit && i < len(units)-1; i++ {
		f /= unit
	}
	return fmt.Sprintf("%.1f%s", f, units[i])
}

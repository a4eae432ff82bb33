package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkUpAgainstFloors runs `podvisor up` of a pod of N processes side
// by side with the least a supervisor can do for the same pod, in C
// (testdata/floors/floor.c) and in Go (testdata/floors/floorgo): a cgroup
// for the pod and one per process, network, IPC and UTS namespaces with
// loopback up, each process placed in its cgroup before it execs. It
// reports the median time from the supervisor's fork to the last process's
// first instruction (a static program, stamp, that writes CLOCK_MONOTONIC),
// over rounds that take the three in turn, and the supervisor's own PSS
// once every process runs (the per-process cost is the difference between
// 100 processes and 1, over 99).
func BenchmarkUpAgainstFloors(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates namespaces and cgroups")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		b.Skip("needs gcc for the C floor")
	}
	bin, _ := filepath.Abs("../../bin/podvisor")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%s: build it first (make build)", bin)
	}
	dir := b.TempDir()
	floorC, stamp, floorGo := filepath.Join(dir, "floor"), filepath.Join(dir, "stamp"), filepath.Join(dir, "floorgo")
	for _, c := range [][]string{
		{"gcc", "-O2", "-o", floorC, "testdata/floors/floor.c"},
		{"gcc", "-O2", "-static", "-o", stamp, "testdata/floors/stamp.c"},
		{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", floorGo, "./testdata/floors/floorgo"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	for _, n := range []int{1, 3, 100} {
		b.Run(fmt.Sprintf("processes=%d", n), func(b *testing.B) {
			rounds := 10
			if n == 100 {
				rounds = 5
			}
			type runner struct {
				name string
				cmd  func(i int, stamps string) *exec.Cmd
			}
			runners := []runner{
				{"c", func(i int, stamps string) *exec.Cmd {
					return exec.Command(floorC, fmt.Sprintf("podvisor-floor-%d-%d", os.Getpid(), i), strconv.Itoa(n), stamp, filepath.Join(stamps, "s"))
				}},
				{"go", func(i int, stamps string) *exec.Cmd {
					return exec.Command(floorGo, fmt.Sprintf("podvisor-floorgo-%d-%d", os.Getpid(), i), strconv.Itoa(n), stamp, filepath.Join(stamps, "s"))
				}},
				{"up", func(i int, stamps string) *exec.Cmd {
					var y strings.Builder
					fmt.Fprintf(&y, "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: peer%d}\nspec:\n  network: none\n  processes:\n", i)
					for j := range n {
						fmt.Fprintf(&y, "  - {name: p%d, command: [%s, %s-%d]}\n", j, stamp, filepath.Join(stamps, "s"), j)
					}
					f := filepath.Join(stamps, "pod.yaml")
					if err := os.WriteFile(f, []byte(y.String()), 0o644); err != nil {
						b.Fatal(err)
					}
					root := filepath.Join(stamps, "root")
					return exec.Command(bin, "up", "--root", root, "--cgroup-parent", fmt.Sprintf("podvisor-peer-%d-%d", os.Getpid(), i), f)
				}},
			}
			times := map[string][]time.Duration{}
			pss := map[string][]int64{}
			for r := range rounds {
				for k, rn := range runners {
					stamps := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", rn.name, n, r))
					if err := os.MkdirAll(stamps, 0o755); err != nil {
						b.Fatal(err)
					}
					cmd := rn.cmd(r*10+k, stamps)
					var t0 unix.Timespec
					unix.ClockGettime(unix.CLOCK_MONOTONIC, &t0)
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					last, err := waitStamps(stamps, n, 20*time.Second)
					if err != nil {
						cmd.Process.Kill()
						cmd.Wait()
						b.Fatalf("%s: %v", rn.name, err)
					}
					times[rn.name] = append(times[rn.name], time.Duration(last-t0.Nano()))
					// Its resident set once settled (up trims its binary's
					// pages once its pods are up).
					time.Sleep(300 * time.Millisecond)
					_, p := smaps(cmd.Process.Pid)
					pss[rn.name] = append(pss[rn.name], p)
					cmd.Process.Signal(syscall.SIGTERM)
					done := make(chan error, 1)
					go func() { done <- cmd.Wait() }()
					select {
					case <-done:
					case <-time.After(30 * time.Second):
						cmd.Process.Kill()
						b.Fatalf("%s did not stop", rn.name)
					}
				}
			}
			c := medianOf(times["c"])
			for _, rn := range runners {
				m := medianOf(times[rn.name])
				b.ReportMetric(msOf(m), rn.name+"-ms")
				b.ReportMetric(float64(medianInt(pss[rn.name]))/1024, rn.name+"-pss-MB")
				b.ReportMetric(float64(m)/float64(c), rn.name+"/c")
			}
		})
	}
}

// waitStamps waits for n stamp files s-0 … s-(n-1) in dir and returns the
// latest time they hold (CLOCK_MONOTONIC, ns).
func waitStamps(dir string, n int, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	var last int64
	for i := 0; i < n; {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("s-%d", i)))
		if err != nil {
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%d of %d processes started", i, n)
			}
			time.Sleep(100 * time.Microsecond)
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, err
		}
		last = max(last, v)
		i++
	}
	return last, nil
}

func medianInt(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

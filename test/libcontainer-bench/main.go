// Command libcontainer-bench measures what it costs to start a process through
// runc's libcontainer (Create + Run) compared with podvisor's direct
// setns + fork/exec path. It must run as root. See README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	_ "github.com/opencontainers/cgroups/devices" // device-rule support for the cgroup v1 devices controller
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/devices"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"
)

func init() {
	// libcontainer re-executes /proc/self/exe with the argument "init"; the C
	// constructor in nsenter has already run by now (see runc's init.go).
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}

func main() {
	n := flag.Int("n", 50, "number of containers to start")
	check := flag.Bool("check", false, "first run one container that prints its namespaces, cgroup and mounts")
	flag.Parse()
	if os.Geteuid() != 0 {
		fatal(fmt.Errorf("must run as root"))
	}
	parent := fmt.Sprintf("/podvisor-lcbench-%d", os.Getpid())
	// Like runc (/run/runc), keep state under /run: libcontainer seals
	// /proc/self/exe with an overlayfs whose lower layers are the binary's
	// directory and the state dir; if they overlap (binary directly in /tmp and
	// state under /tmp) the kernel refuses and it falls back to copying the
	// whole binary into a memfd on every start (~2x slower here).
	tmp, err := os.MkdirTemp("/run", "podvisor-lcbench-")
	if err != nil {
		fatal(err)
	}
	code := 0
	if err := run(*n, *check, parent, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		code = 1
	}
	cleanup(parent, tmp)
	os.Exit(code)
}

func run(n int, check bool, parent, tmp string) error {
	stateDir := filepath.Join(tmp, "state")
	rootfs := filepath.Join(tmp, "rootfs")
	for _, d := range []string{stateDir, rootfs + "/usr", rootfs + "/proc", rootfs + "/dev"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, l := range []string{"bin", "lib", "lib64", "sbin"} {
		if err := os.Symlink("usr/"+l, filepath.Join(rootfs, l)); err != nil {
			return err
		}
	}
	var rules []*devices.Rule
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	started := make([]time.Duration, 0, n)
	full := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		args := []string{"/bin/true"}
		if check && i == 0 {
			args = []string{"/bin/sh", "-c", "echo pid=$$ host=$(cat /proc/sys/kernel/hostname); " +
				"ls -l /proc/self/ns | cut -d' ' -f9-; cat /proc/self/cgroup; cat /proc/self/mounts"}
		}
		cfg := &configs.Config{
			Rootfs:   rootfs,
			Hostname: "lcbench",
			Devices:  specconv.AllowedDevices, // /dev/null etc.; libcontainer needs /dev/null for stdio
			Namespaces: configs.Namespaces{
				{Type: configs.NEWNS}, {Type: configs.NEWNET}, {Type: configs.NEWIPC},
				{Type: configs.NEWUTS}, {Type: configs.NEWPID},
			},
			Cgroups: &configs.Cgroup{
				Path:      fmt.Sprintf("%s/c%d", parent, i), // absolute: never relative to our own cgroup
				Resources: &configs.Resources{Devices: rules},
			},
			Mounts: []*configs.Mount{
				{Source: "proc", Destination: "/proc", Device: "proc",
					Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
				{Source: "tmpfs", Destination: "/dev", Device: "tmpfs",
					Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755"},
				{Source: "/usr", Destination: "/usr", Device: "bind",
					Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY},
			},
		}
		id := fmt.Sprintf("lcbench-%d-%d", os.Getpid(), i)

		t0 := time.Now()
		c, err := libcontainer.Create(stateDir, id, cfg)
		if err != nil {
			return fmt.Errorf("create %d: %w", i, err)
		}
		p := &libcontainer.Process{
			Args: args, Env: []string{"PATH=/usr/bin:/bin"},
			Cwd: "/", Stdout: os.Stdout, Stderr: os.Stderr, Init: true,
		}
		if err := c.Run(p); err != nil {
			_ = c.Destroy()
			return fmt.Errorf("run %d: %w", i, err)
		}
		t1 := time.Now()
		st, werr := p.Wait()
		derr := c.Destroy()
		t2 := time.Now()
		if werr != nil {
			return fmt.Errorf("wait %d: %w", i, werr)
		}
		if derr != nil {
			return fmt.Errorf("destroy %d: %w", i, derr)
		}
		if !st.Success() {
			return fmt.Errorf("container %d: /bin/true exited with %v", i, st)
		}
		if check && i == 0 {
			continue // the check run is not timed
		}
		started = append(started, t1.Sub(t0))
		full = append(full, t2.Sub(t0))
	}
	fmt.Printf("libcontainer, %d runs of /bin/true\n", len(full))
	report("create+run (process started)", started)
	report("full cycle (+wait+destroy) ", full)
	return nil
}

func report(name string, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pct := func(p float64) time.Duration { return d[int(p*float64(len(d)-1)+0.5)] }
	fmt.Printf("  %s  median %7.2f ms   p90 %7.2f ms   (min %.2f, max %.2f)\n", name,
		ms(pct(0.5)), ms(pct(0.9)), ms(d[0]), ms(d[len(d)-1]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cleanup removes the parent cgroup we created in every hierarchy (Destroy
// already removed the per-container children) and the temporary directory.
func cleanup(parent, tmp string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	for _, d := range dirs {
		subs, _ := filepath.Glob(d + "/c*")
		for _, s := range subs {
			if fi, err := os.Stat(s); err == nil && fi.IsDir() {
				_ = unix.Rmdir(s)
			}
		}
		if err := unix.Rmdir(d); err != nil {
			fmt.Fprintf(os.Stderr, "warning: rmdir %s: %v\n", d, err)
		}
	}
	// Never RemoveAll the rootfs: if the /usr bind mount had leaked into our
	// namespace that would delete the host's /usr. Remove entry by entry.
	rootfs := filepath.Join(tmp, "rootfs")
	for _, l := range []string{"bin", "lib", "lib64", "sbin"} {
		_ = os.Remove(filepath.Join(rootfs, l))
	}
	_ = os.RemoveAll(filepath.Join(tmp, "state"))
	for _, d := range []string{rootfs + "/usr", rootfs + "/proc", rootfs + "/dev", rootfs, tmp} {
		if err := unix.Rmdir(d); err != nil {
			fmt.Fprintf(os.Stderr, "warning: rmdir %s: %v\n", d, err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

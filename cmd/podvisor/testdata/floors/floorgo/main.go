// Command floorgo is the least a pod supervisor does, in Go, for the peer
// benchmark: the same as floor.c (floorgo CGROUP N PROGRAM ARG...). Each
// process is placed in its cgroups before it execs: on cgroup v2 it is
// cloned into its cgroup (CLONE_INTO_CGROUP); on v1 the forking thread
// joins the process's cgroups (their tasks files), forks, and goes back.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

var v2 bool

func dirs(cg string, i int) []string {
	sub := ""
	if i >= 0 {
		sub = "p" + strconv.Itoa(i)
	}
	if v2 {
		return []string{filepath.Join("/sys/fs/cgroup", cg, sub)}
	}
	var d []string
	for _, c := range []string{"memory", "cpu", "pids"} {
		d = append(d, filepath.Join("/sys/fs/cgroup", c, cg, sub))
	}
	return d
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "floorgo:", err)
	os.Exit(1)
}

func main() {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	v2 = err == nil
	cg := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	args := os.Args[3:]
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	for _, d := range dirs(cg, -1) {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			die(err)
		}
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS); err != nil {
		die(err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		die(err)
	}
	ifr, _ := unix.NewIfreq("lo")
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		die(err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		die(err)
	}
	unix.Close(s)
	var procs []*os.Process
	tid := []byte(strconv.Itoa(unix.Gettid()))
	home := map[string]string{} // v1: the thread's own cgroup per controller
	if !v2 {
		b, _ := os.ReadFile("/proc/thread-self/cgroup")
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.SplitN(l, ":", 3)
			if len(f) == 3 {
				for _, c := range strings.Split(f[1], ",") {
					home[c] = f[2]
				}
			}
		}
	}
	for i := range n {
		ds := dirs(cg, i)
		for _, d := range ds {
			if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				die(err)
			}
		}
		a := append([]string(nil), args...)
		a[len(a)-1] += "-" + strconv.Itoa(i)
		attr := &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}, Sys: &syscall.SysProcAttr{}}
		if v2 {
			fd, err := unix.Open(ds[0], unix.O_DIRECTORY|unix.O_PATH, 0)
			if err != nil {
				die(err)
			}
			attr.Sys.UseCgroupFD, attr.Sys.CgroupFD = true, fd
			p, err := os.StartProcess(a[0], a, attr)
			if err != nil {
				die(err)
			}
			unix.Close(fd)
			procs = append(procs, p)
			continue
		}
		for _, d := range ds {
			if err := os.WriteFile(filepath.Join(d, "tasks"), tid, 0); err != nil {
				die(err)
			}
		}
		p, err := os.StartProcess(a[0], a, attr)
		for _, c := range []string{"memory", "cpu", "pids"} {
			h := home[c]
			if c == "cpu" && h == "" {
				h = home["cpuacct"]
			}
			if err := os.WriteFile(filepath.Join("/sys/fs/cgroup", c, h, "tasks"), tid, 0); err != nil {
				die(err)
			}
		}
		if err != nil {
			die(err)
		}
		procs = append(procs, p)
	}
	<-sigs
	for _, p := range procs {
		p.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		p.Wait()
	}
	for i := range n {
		for _, d := range dirs(cg, i) {
			os.Remove(d)
		}
	}
	for _, d := range dirs(cg, -1) {
		os.Remove(d)
	}
}

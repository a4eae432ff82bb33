package supervisor

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The orphan reaper. The supervisor is a child subreaper, so orphans of pod
// processes (a daemon's double fork, a shell's background job whose parent
// died) become its children; PID 1 would reap them only late. It reaps
// exited children that it does not own — pids whose waiter is elsewhere are
// left alone — and only those that lived in one of its pods' cgroups, so a
// program embedding the supervisor keeps its own children's exit statuses.
var (
	// reapMu: spawns hold it for reading from fork until the pid is
	// registered, so the reaper never takes a fresh child for an orphan.
	reapMu sync.RWMutex
	// owned counts the registrations of each pid: a pid reused by a new
	// child before the old child's disown stays owned.
	owned = map[int]int{}
	// reapScopes are the cgroup path prefixes ("/podvisor/") of the
	// supervisors in this process.
	reapScopes = map[string]int{}
	reaperOnce sync.Once
)

// ownedMu guards owned and reapScopes.
var ownedMu sync.Mutex

func own(pid int) {
	ownedMu.Lock()
	owned[pid]++
	ownedMu.Unlock()
}

func disown(pid int) {
	ownedMu.Lock()
	if owned[pid]--; owned[pid] <= 0 {
		delete(owned, pid)
	}
	ownedMu.Unlock()
}

func isOwned(pid int) bool {
	ownedMu.Lock()
	defer ownedMu.Unlock()
	_, ok := owned[pid]
	return ok
}

func addReapScope(cgroupParent string) {
	ownedMu.Lock()
	reapScopes["/"+strings.Trim(cgroupParent, "/")+"/"]++
	ownedMu.Unlock()
}

func removeReapScope(cgroupParent string) {
	ownedMu.Lock()
	k := "/" + strings.Trim(cgroupParent, "/") + "/"
	if reapScopes[k]--; reapScopes[k] <= 0 {
		delete(reapScopes, k)
	}
	ownedMu.Unlock()
}

func inReapScope(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	ownedMu.Lock()
	defer ownedMu.Unlock()
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for scope := range reapScopes {
			if strings.HasPrefix(parts[2]+"/", scope) {
				return true
			}
		}
	}
	return false
}

// reapGap is the least time between two scans for orphans.
const reapGap = 100 * time.Millisecond

// startReaper makes this process a child subreaper and starts reaping
// orphans on SIGCHLD. It is idempotent.
func startReaper() error {
	var err error
	reaperOnce.Do(func() {
		if err = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return
		}
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGCHLD)
		go func() {
			var last time.Time
			for range ch {
				// At most one scan per reapGap: a scan may list every
				// child from /proc, and a burst of exits (exec probes of
				// many pods, crash loops) sends a SIGCHLD each; the
				// signals of the wait coalesce in ch.
				if wait := reapGap - time.Since(last); wait > 0 {
					time.Sleep(wait)
				}
				last = time.Now()
				reapOrphans()
				// The safety net: whatever the pidfd path may have
				// missed is found by a sweep shortly after.
				if l, err := theLoop(); err == nil {
					l.requestSweep()
				}
			}
		}()
	})
	return err
}

// reapOrphans reaps every exited child that is not owned and lived in a
// pod cgroup. It peeks with waitid(P_ALL, WNOHANG|WNOWAIT), which names one
// exited child without reaping it, and reaps that pid if it is an orphan;
// when the peek names a child it must leave alone (one a waiter owns, or
// the embedding program's), which hides the others, it lists the children
// from /proc and checks each.
func reapOrphans() {
	reapMu.Lock()
	defer reapMu.Unlock()
	for {
		var info siginfoChild
		err := unix.Waitid(unix.P_ALL, 0, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err != nil || info.Pid == 0 {
			return // no exited child at all
		}
		pid := int(info.Pid)
		if isOwned(pid) || !inReapScope(pid) {
			break
		}
		var si unix.Siginfo
		_ = unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOHANG, nil)
	}
	for _, pid := range children() {
		if isOwned(pid) || !isZombie(pid) || !inReapScope(pid) {
			continue
		}
		var info unix.Siginfo
		_ = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG, nil)
	}
}

// children lists this process's children, from every thread.
func children() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// An emptyDir shared by three processes, mounted over a host directory
// that stays untouched and at a path the host does not have, which is made
// in the processes' views only.
func TestEmptyDirSharedByThree(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "host-file"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := fmt.Sprintf("/podvisor-test-%s/deep/data", name)
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: Never
  volumes: [{name: shared, emptyDir: {}}]
  initProcesses:
  - name: writer
    command: [sh, -c, 'echo from-writer > %[1]s/note && ls %[1]s']
    volumeMounts: [{name: shared, mountPath: %[1]q}]
  processes:
  - name: reader1
    command: [sh, -c, 'cat /data/note; ls /data']
    volumeMounts: [{name: shared, mountPath: /data}]
  - name: reader2
    command: [sh, -c, 'cat %[2]s/note; echo from-reader2 > %[2]s/second']
    volumeMounts: [{name: shared, mountPath: %[2]q}]
`, hostDir, missing))))
	waitPhase(t, p, 15*time.Second, pod.PhaseSucceeded)
	waitLog(t, sv, name, "reader1", "from-writer", 5*time.Second)
	waitLog(t, sv, name, "reader2", "from-writer", 5*time.Second)
	for _, l := range logLines(t, sv, name, "writer") {
		if strings.Contains(l, "host-file") {
			t.Errorf("the writer saw the host directory's file through the volume: %q", l)
		}
	}
	if _, err := os.Stat(filepath.Join(hostDir, "note")); err == nil {
		t.Error("the volume's file landed in the host directory")
	}
	if b, err := os.ReadFile(filepath.Join(hostDir, "host-file")); err != nil || string(b) != "host" {
		t.Errorf("the host directory changed: %q %v", b, err)
	}
	if _, err := os.Lstat("/podvisor-test-" + name); err == nil {
		t.Errorf("the mount path was made on the host")
	}
	vol := filepath.Join(sv.Root(), "pods", name, "volumes", "shared")
	if b, err := os.ReadFile(filepath.Join(vol, "second")); err != nil || string(b) != "from-reader2\n" {
		t.Errorf("emptyDir on the host side: %q %v", b, err)
	}
	if err := sv.Remove(context.Background(), name, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vol); err == nil {
		t.Error("the emptyDir outlived its pod")
	}
}

// Each pod has a /tmp of its own, shared by its processes and probes, not
// the host's; two processes can mount different volumes at one path.
func TestPrivateTmpAndPerProcessMounts(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: one, files: {items: [{path: id, data: volume-one}]}}
  - {name: two, files: {items: [{path: id, data: volume-two}]}}
  processes:
  - name: a
    command: [sh, -c, 'echo a-was-here > /tmp/%[1]s-a; echo shm > /dev/shm/%[1]s-a; cat /conf/id; echo; sleep 1000']
    volumeMounts: [{name: one, mountPath: /conf}]
    livenessProbe:
      exec: {command: [test, -e, /tmp/%[1]s-a]}
      periodSeconds: 1
  - name: b
    command: [sh, -c, 'cat /conf/id; echo; while ! [ -e /tmp/%[1]s-a ] || ! [ -e /dev/shm/%[1]s-a ]; do sleep 0.1; done; echo b-sees-a; sleep 1000']
    volumeMounts: [{name: two, mountPath: /conf}]
`, name))))
	waitLog(t, sv, name, "a", "volume-one", 10*time.Second)
	waitLog(t, sv, name, "b", "volume-two", 10*time.Second)
	waitLog(t, sv, name, "b", "b-sees-a", 10*time.Second)
	if _, err := os.Stat("/tmp/" + name + "-a"); err == nil {
		t.Error("a process's /tmp file landed in the host's /tmp")
	}
	if _, err := os.Stat("/dev/shm/" + name + "-a"); err == nil {
		t.Error("a process's /dev/shm file landed in the host's /dev/shm")
	}
	// The liveness probe sees the pod's /tmp: after three periods the
	// process still runs, never restarted.
	time.Sleep(3500 * time.Millisecond)
	if a := procStatus(p.Status(), "a"); a.State != pod.StateRunning || a.RestartCount != 0 {
		t.Errorf("a: %s, %d restarts (the liveness probe did not see the pod's /tmp)", a.State, a.RestartCount)
	}
}

// /etc/hosts names the pod and its host aliases; dnsPolicy None makes
// resolv.conf from dnsConfig alone.
func TestEtcHostsAndResolvConf(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  hostname: box
  subdomain: api
  hostAliases: [{ip: 10.9.8.7, hostnames: [db.internal, db]}]
  dnsPolicy: None
  dnsConfig: {nameservers: [192.0.2.53], searches: [example.test], options: [{name: ndots, value: "2"}]}
  processes:
  - name: show
    command: [sh, -c, 'cat /etc/hosts /etc/resolv.conf; hostname; [ -e /etc/hostname ] && echo "etc-hostname=$(cat /etc/hostname)"']
`)))
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	lines := strings.Join(waitLog(t, sv, name, "show", "options ndots:2", 5*time.Second), "\n")
	for _, want := range []string{"127.0.1.1\tbox.api.default.svc.cluster.local\tbox", "10.9.8.7\tdb.internal\tdb", "nameserver 192.0.2.53", "search example.test"} {
		if !strings.Contains(lines, want) {
			t.Errorf("no %q in:\n%s", want, lines)
		}
	}
	if _, err := os.Stat("/etc/hostname"); err == nil && !strings.Contains(lines, "etc-hostname=box") {
		t.Errorf("/etc/hostname is not the pod's:\n%s", lines)
	}
	if strings.Count(lines, "nameserver") != 1 {
		t.Errorf("dnsPolicy None kept the host's nameservers:\n%s", lines)
	}
}

// readOnlyRootFilesystem: the host's tree is read-only for the process;
// /tmp and its volumes stay writable.
func TestReadOnlyRootFilesystem(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	target := filepath.Join(t.TempDir(), "written")
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: Never
  volumes: [{name: scratch, emptyDir: {}}]
  processes:
  - name: ro
    securityContext: {readOnlyRootFilesystem: true}
    volumeMounts: [{name: scratch, mountPath: /scratch}]
    command: [sh, -c, 'if echo x > %q; then echo host-writable; else echo host-read-only; fi; echo t > /tmp/t && echo tmp-writable; echo s > /dev/shm/s && echo shm-writable; echo 0 > /proc/self/oom_score_adj && echo proc-writable; echo v > /scratch/v && echo volume-writable']
`, target))))
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	lines := strings.Join(waitLog(t, sv, name, "ro", "volume-writable", 5*time.Second), "\n")
	if !strings.Contains(lines, "host-read-only") || !strings.Contains(lines, "tmp-writable") || !strings.Contains(lines, "shm-writable") || !strings.Contains(lines, "proc-writable") {
		t.Errorf("output:\n%s", lines)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("a read-only process wrote to the host's filesystem")
	}
}

// A files volume with modes, subPath and a program in the volume; hostPath
// types are checked before anything is made; subPath cannot leave the
// volume.
func TestFilesHostPathAndSubPath(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "data.txt"), []byte("host-data"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: Never
  volumes:
  - {name: scripts, files: {items: [{path: bin/run.sh, data: "#!/bin/sh\necho ran-from-volume $(cat /etc/app/app.conf) $(cat /host/data.txt)\n", mode: 0755}, {path: app.conf, data: conf-value}]}}
  - {name: host, hostPath: {path: %q, type: Directory}}
  - {name: made, hostPath: {path: %q, type: DirectoryOrCreate}}
  processes:
  - name: run
    command: [/scripts/bin/run.sh]
    volumeMounts:
    - {name: scripts, mountPath: /scripts, readOnly: true}
    - {name: scripts, mountPath: /etc/app/app.conf, subPath: app.conf}
    - {name: host, mountPath: /host}
    - {name: made, mountPath: /made}
`, host, filepath.Join(host, "made")))))
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	waitLog(t, sv, name, "run", "ran-from-volume conf-value host-data", 5*time.Second)
	if fi, err := os.Stat(filepath.Join(host, "made")); err != nil || !fi.IsDir() {
		t.Errorf("DirectoryOrCreate did not make the directory: %v", err)
	}

	// A hostPath of the wrong type fails the create, leaving nothing.
	bad := podName(t)
	_, err := sv.Create(load(t, podYAML(bad, fmt.Sprintf(`
  volumes: [{name: h, hostPath: {path: %q, type: Directory}}]
  processes: [{name: a, command: [sleep, "1"], volumeMounts: [{name: h, mountPath: /h}]}]
`, filepath.Join(host, "data.txt")))))
	if err == nil || !strings.Contains(err.Error(), "spec.volumes[0].hostPath.path") || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("hostPath of the wrong type: %v", err)
	}
	for _, left := range []string{filepath.Join(sv.Root(), "pods", bad), filepath.Join(sv.Root(), "ns", bad), filepath.Join(sv.Root(), "views", bad)} {
		if _, err := os.Lstat(left); err == nil {
			t.Errorf("a failed create left %s", left)
		}
	}

	// A subPath through a symlink that leaves the volume is refused at
	// start.
	esc := podName(t)
	q := createAndStart(t, sv, load(t, podYAML(esc, `
  restartPolicy: Never
  volumes: [{name: v, emptyDir: {}}]
  initProcesses:
  - name: plant
    command: [ln, -s, /etc, /v/link]
    volumeMounts: [{name: v, mountPath: /v}]
  processes:
  - name: use
    command: [cat, /x/passwd]
    volumeMounts: [{name: v, mountPath: /x, subPath: link}]
`)))
	st := waitCond(t, q, 10*time.Second, "use fails", func(s *pod.Status) bool {
		return procStatus(*s, "use").State == pod.StateTerminated || s.Phase == pod.PhaseFailed
	})
	if u := procStatus(st, "use"); u.ExitCode != nil && *u.ExitCode == 0 {
		t.Errorf("a subPath symlink escaped the volume: %+v", u)
	}
}

// An emptyDir on disk over its sizeLimit gets the pod evicted: stopped,
// Failed with reason Evicted; a memory emptyDir is a tmpfs of that size.
func TestEmptyDirSizeLimitEvicts(t *testing.T) {
	defer func(d time.Duration) { storageCheckEvery = d }(storageCheckEvery)
	storageCheckEvery = 200 * time.Millisecond
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: cache, emptyDir: {sizeLimit: 1Mi}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 2Mi}}
  processes:
  - name: fill
    command: [sh, -c, 'df -k /mem | tail -1; dd if=/dev/zero of=/cache/big bs=64k count=64 2>/dev/null; echo filled; sleep 1000']
    volumeMounts: [{name: cache, mountPath: /cache}, {name: mem, mountPath: /mem}]
`)))
	st := waitPhase(t, p, 15*time.Second, pod.PhaseFailed)
	if st.Reason != pod.ReasonEvicted || st.Message != `Usage of EmptyDir volume "cache" exceeds the limit "1Mi".` {
		t.Errorf("reason %q message %q", st.Reason, st.Message)
	}
	lines := logLines(t, sv, name, "fill")
	if len(lines) == 0 || !strings.Contains(lines[0], " 2048 ") {
		t.Errorf("the memory emptyDir is not a 2 MiB tmpfs: %q", lines)
	}
}

// CreateAll makes several pods all or none: when one cannot be created,
// those made before it are removed again.
func TestCreateAllOrNone(t *testing.T) {
	sv := newTestSupervisor(t)
	a, b := podName(t), podName(t)
	specs := []*pod.Pod{
		load(t, podYAML(a, "  processes: [{name: x, command: [sleep, \"100\"]}]\n")),
		load(t, podYAML(b, "  volumes: [{name: h, hostPath: {path: /proc/self/status, type: Directory}}]\n  processes: [{name: x, command: [sleep, \"100\"], volumeMounts: [{name: h, mountPath: /h}]}]\n")),
	}
	_, err := sv.CreateAll(context.Background(), specs, CreateAllOptions{Start: true})
	if err == nil || !strings.Contains(err.Error(), `pod "`+b+`"`) || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("CreateAll: %v", err)
	}
	for _, n := range []string{a, b} {
		if _, err := sv.Get(n); err == nil {
			t.Errorf("pod %s is left", n)
		}
		if _, err := os.Lstat(filepath.Join(sv.Root(), "pods", n)); err == nil {
			t.Errorf("pod %s's directory is left", n)
		}
	}
	pods, err := sv.CreateAll(context.Background(), specs[:1], CreateAllOptions{Start: true})
	if err != nil || len(pods) != 1 {
		t.Fatalf("CreateAll of one: %v", err)
	}
	waitCond(t, pods[0], 10*time.Second, "running", func(s *pod.Status) bool { return procStatus(*s, "x").State == pod.StateRunning })
}

// A view holds no copy of the supervisor's own mounts (other pods' tmpfs,
// the namespace pins): they are hidden, so views do not grow with the
// number of pods.
func TestViewsHideOtherPods(t *testing.T) {
	sv := newTestSupervisor(t)
	first, second := podName(t), podName(t)
	createAndStart(t, sv, load(t, podYAML(first, "  terminationGracePeriodSeconds: 1\n  volumes: [{name: m, emptyDir: {medium: Memory}}]\n  processes: [{name: a, command: [sleep, \"1000\"], volumeMounts: [{name: m, mountPath: /m}]}]\n")))
	p := createAndStart(t, sv, load(t, podYAML(second, "  restartPolicy: Never\n  processes: [{name: b, command: [cat, /proc/self/mountinfo]}]\n")))
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	lines := waitLog(t, sv, second, "b", "/etc/hosts", 5*time.Second)
	for _, l := range lines {
		if strings.Contains(l, filepath.Join(sv.Root(), "mnt", first)) || strings.Contains(l, filepath.Join(sv.Root(), "ns")) {
			t.Errorf("the second pod's view holds a mount of the supervisor's: %s", l)
		}
	}
}

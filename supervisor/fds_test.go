package supervisor

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A file descriptor the supervisor's process inherited without
// close-on-exec (here a root-only file) does not reach a pod's process,
// which runs as nobody and tries to write to it.
func TestInheritedFdDoesNotReachPods(t *testing.T) {
	requireRoot(t)
	secret := filepath.Join(t.TempDir(), "secret")
	fd, err := unix.Open(secret, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND, 0o600) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sv := newTestSupervisor(t)
	name := podName(t)
	n := strconv.Itoa(fd)
	createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: a
    user: nobody
    command: [sh, -c, "if [ -e /proc/self/fd/`+n+` ]; then echo WROTE; else echo NOFD; fi"]
`)))
	lines := waitLog(t, sv, name, "a", "NOFD", 10*time.Second)
	if b, _ := os.ReadFile(secret); len(b) != 0 {
		t.Errorf("the pod's process wrote %q into the inherited fd %d (log %q)", b, fd, lines)
	}
}

package mounts

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Keep the main goroutine on the main thread, as the supervisor does, so
// that no test goroutine that locks its thread and changes namespace can
// land there (Go cannot discard the main thread).
func init() { runtime.LockOSThread() }

// marker is in every path these tests create, so that TestMain can tell
// their mounts from those of other programs on the machine.
const marker = "podvisor-mounts-test-"

var testBase string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	base, err := os.MkdirTemp("", marker)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testBase = base
	os.Setenv("TMPDIR", base) // t.TempDir() under base
	before := ourMounts()
	code := m.Run()
	if after := ourMounts(); len(after) != len(before) {
		fmt.Fprintf(os.Stderr, "mounts left behind:\n%s\n", strings.Join(after, "\n"))
		code = 1
	}
	if err := os.RemoveAll(base); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// ourMounts lists the host's mount points that these tests could have made.
func ourMounts() []string {
	var out []string
	for _, p := range hostMountPoints() {
		if strings.Contains(p, marker) {
			out = append(out, p)
		}
	}
	return out
}

// hostMountPoints reads the main thread's mountinfo: the host's.
func hostMountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		out = append(out, unescape(fields[4]))
	}
	return out
}

func hostHasMount(path string) bool {
	for _, p := range hostMountPoints() {
		if p == path {
			return true
		}
	}
	return false
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes mount namespaces and mounts")
	}
}

// tempDir is t.TempDir with the symlinks of its path resolved.
func tempDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pinDir is a prepared directory for pins, released at the end of the test.
func pinDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(tempDir(t), "pins")
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ReleaseDir(dir); err != nil {
			t.Error(err)
		}
		if isMountPoint(dir) {
			t.Errorf("%s still mounted", dir)
		}
	})
	return dir
}

// newView creates a view pinned in dir and removes it at the end of the test.
func newView(t testing.TB, dir, name string, v View) string {
	t.Helper()
	pin := filepath.Join(dir, name)
	if err := Create(pin, v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Remove(pin); err != nil {
			t.Error(err)
		}
	})
	return pin
}

// mustMount mounts on the host and unmounts at the end of the test.
func mustMount(t testing.TB, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		t.Fatalf("mount %s on %s: %v", source, target, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// inView runs fn on a locked thread inside the view pinned on pin.
func inView(pin string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		leave, err := Enter(pin)
		if err != nil {
			runtime.UnlockOSThread() // Enter failed: still in the host's namespace
			errc <- err
			return
		}
		ferr := fn()
		if lerr := leave(); lerr != nil {
			errc <- errors.Join(ferr, lerr) // stays locked: Go discards the thread
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// sh runs a shell script in a child process forked inside the view.
func sh(t testing.TB, pin, script string) (out string, code int) {
	t.Helper()
	err := inView(pin, func() error {
		b, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
		out = string(b)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, code
}

// viewMountInfo is the mountinfo of the view pinned on pin.
func viewMountInfo(t testing.TB, pin string) map[int]mountEntry {
	t.Helper()
	var mi map[int]mountEntry
	if err := inView(pin, func() (err error) {
		mi, err = readMountInfo()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mi
}

func hasPoint(mi map[int]mountEntry, point string) bool {
	for _, m := range mi {
		if m.point == point {
			return true
		}
	}
	return false
}

func nsIno(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func unique() string {
	return fmt.Sprintf("%s%d-%d", marker, os.Getpid(), time.Now().UnixNano())
}

func lsHost(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// namesDir is a directory for NameNetNS, whose self-bind is undone at the
// end of the test.
func namesDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "netns")
	t.Cleanup(func() {
		for i := 0; i < 4 && isMountRoot(dir); i++ {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// isMountRoot reports whether dir is the root of a mount.
func isMountRoot(dir string) bool {
	var st unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_MNT_ID, &st) != nil {
		return false
	}
	return st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

func sameNS(t *testing.T, a, b string) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func TestNameNetNS(t *testing.T) {
	needRoot(t)
	ns1 := newNetNS(t, "ns1")
	ns2 := newNetNS(t, "ns2")
	dir := namesDir(t)
	name := "pvtest-" + uniq()
	p := filepath.Join(dir, name)

	named, err := NameNetNS(dir, name, ns1)
	if err != nil || !named {
		t.Fatalf("NameNetNS = %v, %v", named, err)
	}
	if !isMountRoot(dir) {
		t.Error("dir is not a mount point")
	}
	if !isNsfs(p) || !sameNS(t, p, ns1) {
		t.Error("dir/name is not the namespace")
	}
	// Shared propagation, as iproute2 makes it.
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !containsMountShared(string(mi), dir) {
		t.Errorf("%s not shared in mountinfo", dir)
	}
	// Again with the same namespace: already named, fine.
	if named, err := NameNetNS(dir, name, ns1); err != nil || !named {
		t.Errorf("NameNetNS again = %v, %v", named, err)
	}
	// Another namespace under a taken name: refused, not overwritten.
	if named, err := NameNetNS(dir, name, ns2); err != nil || named {
		t.Errorf("NameNetNS over another namespace = %v, %v", named, err)
	}
	if !sameNS(t, p, ns1) {
		t.Error("dir/name overwritten")
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("someone's"), 0o644)
	if named, err := NameNetNS(dir, "plain", ns2); err != nil || named {
		t.Errorf("NameNetNS over a plain file = %v, %v", named, err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "someone's" {
		t.Error("plain file overwritten")
	}
	// A symlink to the very namespace is not a name made by NameNetNS.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ns1, link); err != nil {
		t.Fatal(err)
	}
	if named, err := NameNetNS(dir, "link", ns1); err != nil || named {
		t.Errorf("NameNetNS over a symlink = %v, %v", named, err)
	}
	for _, ns := range []string{ns1, ""} {
		if err := UnnameNetNS(dir, "link", ns); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Lstat(link); err != nil {
		t.Error("symlink removed")
	}
	// A second name in the same (now mounted) directory.
	if named, err := NameNetNS(dir, name+"b", ns2); err != nil || !named {
		t.Errorf("NameNetNS second = %v, %v", named, err)
	}
	// Bad arguments.
	if _, err := NameNetNS(dir, "../x", ns2); err == nil {
		t.Error("a name with a slash accepted")
	}
	if _, err := NameNetNS(dir, "x", plain); err == nil {
		t.Error("a plain file accepted as a namespace")
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Error("file left by a failed NameNetNS")
	}

	// Unname: not ours (another namespace, a plain file) is left alone.
	if err := UnnameNetNS(dir, name, ns2); err != nil {
		t.Fatal(err)
	}
	if !sameNS(t, p, ns1) {
		t.Error("unnamed with another namespace's path")
	}
	if err := UnnameNetNS(dir, "plain", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(plain); err != nil {
		t.Error("plain file removed")
	}
	if err := UnnameNetNS(dir, name, ns1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Errorf("dir/name left: %v", err)
	}
	// The namespace itself lives on (pinned elsewhere).
	if !isNsfs(ns1) {
		t.Error("namespace pin gone")
	}
	if err := UnnameNetNS(dir, name, ns1); err != nil {
		t.Errorf("missing: %v", err)
	}
	// "" removes a network namespace mount of any namespace.
	if err := UnnameNetNS(dir, name+"b", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, name+"b")); !os.IsNotExist(err) {
		t.Errorf("dir/name left: %v", err)
	}
}

// containsMountShared reports whether mountinfo has dir as a mount point
// with a shared: tag.
func containsMountShared(mountinfo, dir string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) > 6 && f[4] == dir {
			for _, opt := range f[6:] {
				if opt == "-" {
					break
				}
				if strings.HasPrefix(opt, "shared:") {
					return true
				}
			}
		}
	}
	return false
}

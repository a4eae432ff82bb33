package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestEmbeddedPodSucceeds runs the example for real: a two-process pod
// through the library, in a temporary root and a cgroup parent of its own.
func TestEmbeddedPodSucceeds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces and cgroups (CI runs as root)")
	}
	root := t.TempDir()
	parent := fmt.Sprintf("podvisor-embed-test-%d", os.Getpid())
	t.Setenv("PODVISOR_ROOT", root)
	t.Setenv("PODVISOR_CGROUP_PARENT", parent)
	t.Setenv("PODVISOR_DEFAULT_NETWORK", "none") // no bridge on the machine
	if err := run(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/sys/fs/cgroup/memory/" + parent, "/sys/fs/cgroup/unified/" + parent, "/sys/fs/cgroup/" + parent} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup left behind: %s", d)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "ns")); len(entries) != 0 {
		t.Errorf("namespaces left behind: %v", entries)
	}
}

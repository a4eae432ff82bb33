package mounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecureJoin(t *testing.T) {
	root := tempDir(t)
	mkdir(t, filepath.Join(root, "a", "b"))
	writeFile(t, filepath.Join(root, "a", "f"), "")
	for link, to := range map[string]string{
		"a/up":     "..",              // stays inside
		"a/rel":    "b",               // inside
		"a/out":    "../..",           // climbs out
		"a/abs":    "/etc",            // absolute
		"a/absin":  root + "/a/b",     // absolute, even if it points inside
		"a/dangle": "nothing",         // dangling, inside
		"a/magic":  "/proc/self/root", // magic link
	} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for sub, want := range map[string]string{
		"a/b":            "a/b",
		"./a//b/":        "a/b",
		"a/rel":          "a/b",
		"a/up/a/rel":     "a/b",
		"a/rel/new/deep": "a/b/new/deep",
		"new":            "new",
		"":               "",
		"a/f":            "a/f",
	} {
		got, err := SecureJoin(root, sub)
		if err != nil {
			t.Errorf("SecureJoin(%q): %v", sub, err)
			continue
		}
		if w := filepath.Join(root, want); got != w {
			t.Errorf("SecureJoin(%q) = %s, want %s", sub, got, w)
		}
	}
	for _, sub := range []string{
		"/a", "..", "a/../../x", "a/b/..", "a/out", "a/out/x", "a/abs", "a/abs/passwd",
		"a/absin", "a/dangle", "a/dangle/x", "a/magic", "a/f/x",
	} {
		if got, err := SecureJoin(root, sub); err == nil {
			t.Errorf("SecureJoin(%q) = %s, want an error", sub, got)
		} else if !strings.Contains(err.Error(), sub) && !strings.Contains(err.Error(), "dangling") {
			t.Logf("SecureJoin(%q): %v", sub, err)
		}
	}
	if _, err := SecureJoin(filepath.Join(root, "nothing"), "x"); err == nil {
		t.Error("SecureJoin into a missing root succeeded")
	}
}

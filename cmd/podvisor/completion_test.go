package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The bash script completes commands and subcommands through the binary.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(bin, "podvisor")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "podvisor.bash")
	c := newCLI(t, false)
	out, _, code := c.run(t, "completion", "bash")
	if code != 0 {
		t.Fatalf("completion bash: exit %d", code)
	}
	if err := os.WriteFile(script, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		args := append([]string{"-c", `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _podvisor_complete; echo "${COMPREPLY[@]}"`, script}, words...)
		cmd := exec.Command("bash", args...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "PODVISOR_CLI_TEST=1")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v %s", err, b)
		}
		return strings.TrimSpace(string(b))
	}
	if got := complete("podvisor", "netw"); got != "network" {
		t.Errorf("podvisor netw<TAB> = %q, want network", got)
	}
	if got := complete("podvisor", "network", "cr"); got != "create" {
		t.Errorf("podvisor network cr<TAB> = %q, want create", got)
	}
	for _, sh := range []string{"zsh", "fish"} {
		if out, _, code := c.run(t, "completion", sh); code != 0 || !strings.Contains(out, "podvisor") {
			t.Errorf("completion %s: exit %d\n%s", sh, code, out)
		}
	}
	if _, stderr, code := c.run(t, "completion", "tcsh"); code == 0 || !strings.Contains(stderr, `unknown shell "tcsh"`) {
		t.Errorf("completion tcsh: exit %d %s", code, stderr)
	}
}

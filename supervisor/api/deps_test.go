package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/podvisor/podvisor"

// engine are the packages a client of the API must not link: the engine,
// the server that drives it, and what the engine runs pods with.
var engine = []string{
	module + "/supervisor",
	module + "/supervisor/api/server",
	module + "/namespaces",
	module + "/cgroups",
}

// deps lists, with `go list -deps -json`, the import paths that the
// package dir (relative to this package's directory) depends on, itself
// included; test files are not counted.
func deps(t *testing.T, dir string) []string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go tool is not found: %v", err)
	}
	cmd := exec.Command(gotool, "list", "-deps", "-json", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json %s: %v\n%s", dir, err, stderr.String())
	}
	var paths []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list -deps -json %s: %v", dir, err)
		}
		paths = append(paths, p.ImportPath)
	}
	return paths
}

// TestClientLinksNoEngine: a program that imports only the client and the
// wire types (packages api and pod) links neither the engine nor the
// server, nor namespaces or cgroups.
func TestClientLinksNoEngine(t *testing.T) {
	got := deps(t, ".")
	if !slices.Contains(got, module+"/supervisor/api") || !slices.Contains(got, module+"/pod") {
		t.Fatalf("go list -deps . does not list package api and pod: %v", got)
	}
	for _, p := range engine {
		if slices.Contains(got, p) {
			t.Errorf("package api depends on %s (directly or not): the client must not link the engine", p)
		}
	}
	// The check sees indirect dependencies: the server's include the
	// engine and, through it, namespaces and cgroups.
	server := deps(t, "./server")
	for _, p := range engine {
		if p != module+"/supervisor/api/server" && !slices.Contains(server, p) {
			t.Errorf("go list -deps ./server does not list %s: the check would miss it", p)
		}
	}
}

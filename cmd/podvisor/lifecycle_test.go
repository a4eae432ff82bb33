package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The lifecycle example runs as its comments say: setup, then the sidecar,
// then the server, the client only once the server is ready; at Ctrl-C
// the apps stop before the sidecar.
func TestUpLifecycleExample(t *testing.T) {
	c := newCLI(t, true)
	b, err := os.ReadFile("../../examples/lifecycle.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A name of its own; 127.0.0.1:8080 is the pod's own loopback.
	spec := strings.Replace(string(b), "name: lifecycle\n", fmt.Sprintf("name: lc%d\n", os.Getpid()), 1)
	cmd, out := startUp(t, c, spec, "client | client: hello from")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, _ := waitExit(t, cmd, 30*time.Second)
	s := out.String()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, s)
	}
	order := []string{
		"setup | setup: page ready",
		"log-tap | log-tap: up",
		"server | server: listening",
		"client | client: hello from",
		"client | client: TERM, bye",
		"log-tap | log-tap: stopped last",
	}
	at := 0
	for _, want := range order {
		i := strings.Index(s[at:], want)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", want, s)
		}
		at += i
	}
	if i, j := strings.Index(s, "server | server: TERM"), strings.Index(s, "log-tap | log-tap: stopped last"); i < 0 || i > j {
		t.Errorf("server did not stop before the sidecar:\n%s", s)
	}
}

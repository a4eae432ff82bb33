package main

import (
	"io"
	"slices"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, c := range []struct{ in, want []string }{
		{[]string{"podvisor", "stop", "web", "--timeout", "5"}, []string{"podvisor", "stop", "--timeout", "5", "web"}},
		{[]string{"podvisor", "rm", "web", "-f"}, []string{"podvisor", "rm", "-f", "web"}},
		{[]string{"podvisor", "logs", "web", "app", "-f", "--tail=3"}, []string{"podvisor", "logs", "-f", "--tail=3", "web", "app"}},
		{[]string{"podvisor", "daemon", "--log-level", "debug", "--root", "/r"}, []string{"podvisor", "daemon", "--log-level", "debug", "--root", "/r"}},
		{[]string{"podvisor", "ps", "x", "--log-level", "debug"}, []string{"podvisor", "--log-level", "debug", "ps", "x"}},
		{[]string{"podvisor", "--log-level", "debug", "ps", "-o", "json"}, []string{"podvisor", "--log-level", "debug", "ps", "-o", "json"}},
		{[]string{"podvisor", "exec", "web", "-t", "--", "ls", "-l"}, []string{"podvisor", "exec", "-t", "web", "--", "ls", "-l"}},
		{[]string{"podvisor", "exec", "-i", "--process", "p", "web", "--", "sh", "-c", "x"}, []string{"podvisor", "exec", "-i", "--process", "p", "web", "--", "sh", "-c", "x"}},
		{[]string{"podvisor", "nosuch", "-x"}, []string{"podvisor", "nosuch", "-x"}},
		{[]string{"podvisor", "--socket", "/s", "ps", "-o", "json"}, []string{"podvisor", "--socket", "/s", "ps", "-o", "json"}},
		{[]string{"podvisor", "--socket=/s", "--log-level", "warn", "rm", "x", "-f"}, []string{"podvisor", "--socket=/s", "--log-level", "warn", "rm", "-f", "x"}},
		{[]string{"podvisor", "validate", "f.yaml", "--socket", "/s"}, []string{"podvisor", "--socket", "/s", "validate", "f.yaml"}},
		{[]string{"podvisor", "exec", "-it", "web", "--", "sh"}, []string{"podvisor", "exec", "-it", "web", "--", "sh"}},
		// Subcommands: the flags go after the whole path.
		{[]string{"podvisor", "network", "create", "net1", "--subnet", "10.1.0.0/24", "--internal"}, []string{"podvisor", "network", "create", "--subnet", "10.1.0.0/24", "--internal", "net1"}},
		{[]string{"podvisor", "--socket", "/s", "network", "ls", "-o", "json"}, []string{"podvisor", "--socket", "/s", "network", "ls", "-o", "json"}},
		{[]string{"podvisor", "network", "rm", "a", "b", "--log-level", "warn"}, []string{"podvisor", "--log-level", "warn", "network", "rm", "a", "b"}},
	} {
		if got := reorderArgs(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

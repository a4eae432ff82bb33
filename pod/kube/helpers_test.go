package kube

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// countingReader is deterministic randomness: 0, 1, 2, ...
type countingReader struct{ n byte }

func (r *countingReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = r.n
		r.n++
	}
	return len(b), nil
}

// testOptions are the host facts of the tests, with deterministic uids
// and randomness.
func testOptions() Options {
	n := 0
	return Options{
		NodeName:             "node1",
		HostIP:               "192.0.2.10",
		NodeCPU:              4,
		NodeMemory:           8 << 30,
		NodeEphemeralStorage: 100 << 30,
		NewUID: func() string {
			n++
			return fmt.Sprintf("uid-%d", n)
		},
		Rand: &countingReader{},
	}
}

// load loads a manifest that must be accepted.
func load(t *testing.T, src string, opts ...func(*Options)) *Result {
	t.Helper()
	o := testOptions()
	for _, f := range opts {
		f(&o)
	}
	r, err := Load([]byte(src), o)
	if err != nil {
		t.Fatalf("Load: %v\nmanifest:\n%s", err, src)
	}
	for _, p := range r.Pods {
		if err := p.Validate(); err != nil {
			t.Fatalf("pod %q does not validate: %v", p.Metadata.Name, err)
		}
	}
	return r
}

// loadErr loads a manifest that must be refused, and returns its problems
// as "field: detail" lines.
func loadErr(t *testing.T, src string, opts ...func(*Options)) []string {
	t.Helper()
	o := testOptions()
	for _, f := range opts {
		f(&o)
	}
	r, err := Load([]byte(src), o)
	if err == nil {
		t.Fatalf("Load accepted it (%d pods), want an error\nmanifest:\n%s", len(r.Pods), src)
	}
	if !errors.Is(err, pod.ErrInvalid) {
		t.Fatalf("error %v does not match pod.ErrInvalid", err)
	}
	var list pod.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %T is not a pod.ErrorList", err)
	}
	var lines []string
	for _, e := range list {
		lines = append(lines, e.Error())
	}
	return lines
}

// hasLine reports whether one of lines starts with field+": " and
// contains detail.
func hasLine(lines []string, field, detail string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, field+": ") && strings.Contains(l[len(field)+2:], detail) {
			return true
		}
	}
	return false
}

// fields are the field paths of error lines.
func fields(lines []string) []string {
	var out []string
	for _, l := range lines {
		f, _, _ := strings.Cut(l, ": ")
		if strings.HasPrefix(l, "document ") {
			_, rest, _ := strings.Cut(l, ": ")
			g, _, _ := strings.Cut(rest, ": ")
			f = f + ": " + g
		}
		out = append(out, f)
	}
	return out
}

// podSpec is a Pod manifest with the given spec (flow style).
func podSpec(spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: p, tier: web}, annotations: {note: hello}}\nspec: " + spec + "\n"
}

// onePod loads a manifest of one pod.
func onePod(t *testing.T, src string, opts ...func(*Options)) *pod.Pod {
	t.Helper()
	r := load(t, src, opts...)
	if len(r.Pods) != 1 {
		t.Fatalf("%d pods, want 1", len(r.Pods))
	}
	return r.Pods[0]
}

func ptr[T any](v T) *T { return &v }

func ignoreUnsupported(o *Options) { o.IgnoreUnsupported = true }

package pod_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// FuzzLoad feeds pod.Load arbitrary files. The seeds are in
// testdata/fuzz/FuzzLoad (examples, the bad inputs of past bugs, deep
// nesting, aliases). For every input:
//
//   - Load does not panic and answers quickly;
//   - a refusal matches ErrInvalid and is made of field errors, each of a
//     bounded size, however large the file's values or aliases;
//   - an accepted pod is valid (Validate, again), keeps within the bounds
//     (grace period, quantities, ids, no NUL byte), and survives what the
//     daemon does with it: encoded as JSON and loaded again, it is the same.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(exampleYAML))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		p, err := pod.Load(data)
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("Load took %v", elapsed)
		}
		if err != nil {
			checkRefusal(t, p, err)
			return
		}
		if p == nil {
			t.Fatal("Load returned a nil pod and a nil error")
		}
		start = time.Now()
		if err := p.Validate(); err != nil {
			t.Fatalf("Load accepted a pod Validate refuses: %v", err)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("Validate took %v", elapsed)
		}
		checkBounds(t, p)
		// The daemon keeps spec.json and loads it again when it restarts:
		// that must give the same pod, or the pod would be lost.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		again, err := pod.Load(b)
		if err != nil {
			t.Fatalf("Load of its own JSON: %v\n%s", err, b)
		}
		b2, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("JSON round trip changed the pod:\n%s\n%s", b, b2)
		}
		// SetDefaults is idempotent.
		again.SetDefaults()
		if b3, _ := json.Marshal(again); !bytes.Equal(b, b3) {
			t.Fatalf("SetDefaults changed a loaded pod:\n%s\n%s", b, b3)
		}
	})
}

// checkRefusal checks the error of a refused file.
func checkRefusal(t *testing.T, p *pod.Pod, err error) {
	t.Helper()
	if p != nil {
		t.Errorf("Load returned a pod and an error: %v", err)
	}
	if !errors.Is(err, pod.ErrInvalid) {
		t.Fatalf("error does not match ErrInvalid: %v", err)
	}
	var list pod.ErrorList
	var fe *pod.FieldError
	switch {
	case errors.As(err, &list):
		if len(list) == 0 {
			t.Fatal("empty ErrorList")
		}
	case errors.As(err, &fe):
		list = pod.ErrorList{fe}
	default:
		t.Fatalf("error %T is neither an ErrorList nor a *FieldError", err)
	}
	for _, e := range list {
		// A quoted value is cut at 100 bytes, and \x escapes take 4 bytes.
		if e.Detail == "" || len(e.Detail) > 600 {
			t.Fatalf("field %.200q: detail of %d bytes: %.300q", e.Field, len(e.Detail), e.Detail)
		}
	}
}

// checkBounds checks what validation promises about an accepted pod.
func checkBounds(t *testing.T, p *pod.Pod) {
	t.Helper()
	s := p.Spec
	if g := s.TerminationGracePeriodSeconds; g == nil {
		t.Fatal("no grace period after defaults")
	} else if d, err := pod.GracePeriod(*g); err != nil || d < 0 {
		t.Fatalf("grace period %d accepted: %v, %v", *g, d, err)
	}
	if b := s.RestartBackoff; b.InitialDelay.Duration <= 0 || b.MaxDelay.Duration < b.InitialDelay.Duration || b.ResetAfter.Duration <= 0 {
		t.Fatalf("back-off accepted: %+v", b)
	}
	limits := []pod.Limits{s.Resources.Limits}
	for _, list := range [][]pod.Process{s.InitProcesses, s.Processes} {
		for _, pr := range list {
			limits = append(limits, pr.Resources.Limits)
			strs := append(pr.Argv(), pr.WorkingDir, pr.User, pr.Name)
			for _, e := range pr.Env {
				strs = append(strs, e.Name, e.Value)
			}
			for _, str := range strs {
				if strings.IndexByte(str, 0) >= 0 {
					t.Fatalf("process %q: NUL byte accepted in %q", pr.Name, str)
				}
			}
			for _, id := range strings.Split(pr.User, ":") {
				if n, err := strconv.ParseUint(id, 10, 64); strings.Trim(id, "0123456789") == "" && id != "" && (err != nil || n > pod.MaxID) {
					t.Fatalf("process %q: id %s accepted in user %q", pr.Name, id, pr.User)
				}
			}
			if _, ok := pod.ParseSignal(pr.StopSignal); !ok {
				t.Fatalf("stop signal %q accepted", pr.StopSignal)
			}
		}
	}
	for _, l := range limits {
		if l.CPU != nil && (len(l.CPU.String()) > pod.MaxQuantityLength || l.CPU.Milli() < 1 || l.CPU.Milli() > pod.MaxCPUMilli) {
			t.Fatalf("cpu %q accepted (%d millicores)", l.CPU, l.CPU.Milli())
		}
		if l.Memory != nil && (len(l.Memory.String()) > pod.MaxQuantityLength || l.Memory.Value() < 1<<20) {
			t.Fatalf("memory %q accepted", l.Memory)
		}
		if l.Pids != nil && *l.Pids < 1 {
			t.Fatalf("pids %d accepted", *l.Pids)
		}
	}
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

func TestErrorMapping(t *testing.T) {
	for _, c := range []struct {
		err    error
		code   string
		status int
	}{
		{fmt.Errorf("x: %w", pod.ErrNotFound), CodeNotFound, http.StatusNotFound},
		{fmt.Errorf("x: %w", pod.ErrAlreadyExists), CodeAlreadyExists, http.StatusConflict},
		{pod.ErrorList{{Field: "spec.processes", Detail: "required"}}, CodeInvalid, http.StatusBadRequest},
		{fmt.Errorf("x: %w", pod.ErrConflict), CodeConflict, http.StatusConflict},
		{errors.New("disk on fire"), CodeInternal, http.StatusInternalServerError},
	} {
		code, status := Classify(c.err)
		if code != c.code || status != c.status {
			t.Errorf("%v: %s %d, want %s %d", c.err, code, status, c.code, c.status)
		}
		// And back: the client's error matches the same class.
		back := &Error{Status: status, Code: code, Message: c.err.Error()}
		for _, class := range []error{pod.ErrNotFound, pod.ErrAlreadyExists, pod.ErrInvalid, pod.ErrConflict} {
			if errors.Is(back, class) != errors.Is(c.err, class) {
				t.Errorf("%v: errors.Is(%v) differs after the round trip", c.err, class)
			}
		}
	}
}

func TestStarted(t *testing.T) {
	t0 := time.Now()
	before, after := t0.Add(-time.Second), t0.Add(time.Second)
	st := func(phase pod.Phase, started ...*time.Time) *pod.Status {
		s := &pod.Status{Phase: phase, StartedAt: &t0}
		for _, at := range started {
			s.Processes = append(s.Processes, pod.ProcessStatus{StartedAt: at})
		}
		return s
	}
	cases := []struct {
		s    *pod.Status
		want bool
	}{
		{st(pod.PhasePending), false},
		{st(pod.PhaseInitializing, nil), false},
		{st(pod.PhaseRunning, &after, nil), false},
		{st(pod.PhaseRunning, &after, &before), false}, // a start of the previous run
		{st(pod.PhaseRunning, &after, &after), true},
		{st(pod.PhaseFailed, nil), true},
		{st(pod.PhaseSucceeded, &after), true},
	}
	for i, c := range cases {
		if got := Started(c.s); got != c.want {
			t.Errorf("case %d (%s): %v", i, c.s.Phase, got)
		}
	}
}

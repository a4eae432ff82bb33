package server

import (
	"errors"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

func TestSinceFilter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	old := pod.Event{Seq: 3, Time: now.Add(-time.Hour)}
	recent := pod.Event{Seq: 9, Time: now.Add(-time.Minute)}
	for _, tc := range []struct {
		since       string
		old, recent bool
	}{
		{"", true, true},
		{"0", true, true},
		{"3", false, true},
		{"9", false, false},
		{"10m", false, true},
		{"2h", true, true},
		{now.Add(-30 * time.Minute).Format(time.RFC3339Nano), false, true},
		{now.Add(-time.Hour).Format(time.RFC3339), true, true},
	} {
		keep, err := sinceFilter(tc.since, now)
		if err != nil {
			t.Fatalf("since %q: %v", tc.since, err)
		}
		if keep(old) != tc.old || keep(recent) != tc.recent {
			t.Errorf("since %q: keeps old %v recent %v, want %v %v", tc.since, keep(old), keep(recent), tc.old, tc.recent)
		}
	}
	for _, bad := range []string{"yesterday", "-5m", "1.5"} {
		if _, err := sinceFilter(bad, now); !errors.Is(err, pod.ErrInvalid) {
			t.Errorf("since %q: %v, want invalid", bad, err)
		}
	}
}

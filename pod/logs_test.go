package pod

import (
	"encoding/json"
	"testing"
	"time"
)

// TestLogEntryJSON: the shape of a log entry is the API's (docs/api.md,
// GET /v1/pods/{name}/logs).
func TestLogEntryJSON(t *testing.T) {
	at := time.Date(2025, 3, 4, 10, 15, 2, 135518203, time.UTC)
	for _, c := range []struct {
		e    LogEntry
		want string
	}{
		{LogEntry{Time: at, Process: "server", Stream: Stdout, Line: "listening"},
			`{"time":"2025-03-04T10:15:02.135518203Z","process":"server","stream":"stdout","line":"listening"}`},
		{LogEntry{Time: at, Process: "server", Stream: Stderr, Partial: true, Line: "x"},
			`{"time":"2025-03-04T10:15:02.135518203Z","process":"server","stream":"stderr","partial":true,"line":"x"}`},
	} {
		b, err := json.Marshal(c.e)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("got  %s\nwant %s", b, c.want)
		}
		var back LogEntry
		err = json.Unmarshal(b, &back)
		if back.Time.Equal(c.e.Time) {
			back.Time = c.e.Time
		}
		if err != nil || back != c.e {
			t.Errorf("round trip of %s: %+v, %v", b, back, err)
		}
	}
}

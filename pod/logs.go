package pod

import "time"

// Stream names a process's output stream.
type Stream string

// The output streams.
const (
	// Stdout is a process's standard output.
	Stdout Stream = "stdout"
	// Stderr is a process's standard error.
	Stderr Stream = "stderr"
)

// LogEntry is one logged line of a process, read back from its log file,
// as the daemon's log stream (GET /v1/pods/{name}/logs) carries it.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Process string    `json:"process"`
	Stream  Stream    `json:"stream"`
	// Partial: a piece of a line longer than 16 KiB; the line goes on in
	// the next entries of that process, up to one without Partial.
	Partial bool   `json:"partial,omitempty"`
	Line    string `json:"line"`
}

package main

import "testing"

func TestJournalField(t *testing.T) {
	for in, want := range map[string]string{"pod": "POD", "process": "PROCESS", "exitCode": "EXITCODE", "_x": "X", "9a": "A", "a-b": "A_B", "___": "FIELD"} {
		if got := journalField(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

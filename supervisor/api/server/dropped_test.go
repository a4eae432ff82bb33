package server

import (
	"encoding/json"
	"regexp"
	"testing"
)

// TestFollowerDroppedJSON: the last line of a log follow that fell behind
// is a log entry on stderr with an error field (docs/api.md).
func TestFollowerDroppedJSON(t *testing.T) {
	for process, want := range map[string]string{"": "podvisor", "web": "web"} {
		b, err := json.Marshal(followerDropped(process))
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`^\{"time":"[^"]+Z","process":"` + want + `","stream":"stderr","line":"podvisor: the follower fell more than 1 MiB of log lines behind and was dropped; follow again to go on","error":"the follower fell more than 1 MiB of log lines behind and was dropped"\}$`)
		if !re.Match(b) {
			t.Errorf("process %q: %s", process, b)
		}
	}
}

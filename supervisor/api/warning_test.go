package api

import (
	"net/http"
	"slices"
	"testing"
)

// Warning headers carry any text, one line each, and read back the same;
// several in one header (as a proxy may join them), dates and other codes
// are understood.
func TestWarningHeaders(t *testing.T) {
	texts := []string{
		`notice: skipped Service "web": podvisor runs pods only`,
		`warning: a \ backslash, "quotes" and ünïcödé …`,
		"",
	}
	h := http.Header{}
	for _, s := range texts {
		h.Add("Warning", WarningHeader(s))
	}
	if got := h.Values("Warning")[0]; got != `299 - "notice: skipped Service \"web\": podvisor runs pods only"` {
		t.Errorf("header: %s", got)
	}
	if got := ParseWarnings(h); !slices.Equal(got, texts) {
		t.Errorf("read back %q, want %q", got, texts)
	}
	if got := WarningHeader("two\nlines\x00"); got != `299 - "two lines "` {
		t.Errorf("control characters: %q", got)
	}
	h = http.Header{"Warning": {
		`299 - "one", 199 agent "other code", 299 podvisor "two" "Sat, 25 Aug 2012 23:34:45 GMT", 299 - "three"`,
		`299 - "unterminated`,
		`garbage`,
	}}
	if got, want := ParseWarnings(h), []string{"one", "two", "three"}; !slices.Equal(got, want) {
		t.Errorf("joined: %q, want %q", got, want)
	}
}

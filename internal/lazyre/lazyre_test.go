package lazyre

import (
	"strings"
	"testing"
)

func TestLazy(t *testing.T) {
	r := New(`^a(b+)$`)
	if r.re != nil {
		t.Fatal("compiled before its first use")
	}
	if !r.MatchString("abb") || r.MatchString("ac") {
		t.Error("MatchString")
	}
	if got := r.ReplaceAllString("abb", "x$1"); got != "xbb" {
		t.Errorf("ReplaceAllString: %q", got)
	}
	if got := r.ReplaceAllStringFunc("ab", strings.ToUpper); got != "AB" {
		t.Errorf("ReplaceAllStringFunc: %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a bad expression did not panic at its first use")
		}
	}()
	New(`(`).MatchString("x")
}

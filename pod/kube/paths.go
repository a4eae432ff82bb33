package kube

import (
	"strconv"
	"strings"

	"github.com/podvisor/podvisor/internal/lazyre"
)

// pathMap turns the field paths of a translated pod.Pod (those pod.Validate
// names) back into the manifest's.
type pathMap struct {
	rules []pathRule
}

type pathRule struct {
	from, to string
	// whole: the rest of the path is dropped (the pod's field has no
	// counterpart below to).
	whole bool
}

// add maps the pod path from, and what is below it, to the manifest path
// to; with to == "" a problem there is left out (it repeats one reported
// elsewhere).
func (m *pathMap) add(from, to string) { m.rules = append(m.rules, pathRule{from: from, to: to}) }

// addWhole maps from and everything below it to to.
func (m *pathMap) addWhole(from, to string) {
	m.rules = append(m.rules, pathRule{from: from, to: to, whole: true})
}

var (
	quotedKeyRE = lazyre.New(`\["((?:[^"\\]|\\.)*)"\]`)
	resourceRE  = lazyre.New(`\.(limits|requests)\.(cpu|memory|ephemeral-storage|pids)$`)
)

// apply maps a pod path; ok is false when the problem is to be left out.
func (m *pathMap) apply(p string) (string, bool) {
	best := -1
	for i, r := range m.rules {
		if under(p, r.from) && (best < 0 || len(r.from) > len(m.rules[best].from)) {
			best = i
		}
	}
	if best >= 0 {
		r := m.rules[best]
		switch {
		case r.to == "":
			return "", false
		case r.whole:
			p = r.to
		default:
			p = r.to + p[len(r.from):]
		}
	}
	p = quotedKeyRE.ReplaceAllStringFunc(p, func(s string) string {
		k, err := strconv.Unquote(s[1 : len(s)-1])
		if err != nil {
			return s
		}
		return "[" + k + "]"
	})
	p = resourceRE.ReplaceAllString(p, ".$1[$2]")
	return p, true
}

// under reports whether path p is prefix or below it.
func under(p, prefix string) bool {
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '.' || p[len(prefix)] == '['
}

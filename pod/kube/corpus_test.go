package kube

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A corpus file is a manifest as users write them, with its expected
// outcome in comment lines at its top (a .json file has them in
// FILE.expect):
//
//	# expect: pods N           accepted, with N pods
//	# expect: refused FIELD    refused, with a problem at FIELD; the problems
//	                           are at exactly the FIELDs listed
//	# expect: notice TEXT      a notice contains TEXT
//	# expect: warning TEXT     a warning contains TEXT
//	# option: ignore-unsupported
//	# option: configmap FILE   a --configmap file (relative to the corpus)
//	# option: secret FILE      a --secret file
type corpusCase struct {
	file     string
	data     []byte
	pods     int
	refused  []string
	notices  []string
	warnings []string
	opts     Options
}

const corpusDir = "testdata/corpus"

func readCorpus(t *testing.T) []corpusCase {
	t.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || ext != ".yaml" && ext != ".yml" && ext != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		header := data
		if ext == ".json" {
			if header, err = os.ReadFile(filepath.Join(corpusDir, name+".expect")); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		c := corpusCase{file: name, data: data, pods: -1, opts: testOptions()}
		for _, line := range strings.Split(string(header), "\n") {
			if !strings.HasPrefix(line, "#") {
				if ext == ".json" {
					continue
				}
				break
			}
			line = strings.TrimSpace(strings.TrimPrefix(line, "#"))
			kind, rest, _ := strings.Cut(line, ": ")
			verb, arg, _ := strings.Cut(rest, " ")
			switch {
			case kind == "expect" && verb == "pods":
				if c.pods, err = strconv.Atoi(arg); err != nil {
					t.Fatalf("%s: %q: %v", name, line, err)
				}
			case kind == "expect" && verb == "refused":
				c.refused = append(c.refused, arg)
			case kind == "expect" && verb == "notice":
				c.notices = append(c.notices, arg)
			case kind == "expect" && verb == "warning":
				c.warnings = append(c.warnings, arg)
			case kind == "option" && verb == "ignore-unsupported":
				c.opts.IgnoreUnsupported = true
			case kind == "option" && (verb == "configmap" || verb == "secret"):
				b, err := os.ReadFile(filepath.Join(corpusDir, arg))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if verb == "configmap" {
					c.opts.ConfigMaps = append(c.opts.ConfigMaps, b)
				} else {
					c.opts.Secrets = append(c.opts.Secrets, b)
				}
			case kind == "expect" || kind == "option":
				t.Fatalf("%s: bad header line %q", name, line)
			}
		}
		if (c.pods < 0) == (len(c.refused) == 0) {
			t.Fatalf("%s: the header must say either pods N or refused FIELD", name)
		}
		cases = append(cases, c)
	}
	if len(cases) < 40 {
		t.Fatalf("only %d corpus files", len(cases))
	}
	return cases
}

// TestCorpus loads every file of the corpus and checks its outcome.
func TestCorpus(t *testing.T) {
	for _, c := range readCorpus(t) {
		t.Run(c.file, func(t *testing.T) {
			r, err := Load(c.data, c.opts)
			if len(c.refused) > 0 {
				if err == nil {
					t.Fatalf("accepted (%d pods), want refused at %q", len(r.Pods), c.refused)
				}
				lines := strings.Split(err.Error(), "\n")
				got := fields(lines)
				sort.Strings(got)
				got = slices.Compact(got)
				want := slices.Clone(c.refused)
				sort.Strings(want)
				if !slices.Equal(got, want) {
					t.Errorf("problems at\n  %s\nwant\n  %s\nerror:\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(r.Pods) != c.pods {
				t.Errorf("%d pods, want %d", len(r.Pods), c.pods)
			}
			for _, p := range r.Pods {
				if err := p.Validate(); err != nil {
					t.Errorf("pod %q: %v", p.Metadata.Name, err)
				}
				if len(p.Kubernetes) == 0 && p.APIVersion == "" {
					t.Errorf("pod %q has no Kubernetes object", p.Metadata.Name)
				}
			}
			for _, n := range c.notices {
				if !slices.ContainsFunc(r.Notices, func(s string) bool { return strings.Contains(s, n) }) {
					t.Errorf("no notice with %q in\n%s", n, strings.Join(r.Notices, "\n"))
				}
			}
			for _, w := range c.warnings {
				if !slices.ContainsFunc(r.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("no warning with %q in\n%s", w, strings.Join(r.Warnings, "\n"))
				}
			}
			for _, line := range append(slices.Clone(r.Notices), r.Warnings...) {
				if nestedParens(line) {
					t.Errorf("nested parentheses: %s", line)
				}
			}
			if !c.opts.IgnoreUnsupported && len(r.Warnings) > 0 {
				t.Errorf("warnings without ignore-unsupported: %q", r.Warnings)
			}
		})
	}
}

// nestedParens reports whether s has parentheses within parentheses, as
// "has no effect (a (b))" would.
func nestedParens(s string) bool {
	depth := 0
	for _, r := range s {
		switch r {
		case '(':
			depth++
			if depth > 1 {
				return true
			}
		case ')':
			depth--
		}
	}
	return false
}

// TestCorpusCoversTable: every row of the field table is set by at least
// one file of the corpus.
func TestCorpusCoversTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range readCorpus(t) {
		c.opts.seen = seen
		Load(c.data, c.opts)
	}
	var missing []string
	for _, f := range Fields() {
		if !seen[f.Path] {
			missing = append(missing, f.Path)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d rows of the field table are set by no corpus file:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

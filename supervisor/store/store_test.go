package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReadJSON(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	type S struct{ A int }
	if err := WriteJSON(p, S{A: 1}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(p, S{A: 2}); err != nil {
		t.Fatal(err)
	}
	var got S
	if err := ReadJSON(p, &got); err != nil || got.A != 2 {
		t.Fatalf("got %+v, %v", got, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestCorruptAndQuarantine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	os.WriteFile(p, []byte(`{"A": 1`), 0o600) // torn
	var v struct{ A int }
	err := ReadJSON(p, &v)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("torn file: %v", err)
	}
	if err := ReadJSON(filepath.Join(dir, "missing.json"), &v); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	q, err := Quarantine(p, filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("original still there")
	}
	if b, _ := os.ReadFile(q); string(b) != `{"A": 1` {
		t.Errorf("quarantined content %q", b)
	}
}

func TestCleanTemp(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".state.json.tmp-123"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "state.json"), nil, 0o600)
	CleanTemp(dir)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "state.json" {
		t.Errorf("left %v", entries)
	}
}

func TestPruneQuarantine(t *testing.T) {
	q := filepath.Join(t.TempDir(), "quarantine")
	if removed, err := PruneQuarantine(q, QuarantineKeep); err != nil || removed != nil {
		t.Fatalf("missing directory: %v %v", removed, err)
	}
	src := t.TempDir()
	var made []string
	for i := range 13 {
		p := filepath.Join(src, "state.json")
		os.WriteFile(p, []byte{byte(i)}, 0o600)
		if i == 5 {
			// A directory (a whole pod) is quarantined as well.
			p = filepath.Join(src, "pod")
			os.MkdirAll(filepath.Join(p, "logs"), 0o700)
		}
		dst, err := QuarantineAs(p, q, "pod"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, dst)
	}
	os.WriteFile(filepath.Join(q, "README"), nil, 0o600) // not an entry
	removed, err := PruneQuarantine(q, QuarantineKeep)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 || removed[0] != made[0] || removed[2] != made[2] {
		t.Errorf("removed %v, want the 3 oldest of %v", removed, made)
	}
	entries, _ := os.ReadDir(q)
	if len(entries) != QuarantineKeep+1 {
		t.Errorf("left %d entries: %v", len(entries), entries)
	}
	for _, p := range made[3:] {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("newer entry removed: %v", err)
		}
	}
	if again, err := PruneQuarantine(q, QuarantineKeep); err != nil || len(again) != 0 {
		t.Errorf("second prune: %v %v", again, err)
	}
}

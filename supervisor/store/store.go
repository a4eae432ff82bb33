// Package store writes podvisor's state files atomically and reads them
// back, quarantining files it cannot read rather than failing on them.
//
// A write goes to a temporary file in the same directory, is fsynced,
// renamed over the old file, and the directory is fsynced, so a crash at
// any moment leaves either the old or the new content, never a torn file.
// It knows nothing of pods: it moves bytes and JSON.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrCorrupt marks a state file that exists but cannot be decoded.
var ErrCorrupt = errors.New("corrupt state file")

// WriteFile replaces path with data atomically and durably.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteJSON encodes v and writes it atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'), 0o600)
}

// ReadJSON decodes path into v. A file that does not decode gives an error
// matching ErrCorrupt; a missing file one matching os.ErrNotExist.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	return nil
}

// QuarantineKeep is how many entries a quarantine directory keeps: the
// newest; PruneQuarantine removes older ones.
const QuarantineKeep = 10

// quarantineTime is the time suffix of a quarantined entry's name.
const quarantineTime = "20060102T150405.000000000"

// Quarantine moves path (a file or a directory) into quarantineDir under a
// name that keeps the original and the time, and returns the new path.
func Quarantine(path, quarantineDir string) (string, error) {
	return QuarantineAs(path, quarantineDir, filepath.Base(path))
}

// QuarantineAs is Quarantine under the name "<name>.<time>" (UTC, to the
// nanosecond). The directory is made 0700 if missing.
func QuarantineAs(path, quarantineDir, name string) (string, error) {
	if err := os.MkdirAll(quarantineDir, 0o700); err != nil {
		return "", err
	}
	dst := filepath.Join(quarantineDir, name+"."+time.Now().UTC().Format(quarantineTime))
	if err := os.Rename(path, dst); err != nil {
		return "", err
	}
	return dst, syncDir(filepath.Dir(path))
}

// PruneQuarantine removes the entries of quarantineDir beyond the newest
// keep, by the time in their names, and returns the paths it removed.
// Entries whose names do not end in a quarantine time are left alone. A
// missing directory is not an error.
func PruneQuarantine(quarantineDir string, keep int) ([]string, error) {
	entries, err := os.ReadDir(quarantineDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	type entry struct {
		name string
		at   time.Time
	}
	var dated []entry
	for _, e := range entries {
		n := e.Name()
		if len(n) <= len(quarantineTime)+1 || n[len(n)-len(quarantineTime)-1] != '.' {
			continue
		}
		at, err := time.Parse(quarantineTime, n[len(n)-len(quarantineTime):])
		if err != nil {
			continue
		}
		dated = append(dated, entry{n, at})
	}
	if len(dated) <= keep {
		return nil, nil
	}
	slices.SortFunc(dated, func(a, b entry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var removed []string
	var errs []error
	for _, e := range dated[:len(dated)-max(keep, 0)] {
		p := filepath.Join(quarantineDir, e.name)
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

// CleanTemp removes temporary files a crash left in dir.
func CleanTemp(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

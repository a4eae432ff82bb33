package mounts

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// mountEntry is one line of /proc/<pid>/mountinfo.
type mountEntry struct {
	id, parent int
	dev        string // major:minor
	root       string // path of the mount's root in its filesystem
	point      string // mount point, relative to the reader's root
	optional   []string
}

func (m mountEntry) shared() bool {
	for _, o := range m.optional {
		if strings.HasPrefix(o, "shared:") {
			return true
		}
	}
	return false
}

// readMountInfo parses the calling thread's mountinfo, by mount ID.
func readMountInfo() (map[int]mountEntry, error) {
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountInfo(b)
}

func parseMountInfo(b []byte) (map[int]mountEntry, error) {
	out := make(map[int]mountEntry)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			return nil, fmt.Errorf("bad mountinfo line %q", sc.Text())
		}
		var m mountEntry
		var err1, err2 error
		m.id, err1 = strconv.Atoi(f[0])
		m.parent, err2 = strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad mountinfo line %q", sc.Text())
		}
		m.dev = f[2]
		m.root = unescape(f[3])
		m.point = unescape(f[4])
		for _, o := range f[6:] {
			if o == "-" {
				break
			}
			m.optional = append(m.optional, o)
		}
		out[m.id] = m
	}
	return out, sc.Err()
}

// unescape undoes the octal escapes (\040 for a space) of mountinfo paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

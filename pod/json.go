package pod

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MarshalJSON encodes the pod as encoding/json does, except that every
// character YAML does not allow as such in a file (DEL, the C1 controls,
// U+FEFF, U+FFFE, U+FFFF) is written as a \u escape. Load reads JSON as
// YAML, so the pod file this gives loads again to the same pod: the daemon
// relies on it for the spec.json it keeps, and for copies. A text field can
// hold such characters, written as escapes in a pod file ("\x80").
func (p Pod) MarshalJSON() ([]byte, error) {
	type plain Pod // the same fields, without this method
	b, err := json.Marshal(plain(p))
	if err != nil {
		return nil, err
	}
	return escapeForYAML(b), nil
}

// escapeForYAML rewrites the characters outside YAML's printable set that
// encoding/json leaves as they are. They can only be inside JSON strings,
// where a \u escape means the same.
func escapeForYAML(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfeff || r == 0xfffe || r == 0xffff {
			out = append(out, b[last:i]...)
			out = fmt.Appendf(out, `\u%04x`, r)
			last = i + size
		}
		i += size
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

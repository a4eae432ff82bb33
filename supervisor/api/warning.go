package api

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// WarningCode is the code of the Warning headers the daemon sends
// ("miscellaneous persistent warning", as the Kubernetes API server's).
const WarningCode = "299"

// WarningHeader is the value of a Warning header carrying text, as the
// Kubernetes API server writes it: 299 - "text", with backslashes and
// double quotes escaped. Control characters become spaces and bytes that
// are not UTF-8 are dropped, so that the value is one valid header line.
func WarningHeader(text string) string {
	text = strings.ToValidUTF8(text, "")
	var b strings.Builder
	b.Grow(len(text) + 10)
	b.WriteString(WarningCode + ` - "`)
	for _, r := range text {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ParseWarnings returns the texts of the 299 warnings of a response's
// Warning headers, in order. A header may hold several warnings separated
// by commas; a malformed one ends the reading of its header.
func ParseWarnings(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Warning") {
		out = append(out, parseWarningValue(v)...)
	}
	return out
}

// parseWarningValue reads warning-value *( "," warning-value ), where a
// warning-value is warn-code SP warn-agent SP warn-text [ SP warn-date ]
// (RFC 7234, 5.5).
func parseWarningValue(v string) []string {
	var out []string
	for {
		v = strings.TrimLeft(v, " \t")
		if v == "" {
			return out
		}
		code, rest, ok := strings.Cut(v, " ")
		if !ok {
			return out
		}
		_, rest, ok = strings.Cut(strings.TrimLeft(rest, " \t"), " ")
		if !ok {
			return out
		}
		text, rest, ok := unquote(strings.TrimLeft(rest, " \t"))
		if !ok {
			return out
		}
		if code == WarningCode {
			out = append(out, text)
		}
		rest = strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(rest, `"`) { // a warn-date
			if _, rest, ok = unquote(rest); !ok {
				return out
			}
			rest = strings.TrimLeft(rest, " \t")
		}
		if !strings.HasPrefix(rest, ",") {
			return out
		}
		v = rest[1:]
	}
}

// unquote reads a quoted-string at the start of s: its text, unescaped,
// and what follows it.
func unquote(s string) (string, string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return "", s, false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			t := b.String()
			if !utf8.ValidString(t) {
				t = strings.ToValidUTF8(t, "")
			}
			return t, s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", s, false
}

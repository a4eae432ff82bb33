package kube

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podvisor/podvisor/pod"
)

// Bounds on the work of decoding one document, aliases expanded, so that a
// small file of nested aliases cannot make decoding explode.
const (
	maxNodes = 1_000_000
	maxText  = 64 << 20
)

// hit is a field of the table set in a document, not honoured: a notice, a
// warning or a refusal once the translator knows whose it is.
type hit struct {
	path  string // in the document
	field *Field
	value string // the value, for a scalar; "" otherwise
	// dropped is the value left out with Options.IgnoreUnsupported.
	dropped any
}

// decoder decodes one document strictly into a Kubernetes type.
type decoder struct {
	errs pod.ErrorList
	hits []hit
	// raw collects List items (runtime.RawExtension): their nodes and
	// paths, read as documents of their own.
	raw []rawItem
	// ignore drops refused fields (Options.IgnoreUnsupported); their hits
	// are still recorded, to become warnings.
	ignore bool
	// seen, when not nil, collects the table path of every field met
	// (for the corpus test).
	seen         map[string]bool
	nodes, texts int
	tooBig       bool
}

type rawItem struct {
	node *yaml.Node
	path string
}

func (d *decoder) add(path string, n *yaml.Node, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	if n != nil && n.Line > 0 {
		detail += fmt.Sprintf(" (line %d)", n.Line)
	}
	d.errs = append(d.errs, &pod.FieldError{Field: path, Detail: detail})
}

// budget counts a node; false once the document is too large.
func (d *decoder) budget(n *yaml.Node, path string) bool {
	if d.tooBig {
		return false
	}
	d.nodes++
	d.texts += len(n.Value)
	if d.nodes > maxNodes || d.texts > maxText {
		d.tooBig = true
		d.add(path, nil, "document too complex: more than %d values or %d MiB of text once aliases are expanded", maxNodes, maxText>>20)
		return false
	}
	return true
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// pair is one key and value of a mapping.
type pair struct{ key, value *yaml.Node }

// pairs lists a mapping's keys and values, merge keys (<<) expanded: a key
// of the mapping itself wins over a merged one, and an earlier merged
// mapping over a later one.
func pairs(n *yaml.Node) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			v = resolve(v)
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				if s = resolve(s); s.Kind == yaml.MappingNode {
					merged = append(merged, pairs(s)...)
				}
			}
			continue
		}
		own = append(own, pair{k, v})
	}
	if merged == nil {
		return own
	}
	have := map[string]bool{}
	for _, p := range own {
		have[p.key.Value] = true
	}
	for _, p := range merged {
		if !have[p.key.Value] {
			have[p.key.Value] = true
			own = append(own, p)
		}
	}
	return own
}

// describe names a YAML value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	}
	return strconv.Quote(n.Value)
}

// decode fills v from n. path is the field's path in the document and
// canon its path in the field table; quiet is set under a row that is not
// honoured, whose subtree is decoded (so that typos are still caught) but
// draws no hit of its own.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path, canon string, quiet bool) {
	n = resolve(n)
	if !d.budget(n, path) {
		return
	}
	if isNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Kind() == reflect.Pointer {
		nv := reflect.New(v.Type().Elem())
		d.decode(n, nv.Elem(), path, canon, quiet)
		v.Set(nv)
		return
	}
	switch v.Type() {
	case quantityType:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" {
			d.add(path, n, "must be a quantity such as 500m or 128Mi, got %s", describe(n))
			return
		}
		q, err := resource.ParseQuantity(n.Value)
		if err != nil {
			d.add(path, n, "invalid quantity %q", n.Value)
			return
		}
		v.Set(reflect.ValueOf(q))
		return
	case intOrStringType:
		switch {
		case n.Kind == yaml.ScalarNode && n.Tag == "!!int":
			if i, ok := d.integer(n, path, math.MinInt32, math.MaxInt32); ok {
				v.Set(reflect.ValueOf(intstr.FromInt32(int32(i))))
			}
		case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
			v.Set(reflect.ValueOf(intstr.FromString(n.Value)))
		default:
			d.add(path, n, "must be a number or a name, got %s", describe(n))
		}
		return
	case timeType, microTimeType:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" && n.Tag != "!!timestamp" {
			d.add(path, n, "must be a time (RFC 3339), got %s", describe(n))
			return
		}
		b, _ := json.Marshal(n.Value)
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
			d.add(path, n, "invalid time %q: must be RFC 3339, such as 2025-01-02T15:04:05Z", n.Value)
		}
		return
	case rawType:
		d.raw = append(d.raw, rawItem{n, path})
		return
	case bytesType:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.add(path, n, "must be a base64 string, got %s", describe(n))
			return
		}
		b, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, n.Value))
		if err != nil {
			d.add(path, n, "invalid base64 data: %v", err)
			return
		}
		v.SetBytes(b)
		return
	}
	if reflect.PointerTo(v.Type()).Implements(jsonUnmarshaler) {
		// Another type that reads its own JSON (metav1.FieldsV1).
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(nodeJSON(n)); err != nil {
			d.add(path, n, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path, canon, quiet)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(path, n, "must be a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), canon+"[]", quiet)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.add(path, n, "must be a mapping, got %s", describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for _, p := range d.keys(n, path) {
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(p.value, ev, path+"["+p.key.Value+"]", canon, quiet)
			m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" && n.Tag != "!!timestamp" && n.Tag != "!!binary" {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(" (quote it: %q)", n.Value)
			}
			d.add(path, n, "must be a string, got %s%s", describe(n), hint)
			return
		}
		v.SetString(n.Value)
	case reflect.Int64, reflect.Int:
		if i, ok := d.integer(n, path, math.MinInt64, math.MaxInt64); ok {
			v.SetInt(i)
		}
	case reflect.Int32:
		if i, ok := d.integer(n, path, math.MinInt32, math.MaxInt32); ok {
			v.SetInt(i)
		}
	case reflect.Bool:
		b, ok := parseBool(n)
		if !ok {
			d.add(path, n, "must be true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Float64, reflect.Float32:
		var f float64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" && n.Tag != "!!float" || n.Decode(&f) != nil {
			d.add(path, n, "must be a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		d.add(path, n, "cannot decode a value of type %s", v.Type())
	}
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// nodeJSON writes a YAML value as JSON: scalars by their tag, mappings
// with their keys as strings.
func nodeJSON(n *yaml.Node) []byte {
	var out []byte
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n = resolve(n)
		switch n.Kind {
		case yaml.MappingNode:
			out = append(out, '{')
			for i, p := range pairs(n) {
				if i > 0 {
					out = append(out, ',')
				}
				k, _ := json.Marshal(resolve(p.key).Value)
				out = append(append(out, k...), ':')
				walk(p.value)
			}
			out = append(out, '}')
		case yaml.SequenceNode:
			out = append(out, '[')
			for i, c := range n.Content {
				if i > 0 {
					out = append(out, ',')
				}
				walk(c)
			}
			out = append(out, ']')
		default:
			var v any
			switch n.Tag {
			case "!!null":
				v = nil
			case "!!bool", "!!int", "!!float":
				if err := n.Decode(&v); err != nil {
					v = n.Value
				}
			default:
				v = n.Value
			}
			b, err := json.Marshal(v)
			if err != nil {
				b, _ = json.Marshal(n.Value)
			}
			out = append(out, b...)
		}
	}
	walk(n)
	return out
}

func dropSpace(r rune) rune {
	if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
		return -1
	}
	return r
}

// parseBool takes YAML booleans, and the YAML 1.1 forms (yes, on, ...)
// that kubectl's YAML reader takes too.
func parseBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	if n.Tag == "!!bool" {
		var b bool
		return b, n.Decode(&b) == nil
	}
	if n.Tag != "!!str" || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
		return false, false
	}
	switch n.Value {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// integer reads a YAML integer between lo and hi.
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	var i int64
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!int" && n.Decode(&i) == nil && i >= lo && i <= hi:
		return i, true
	case n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float" && isDecimalInt(n.Value)):
		d.add(path, n, "must be an integer between %d and %d, got %s", lo, hi, n.Value)
	default:
		d.add(path, n, "must be an integer, got %s", describe(n))
	}
	return 0, false
}

func isDecimalInt(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// keys lists a mapping's pairs, reporting a duplicate key (and dropping
// it).
func (d *decoder) keys(n *yaml.Node, path string) []pair {
	ps := pairs(n)
	seen := make(map[string]bool, len(ps))
	out := ps[:0:0]
	for _, p := range ps {
		k := resolve(p.key)
		if k.Kind != yaml.ScalarNode {
			d.add(path, k, "a key must be a string, got %s", describe(k))
			continue
		}
		if seen[k.Value] {
			d.add(join(path, k.Value), k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{k, p.value})
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path, canon string, quiet bool) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n, "must be a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	if root, ok := canonRoots[t]; ok {
		canon = root
	}
	si := fieldsOf(t)
	for _, p := range d.keys(n, path) {
		key := p.key.Value
		fp := join(path, key)
		f, ok := si.byName[key]
		if !ok {
			d.add(fp, p.key, "unknown field %q%s", key, suggest(key, si))
			continue
		}
		fv := v.FieldByIndex(f.index)
		fc := childCanon(canon, f)
		if d.seen != nil && !isNull(resolve(p.value)) {
			d.seen[fc] = true
		}
		row := table()[fc]
		if quiet || row != nil && row.Disposition == Honoured {
			d.decode(p.value, fv, fp, fc, quiet)
			continue
		}
		if row == nil {
			// The table test keeps this from happening: a field of a newer
			// API that the table does not know is refused, never dropped.
			row = &Field{Path: fc, Disposition: Refused, Note: "not known to podvisor"}
		}
		d.decode(p.value, fv, fp, fc, true)
		if !isSet(fv) || row.Default != "" && asJSON(fv) == row.Default {
			continue
		}
		h := hit{path: fp, field: row, value: scalarText(fv)}
		if row.Disposition == Refused && d.ignore {
			h.dropped = reflect.ValueOf(fv.Interface()).Interface()
			fv.Set(reflect.Zero(fv.Type()))
		}
		d.hits = append(d.hits, h)
	}
}

// isSet reports whether v holds more than the zero value: a pointer to an
// empty struct ({}) or an empty list or map counts as unset, a pointer to
// false or 0 as set.
func isSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return false
		}
		if e := v.Elem(); e.Kind() == reflect.Struct {
			return isSet(e)
		}
		return true
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	case reflect.Struct:
		switch v.Type() {
		case quantityType, intOrStringType, timeType, microTimeType:
			return !v.IsZero()
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && isSet(v.Field(i)) {
				return true
			}
		}
		return false
	}
	return !v.IsZero()
}

// asJSON is v's JSON text, pointers followed.
func asJSON(v reflect.Value) string {
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return ""
	}
	return string(b)
}

// scalarText is v's value for a notice when it is a scalar, else "".
func scalarText(v reflect.Value) string {
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64:
		return fmt.Sprint(v.Interface())
	}
	return ""
}

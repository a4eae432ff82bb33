package pod

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Decode parses a pod file (YAML, or JSON, which is YAML too) strictly: an
// unknown field, a duplicate key or a value of the wrong type is an error
// naming the field path. It does not apply defaults or validate; Load does.
func Decode(data []byte) (*Pod, error) {
	p, errs, err := decode(data)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// decode parses one document and decodes what it can: the problems found
// come back in errs; err is for a file that is not YAML at all.
func decode(data []byte) (*Pod, ErrorList, error) {
	root, err := parseDoc(data)
	if err != nil {
		return nil, nil, err
	}
	var p Pod
	var errs ErrorList
	decodeNode(root, reflect.ValueOf(&p).Elem(), "", &errs)
	return &p, errs, nil
}

// Load decodes a pod file, applies the defaults and validates it. Every
// problem is reported at once: those of decoding (unknown fields, wrong
// types), then those of validation on what could be decoded, leaving out a
// field already reported.
func Load(data []byte) (*Pod, error) {
	p, errs, err := decode(data)
	if err != nil {
		return nil, err
	}
	hostnameSet := p.Spec.Hostname != ""
	p.SetDefaults()
	if verr := p.Validate(); verr != nil {
		// A defaulted hostname repeats metadata.name's problem: say it once.
		reported := map[string]bool{"spec.hostname": !hostnameSet}
		for _, e := range errs {
			reported[e.Field] = true
		}
		for _, e := range verr.(ErrorList) {
			if !reported[e.Field] {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// maxNodes and maxText bound the work of decoding and validating one file,
// aliases expanded, so that a small file of nested aliases, or of aliases
// to a long text, cannot make decoding explode.
const (
	maxNodes = 100000
	maxText  = 4 << 20
)

// maxSyntaxError bounds a YAML syntax error's text: the parser quotes the
// text it stumbled on, which may be a long run of the file.
const maxSyntaxError = 300

// cut shortens s to at most n bytes, at a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// parseDoc parses exactly one YAML document.
func parseDoc(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, &FieldError{Detail: "empty pod file"}
		}
		// "yaml: line 2: ...": the file's syntax, said to be YAML's.
		return nil, &FieldError{Detail: cut("yaml: "+strings.TrimPrefix(err.Error(), "yaml: "), maxSyntaxError)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, &FieldError{Detail: "a pod file holds exactly one YAML document"}
	}
	if len(doc.Content) == 0 {
		return nil, &FieldError{Detail: "empty pod file"}
	}
	var size expansion
	size.walk(doc.Content[0])
	switch {
	case size.cycle != "":
		return nil, &FieldError{Detail: fmt.Sprintf("anchor %s: its value contains an alias to itself", quote(size.cycle))}
	case size.nodes > maxNodes:
		return nil, &FieldError{Detail: fmt.Sprintf("pod file too complex: more than %d values once aliases are expanded", maxNodes)}
	case size.text > maxText:
		return nil, &FieldError{Detail: fmt.Sprintf("pod file too complex: more than %d MiB of text once aliases are expanded", maxText>>20)}
	}
	return doc.Content[0], nil
}

// expansion is the size of a document once aliases are expanded: its
// nodes and the bytes of its scalars. walk stops once either is over its
// bound, or at an alias inside the value of its own anchor (a cycle).
type expansion struct {
	nodes, text int
	cycle       string              // the anchor of the first cycle found
	open        map[*yaml.Node]bool // the anchored values being walked
}

func (e *expansion) walk(n *yaml.Node) {
	if e.nodes > maxNodes || e.text > maxText || e.cycle != "" {
		return
	}
	e.nodes++
	if n.Kind == yaml.AliasNode {
		switch {
		case n.Alias == nil:
		case e.open[n.Alias]:
			e.cycle = n.Alias.Anchor
		default:
			e.walk(n.Alias)
		}
		return
	}
	e.text += len(n.Value)
	if n.Anchor != "" && len(n.Content) > 0 {
		if e.open == nil {
			e.open = map[*yaml.Node]bool{}
		}
		e.open[n] = true
		defer delete(e.open, n)
	}
	for _, c := range n.Content {
		e.walk(c)
	}
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	intOrStringType = reflect.TypeFor[IntOrString]()
)

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// decodeNode fills v from n, appending problems to errs.
func decodeNode(n *yaml.Node, v reflect.Value, path string, errs *ErrorList) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Kind() == reflect.Pointer {
		nv := reflect.New(v.Type().Elem())
		decodeNode(n, nv.Elem(), path, errs)
		v.Set(nv)
		return
	}
	if v.Type() == intOrStringType && n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		// A YAML integer (8080, 0x1F90) is a port number, range-checked as
		// an int32 field is; anything else is a name (or a quoted number).
		if i, ok := decodeInt(n, path, math.MinInt32, math.MaxInt32, errs); ok {
			v.Set(reflect.ValueOf(IntOrString{IntVal: int32(i)}))
		}
		return
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			errs.add(path, "must be a scalar value")
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			errs.add(path, "%s", err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		decodeStruct(n, v, path, errs)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			// Bytes are base64, as in encoding/json and Kubernetes.
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
			if n.Kind != yaml.ScalarNode || err != nil {
				errs.add(path, "must be base64-encoded data")
				return
			}
			v.SetBytes(b)
			return
		}
		if n.Kind != yaml.SequenceNode {
			errs.add(path, "must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			decodeNode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), errs)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			errs.add(path, "must be a mapping")
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			kp := fmt.Sprintf("%s[%q]", path, k)
			if seen[k] {
				errs.add(kp, "duplicate key %s", quote(k))
				continue
			}
			seen[k] = true
			ev := reflect.New(v.Type().Elem()).Elem()
			decodeNode(n.Content[i+1], ev, kp, errs)
			m.SetMapIndex(reflect.ValueOf(k), ev)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			errs.add(path, "must be a string")
			return
		}
		v.SetString(n.Value)
	case reflect.Int64, reflect.Int:
		if i, ok := decodeInt(n, path, math.MinInt64, math.MaxInt64, errs); ok {
			v.SetInt(i)
		}
	case reflect.Int32:
		if i, ok := decodeInt(n, path, math.MinInt32, math.MaxInt32, errs); ok {
			v.SetInt(i)
		}
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			errs.add(path, "must be true or false, got %s", quote(n.Value))
			return
		}
		v.SetBool(b)
	default:
		errs.add(path, "cannot decode into %s", v.Type())
	}
}

// decodeInt reads a YAML integer between lo and hi, reporting anything
// else as a problem of path.
func decodeInt(n *yaml.Node, path string, lo, hi int64, errs *ErrorList) (int64, bool) {
	full := lo == math.MinInt64 && hi == math.MaxInt64
	var i int64
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!int" && n.Decode(&i) == nil && i >= lo && i <= hi:
		return i, true
	case !full && (n.Tag == "!!int" || n.Kind == yaml.ScalarNode && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 && isDecimalInt(n.Value)):
		// An integer out of range; YAML resolves one past 64 bits as a
		// float, so a plain decimal integer is taken for one too.
		errs.add(path, "must be an integer between %d and %d, got %s", lo, hi, quote(n.Value))
	default:
		errs.add(path, "must be an integer, got %s", quote(n.Value))
	}
	return 0, false
}

// isDecimalInt reports whether s is a decimal integer with an optional
// sign.
func isDecimalInt(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && strings.Trim(s, "0123456789") == ""
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func decodeStruct(n *yaml.Node, v reflect.Value, path string, errs *ErrorList) {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			errs.add(path, "a pod file must be a mapping")
		} else {
			errs.add(path, "must be a mapping")
		}
		return
	}
	fields := map[string]int{}
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		fp := join(path, key)
		idx, ok := fields[key]
		switch {
		case ok && t.Field(idx).Type == rawMessageType:
			errs.add(fp, "set by podvisor: not allowed in a pod file")
		case !ok:
			errs.add(fp, "unknown field %s", quote(key))
		case seen[key]:
			errs.add(fp, "duplicate key %s", quote(key))
		default:
			seen[key] = true
			decodeNode(n.Content[i+1], v.Field(idx), fp, errs)
		}
	}
}

// DecodeStored decodes a pod as podvisor itself writes it (its state file,
// a copy): as Decode, but the fields podvisor sets, which a pod file may
// not (Kubernetes), are kept. The data must be JSON.
func DecodeStored(data []byte) (*Pod, error) {
	rest, kubernetes, err := splitStored(data)
	if err != nil {
		return nil, err
	}
	p, err := Decode(rest)
	if err != nil {
		return nil, err
	}
	p.Kubernetes = kubernetes
	return p, nil
}

// LoadStored is Load for a pod as podvisor writes it (see DecodeStored).
func LoadStored(data []byte) (*Pod, error) {
	rest, kubernetes, err := splitStored(data)
	if err != nil {
		return nil, err
	}
	p, err := Load(rest)
	if err != nil {
		return nil, err
	}
	p.Kubernetes = kubernetes
	return p, nil
}

// splitStored takes the fields podvisor sets out of a stored pod.
func splitStored(data []byte) (rest []byte, kubernetes json.RawMessage, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, fmt.Errorf("stored pod: %w", err)
	}
	kubernetes, ok := top["kubernetes"]
	if !ok {
		return data, nil, nil
	}
	delete(top, "kubernetes")
	rest, err = json.Marshal(top)
	return rest, kubernetes, err
}

package kube

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/internal/lazyre"
)

// dataObject is a ConfigMap or a Secret: the data of env and volumes.
type dataObject struct {
	kind      string // "ConfigMap" or "Secret"
	name      string
	namespace string // "" serves every namespace
	// data holds every key: a ConfigMap's data and binaryData, a Secret's
	// data and stringData.
	data map[string][]byte
	// text holds the keys env may use: a ConfigMap's data (kubelet reads
	// no binaryData into env), every key of a Secret.
	text map[string]string
}

// keys are the object's keys, sorted.
func (o *dataObject) keys() []string {
	ks := make([]string, 0, len(o.data))
	for k := range o.data {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// textKeys are the keys env may use, sorted.
func (o *dataObject) textKeys() []string {
	ks := make([]string, 0, len(o.text))
	for k := range o.text {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// dataStore holds the ConfigMaps and Secrets of a Load, by kind, namespace
// and name.
type dataStore struct {
	objs map[string]*dataObject
}

func newDataStore() *dataStore { return &dataStore{objs: map[string]*dataObject{}} }

func dataKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

var configKeyRE = lazyre.New(`^[-._a-zA-Z0-9]+$`)

// checkKey reports a bad ConfigMap or Secret key, as Kubernetes checks it.
func checkKey(d *docErrs, path, key string) bool {
	switch {
	case len(key) > 253:
		d.add(path, "invalid key: must be at most 253 characters")
	case !configKeyRE.MatchString(key):
		d.add(path, "invalid key %q: must consist of letters, digits, '-', '_' or '.'", key)
	case key == "." || key == "..":
		d.add(path, "invalid key %q", key)
	default:
		return true
	}
	return false
}

// add checks a decoded ConfigMap or Secret and keeps it.
func (s *dataStore) add(obj *object) {
	d := obj.where
	o := &dataObject{kind: obj.kind, data: map[string][]byte{}, text: map[string]string{}}
	switch v := obj.value.(type) {
	case *corev1.ConfigMap:
		o.name, o.namespace = v.Name, v.Namespace
		for k, val := range v.Data {
			if checkKey(d, fmt.Sprintf("%s[%s]", join(obj.prefix, "data"), k), k) {
				o.data[k], o.text[k] = []byte(val), val
			}
		}
		for k, val := range v.BinaryData {
			p := fmt.Sprintf("%s[%s]", join(obj.prefix, "binaryData"), k)
			if _, dup := v.Data[k]; dup {
				d.add(p, "duplicate of data[%s]: a key is in data or binaryData, not both", k)
			} else if checkKey(d, p, k) {
				o.data[k] = val
			}
		}
	case *corev1.Secret:
		o.name, o.namespace = v.Name, v.Namespace
		for k, val := range v.Data {
			if checkKey(d, fmt.Sprintf("%s[%s]", join(obj.prefix, "data"), k), k) {
				o.data[k], o.text[k] = val, string(val)
			}
		}
		for k, val := range v.StringData {
			if checkKey(d, fmt.Sprintf("%s[%s]", join(obj.prefix, "stringData"), k), k) {
				o.data[k], o.text[k] = []byte(val), val
			}
		}
	}
	np := join(obj.prefix, "metadata.name")
	switch {
	case o.name == "":
		d.add(np, "required")
		return
	case !isSubdomain(o.name):
		d.add(np, "%q is not a lowercase RFC 1123 subdomain: letters a-z, digits, '-' and '.', at most 253 characters", o.name)
		return
	}
	if o.namespace != "" && !isLabel(o.namespace) {
		d.add(join(obj.prefix, "metadata.namespace"), "%q is not a lowercase RFC 1123 label", o.namespace)
		return
	}
	key := dataKey(o.kind, o.namespace, o.name)
	if s.objs[key] != nil {
		if o.namespace == "" {
			d.add(np, "duplicate %s %q with no namespace", o.kind, o.name)
		} else {
			d.add(np, "duplicate %s %q in namespace %q", o.kind, o.name, o.namespace)
		}
		return
	}
	s.objs[key] = o
}

// find looks up a ConfigMap or Secret for a pod of namespace ns: one of
// that namespace, else one without a namespace.
func (s *dataStore) find(kind, ns, name string) *dataObject {
	if o := s.objs[dataKey(kind, ns, name)]; o != nil {
		return o
	}
	return s.objs[dataKey(kind, "", name)]
}

package kube

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podvisor/podvisor/pod"
)

// Options are what a translation needs besides the manifest: the data of
// --configmap and --secret files, facts about the host for the downward
// API, and a source of randomness. Load reads no file and asks the host
// nothing.
type Options struct {
	// IgnoreUnsupported turns each refused field into a warning, the field
	// left out (podman kube play --validate=warn). A refused volume source
	// becomes an emptyDir.
	IgnoreUnsupported bool
	// ConfigMaps are the contents of --configmap files: ConfigMap documents
	// (or Lists of them), several per file if need be.
	ConfigMaps [][]byte
	// Secrets are the contents of --secret files: Secret documents.
	Secrets [][]byte
	// NodeName is the downward API's spec.nodeName: the host name. It is
	// also the host name of a hostNetwork pod that sets no spec.hostname
	// (lowercased), as kubelet gives it.
	NodeName string
	// HostIP is the downward API's status.hostIP (and, with hostNetwork,
	// status.podIP).
	HostIP string
	// NodeCPU, NodeMemory and NodeEphemeralStorage are the host's CPU count,
	// memory and disk in bytes: what a resourceFieldRef gives for a limit
	// the pod does not set, as kubelet gives the node's allocatable. Zero
	// means unknown: such a reference is then an error.
	NodeCPU              int
	NodeMemory           int64
	NodeEphemeralStorage int64
	// NewUID makes each pod's metadata.uid. When nil, a random UUID is
	// made from Rand.
	NewUID func() string
	// Rand is the randomness of generateName suffixes (and of uids when
	// NewUID is nil). When nil, crypto/rand.
	Rand io.Reader

	// seen collects the table paths met, for tests.
	seen map[string]bool
}

// Result is what Load made of a file.
type Result struct {
	// Pods are the file's pods in document order. Each has its defaults
	// set and passes pod.Validate. A pod made from a Kubernetes object
	// holds in Kubernetes the v1 Pod it stands for (a workload's template
	// turned into a Pod named after the workload), as JSON.
	Pods []*pod.Pod
	// Notices are one line each about what has no effect: ignored images,
	// scheduling fields, replicas above 1, skipped kinds, skipped
	// environment keys.
	Notices []string
	// Warnings are one line per refused field left out, with
	// Options.IgnoreUnsupported.
	Warnings []string
}

// The Kubernetes kinds Load makes pods of, and their apiVersion.
var podKinds = map[string]struct {
	apiVersion string
	typ        reflect.Type
}{
	"Pod":         {"v1", reflect.TypeFor[corev1.Pod]()},
	"Deployment":  {"apps/v1", reflect.TypeFor[appsv1.Deployment]()},
	"ReplicaSet":  {"apps/v1", reflect.TypeFor[appsv1.ReplicaSet]()},
	"StatefulSet": {"apps/v1", reflect.TypeFor[appsv1.StatefulSet]()},
	"DaemonSet":   {"apps/v1", reflect.TypeFor[appsv1.DaemonSet]()},
	"Job":         {"batch/v1", reflect.TypeFor[batchv1.Job]()},
	"ConfigMap":   {"v1", reflect.TypeFor[corev1.ConfigMap]()},
	"Secret":      {"v1", reflect.TypeFor[corev1.Secret]()},
	"List":        {"v1", reflect.TypeFor[metav1.List]()},
}

// IsKubernetes reports whether data holds a Kubernetes object, or a
// document that means to be one: a document whose apiVersion is not
// podvisor/v1; or, with no apiVersion, one with spec.containers,
// spec.initContainers or spec.template, or a kind other than Pod. Such a
// file must go through Load, which names what is missing; a podvisor/v1
// file may too.
func IsKubernetes(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return false
		}
		if len(doc.Content) == 0 {
			continue
		}
		if n := resolve(doc.Content[0]); n.Kind == yaml.MappingNode && looksKubernetes(n) {
			return true
		}
	}
}

// looksKubernetes reports whether a document is, or means to be, a
// Kubernetes object (see IsKubernetes).
func looksKubernetes(n *yaml.Node) bool {
	v, _ := scalarKey(n, "apiVersion")
	switch {
	case v == pod.APIVersion:
		return false
	case v != "":
		return true
	}
	switch podvisorOrKubeSpec(n) {
	case "kubernetes":
		return true
	case "podvisor":
		return false
	}
	k, _ := scalarKey(n, "kind")
	return k != "" && k != pod.Kind
}

// podvisorOrKubeSpec says whose vocabulary a document's spec is in:
// "kubernetes" (containers, initContainers, template), "podvisor"
// (processes, initProcesses) or "".
func podvisorOrKubeSpec(n *yaml.Node) string {
	spec := mapKey(n, "spec")
	if spec == nil {
		return ""
	}
	for _, p := range pairs(spec) {
		switch p.key.Value {
		case "containers", "initContainers", "template":
			return "kubernetes"
		case "processes", "initProcesses":
			return "podvisor"
		}
	}
	return ""
}

// kindAPIVersion is the apiVersion of a kind Load reads (a typed list's
// is its items').
func kindAPIVersion(kind string) string {
	if k, ok := podKinds[kind]; ok {
		return k.apiVersion
	}
	return podKinds[strings.TrimSuffix(kind, "List")].apiVersion
}

// exampleKind is a kind of apiVersion, for a message.
func exampleKind(apiVersion string) string {
	switch apiVersion {
	case "apps/v1":
		return "Deployment"
	case "batch/v1":
		return "Job"
	}
	return "Pod"
}

// suggestKind is the kind Load reads that an unknown kind is a near miss
// of (the same letters in another case, or at most two edits away, one
// for a short kind), or "". Only kinds of apiVersion v1, apps/v1 and
// batch/v1 (or of no apiVersion) are near misses: another group's kinds
// are skipped as they are.
func suggestKind(kind, apiVersion string) string {
	switch apiVersion {
	case "", "v1", "apps/v1", "batch/v1":
	default:
		return ""
	}
	var kinds []string
	for _, k := range sortedKeys(podKinds) {
		kinds = append(kinds, k)
		if k != "List" {
			kinds = append(kinds, k+"List")
		}
	}
	best, bestD := "", 1<<30
	for _, k := range kinds {
		if strings.EqualFold(k, kind) {
			return k
		}
		if d := editDistance(strings.ToLower(kind), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	limit := 2
	if len(kind) <= 4 {
		limit = 1
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// scalarKey is the text of a mapping's scalar key, and whether it is
// there.
func scalarKey(n *yaml.Node, key string) (string, bool) {
	for _, p := range pairs(n) {
		if p.key.Value == key {
			v := resolve(p.value)
			if v.Kind == yaml.ScalarNode && !isNull(v) {
				return v.Value, true
			}
			return "", true
		}
	}
	return "", false
}

// object is one Kubernetes object of a file: a document or a List item.
type object struct {
	where  *docErrs // where its errors go
	prefix string   // its path in the document: "" or "items[2]"
	node   *yaml.Node
	kind   string
	name   string
	value  any // the decoded object, a pointer
	hits   []hit
	// skipped is the kind of an object of a kind podvisor skips.
	skipped string
}

// docErrs gathers the problems of one document.
type docErrs struct {
	label string // "document 2: ", "configmap file 1: document 3: " or ""
	errs  pod.ErrorList
}

func (d *docErrs) add(path, format string, args ...any) {
	d.errs = append(d.errs, &pod.FieldError{Field: path, Detail: fmt.Sprintf(format, args...)})
}

// loader holds what one Load call has gathered.
type loader struct {
	o        *Options
	docs     []*docErrs
	objects  []*object
	data     *dataStore
	notices  []string
	warnings []string
	names    map[string]string // pod name -> where it was first made
	rand     io.Reader
}

// Load turns a manifest into pods. Its documents may be Kubernetes objects
// (v1 Pod and List, apps/v1 Deployment, ReplicaSet, StatefulSet and
// DaemonSet, batch/v1 Job: one pod each; ConfigMap and Secret: data for
// the others; any other kind is skipped with a notice) or podvisor/v1 pod
// files (read by pod.Load, unchanged), in YAML (block or flow style) or
// JSON.
//
// The error is a pod.ErrorList (it matches pod.ErrInvalid) naming every
// problem with its field path in the manifest (spec.containers[1].command,
// spec.template.spec.volumes[0].hostPath.path); in a file of several
// documents each path starts with "document N: " (N from 1, counting the
// documents between --- separators, empty ones included), in a List item
// with "items[i].". A file without any pod is an error too.
func Load(data []byte, o Options) (*Result, error) {
	l := &loader{o: &o, data: newDataStore(), names: map[string]string{}, rand: o.Rand}
	if l.rand == nil {
		l.rand = rand.Reader
	}
	for i, f := range o.ConfigMaps {
		l.readFile(f, fmt.Sprintf("configmap file %d: ", i+1), "ConfigMap")
	}
	for i, f := range o.Secrets {
		l.readFile(f, fmt.Sprintf("secret file %d: ", i+1), "Secret")
	}
	l.readFile(data, "", "")
	for _, obj := range l.objects {
		if obj.kind == "ConfigMap" || obj.kind == "Secret" {
			l.data.add(obj)
		}
	}
	var pods []*pod.Pod
	var kinds []string
	for _, obj := range l.objects {
		switch obj.kind {
		case "ConfigMap", "Secret":
			kinds = append(kinds, fmt.Sprintf("%s %q", obj.kind, obj.name))
			for _, h := range obj.hits {
				if h.field.Disposition == NoEffect {
					l.notices = append(l.notices, fmt.Sprintf("%s %q: %s", strings.ToLower(obj.kind), obj.name, noEffect(h)))
				}
			}
		case "":
			// A podvisor/v1 pod, or a skipped kind (value nil).
			if p, ok := obj.value.(*pod.Pod); ok {
				if p = l.named(p, obj); p != nil {
					pods = append(pods, p)
				}
			} else if obj.skipped != "" {
				kinds = append(kinds, fmt.Sprintf("%s %q", obj.skipped, obj.name))
			}
		default:
			if p := l.translate(obj); p != nil {
				if p = l.named(p, obj); p != nil {
					pods = append(pods, p)
				}
			}
		}
	}
	var errs pod.ErrorList
	for _, d := range l.docs {
		for _, e := range d.errs {
			errs = append(errs, &pod.FieldError{Field: d.label + e.Field, Detail: e.Detail})
			if e.Field == "" {
				errs[len(errs)-1].Field = strings.TrimSuffix(d.label, ": ")
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(pods) == 0 {
		what := "nothing"
		if len(kinds) > 0 {
			what = strings.Join(kinds, ", ")
		}
		return nil, pod.ErrorList{{Detail: fmt.Sprintf("no pod in the file (it holds %s): podvisor runs Pods, the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs, and podvisor/v1 pods", what)}}
	}
	return &Result{Pods: pods, Notices: l.notices, Warnings: l.warnings}, nil
}

// named checks that a pod's name is the first of its kind in the file.
func (l *loader) named(p *pod.Pod, obj *object) *pod.Pod {
	where := strings.TrimSuffix(obj.where.label, ": ")
	if where == "" {
		where = "the file"
	}
	if first, dup := l.names[p.Metadata.Name]; dup {
		obj.where.add(join(obj.prefix, "metadata.name"), "duplicate pod name %q: %s has a pod of that name already", p.Metadata.Name, first)
		return nil
	}
	l.names[p.Metadata.Name] = where
	return p
}

// readFile splits a file into documents and reads each. label prefixes the
// file's problems; only, when set, is the one kind the file may hold
// (ConfigMap or Secret files).
func (l *loader) readFile(data []byte, label, only string) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var nodes []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d := &docErrs{label: label}
			if len(nodes) > 0 {
				d.label = fmt.Sprintf("%sdocument %d: ", label, len(nodes)+1)
			}
			d.add("", "%s", cut("yaml: "+strings.TrimPrefix(err.Error(), "yaml: "), 300))
			l.docs = append(l.docs, d)
			return
		}
		var n *yaml.Node
		if len(doc.Content) > 0 && !isNull(resolve(doc.Content[0])) {
			n = doc.Content[0]
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
		d := &docErrs{label: label}
		if len(nodes) > 1 {
			d.label = fmt.Sprintf("%sdocument %d: ", label, i+1)
		}
		l.docs = append(l.docs, d)
		if n != nil {
			l.readObject(n, d, "", only, "")
		}
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// readObject reads one object: a document, or an item of a List whose
// items default to kind listOf.
func (l *loader) readObject(n *yaml.Node, d *docErrs, prefix, only, listOf string) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		field := prefix
		d.add(field, "must be a mapping (a Kubernetes object), got %s", describe(n))
		return
	}
	apiVersion, hasV := scalarKey(n, "apiVersion")
	kind, hasK := scalarKey(n, "kind")
	if listOf != "" && !hasK && !hasV {
		kind, apiVersion = listOf, podKinds[listOf].apiVersion
	}
	var name string
	if md := mapKey(n, "metadata"); md != nil {
		name, _ = scalarKey(md, "name")
	}
	if apiVersion == pod.APIVersion {
		if only != "" {
			d.add(join(prefix, "apiVersion"), "a podvisor/v1 pod in a %s file: it holds %ss only", strings.ToLower(only), only)
			return
		}
		l.readPodvisor(n, d, prefix)
		return
	}
	base, typed := kind, false
	if b, isList := strings.CutSuffix(kind, "List"); isList && b != "" {
		if _, known := podKinds[b]; known {
			base, typed = b, true
		}
	}
	known, ok := podKinds[base]
	if !ok && kind != "" {
		if s := suggestKind(kind, apiVersion); s != "" {
			d.add(join(prefix, "kind"), "unsupported value %q: did you mean %q?", kind, s)
			if apiVersion == "" {
				d.add(join(prefix, "apiVersion"), "required: %s for a %s", kindAPIVersion(s), s)
			}
			return
		}
	}
	if kind == "" || apiVersion == "" {
		podvisor := (kind == "" || kind == pod.Kind) && podvisorOrKubeSpec(n) == "podvisor"
		if apiVersion == "" {
			switch {
			case podvisor:
				d.add(join(prefix, "apiVersion"), "required: %s for a podvisor pod file", pod.APIVersion)
			case ok:
				d.add(join(prefix, "apiVersion"), "required: %s for a %s", known.apiVersion, kind)
			default:
				d.add(join(prefix, "apiVersion"), "required: a Kubernetes object has apiVersion and kind (v1 for a Pod; %s for a podvisor pod file)", pod.APIVersion)
			}
		}
		if kind == "" {
			d.add(join(prefix, "kind"), "required (for example %s)", exampleKind(apiVersion))
		}
		if kind == "" || !ok || podvisor {
			return
		}
		// A known kind without its apiVersion: read on, to report the
		// object's other problems too.
		apiVersion = known.apiVersion
	}
	if only != "" && (!ok || base != only && base != "List") {
		d.add(join(prefix, "kind"), "%s %q in a %s file: it holds %ss only", kind, name, strings.ToLower(only), only)
		return
	}
	if !ok {
		l.objects = append(l.objects, &object{where: d, prefix: prefix, name: name, skipped: kind})
		l.notices = append(l.notices, fmt.Sprintf("skipped %s %q: podvisor runs pods only", kind, name))
		return
	}
	if apiVersion != known.apiVersion {
		d.add(join(prefix, "apiVersion"), "unsupported value %q for kind %s: must be %q", apiVersion, kind, known.apiVersion)
		return
	}
	if typed || base == "List" {
		l.readList(n, d, prefix, only, kind, base)
		return
	}
	dec := &decoder{ignore: l.o.IgnoreUnsupported, seen: l.o.seen}
	v := reflect.New(known.typ)
	dec.decode(n, v.Elem(), prefix, "", false)
	d.errs = append(d.errs, dec.errs...)
	l.objects = append(l.objects, &object{where: d, prefix: prefix, node: n, kind: kind, name: name, value: v.Interface(), hits: dec.hits})
}

// readList reads a v1 List, or a typed list (PodList), whose items are
// objects of their own.
func (l *loader) readList(n *yaml.Node, d *docErrs, prefix, only, kind, base string) {
	dec := &decoder{seen: l.o.seen}
	var list metav1.List
	dec.decode(n, reflect.ValueOf(&list).Elem(), prefix, "", false)
	d.errs = append(d.errs, dec.errs...)
	listOf := ""
	if kind != "List" {
		listOf = base
	}
	for _, it := range dec.raw {
		l.readObject(it.node, d, it.path, only, listOf)
	}
}

// mapKey is the mapping value of a mapping's key, or nil.
func mapKey(n *yaml.Node, key string) *yaml.Node {
	for _, p := range pairs(n) {
		if p.key.Value == key {
			if v := resolve(p.value); v.Kind == yaml.MappingNode {
				return v
			}
		}
	}
	return nil
}

// readPodvisor reads a podvisor/v1 document with pod.Load.
func (l *loader) readPodvisor(n *yaml.Node, d *docErrs, prefix string) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		d.add(prefix, "%v", err)
		return
	}
	p, err := pod.Load(buf.Bytes())
	if err != nil {
		var list pod.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				f := prefix
				if e.Field != "" {
					f = join(prefix, e.Field)
				}
				d.add(f, "%s", e.Detail)
			}
		} else {
			d.add(prefix, "%v", err)
		}
		return
	}
	l.objects = append(l.objects, &object{where: d, prefix: prefix, value: p})
}

package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podvisor/podvisor/pod"
)

// translator turns one Kubernetes object into a pod.Pod.
type translator struct {
	l   *loader
	obj *object
	d   *docErrs
	who string // `pod "web"`, for notices and warnings
	pm  pathMap

	// podName is the podvisor pod's name (see NameAnnotation).
	podName string
	// The pod as the downward API sees it.
	name, namespace, uid string
	labels, annotations  map[string]string
	spec                 *corev1.PodSpec
	specPath             string // "spec" or "spec.template.spec", in the document

	// errs0 is the number of problems of the document before this
	// object's translation.
	errs0 int
}

// failed reports whether this object has problems: of its decoding (at
// paths under its own) or of its translation.
func (t *translator) failed() bool {
	if len(t.d.errs) > t.errs0 {
		return true
	}
	for _, e := range t.d.errs {
		if t.obj.prefix == "" || under(e.Field, t.obj.prefix) {
			return true
		}
	}
	return false
}

func (t *translator) err(path, format string, args ...any) { t.d.add(path, format, args...) }

func (t *translator) notice(format string, args ...any) {
	t.l.notices = append(t.l.notices, t.who+": "+fmt.Sprintf(format, args...))
}

// refuse reports a value podvisor cannot honour: an error, or a warning
// with IgnoreUnsupported (the caller then leaves the value out).
func (t *translator) refuse(path, format string, args ...any) {
	t.refuseInstead(path, "ignored", format, args...)
}

// refuseInstead is refuse for a value that something else stands in for
// with IgnoreUnsupported; instead says what.
func (t *translator) refuseInstead(path, instead, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if t.l.o.IgnoreUnsupported {
		t.l.warnings = append(t.l.warnings, fmt.Sprintf("%s: %s: %s; %s (--ignore-unsupported)", t.who, path, msg, instead))
		return
	}
	t.err(path, "%s", msg)
}

// translate makes a pod of a Pod or workload object, or reports why not.
func (l *loader) translate(obj *object) *pod.Pod {
	t := &translator{l: l, obj: obj, d: obj.where, errs0: len(obj.where.errs)}
	pre := func(p string) string { return join(obj.prefix, p) }
	var meta, tmeta *metav1.ObjectMeta
	var spec *corev1.PodSpec
	tmetaPath, specPath := pre("metadata"), pre("spec")
	workload := obj.kind != "Pod"
	var selector *metav1.LabelSelector
	var jobDeadline *int64
	suspended := false
	switch v := obj.value.(type) {
	case *corev1.Pod:
		meta, tmeta, spec = &v.ObjectMeta, &v.ObjectMeta, &v.Spec
	case *appsv1.Deployment:
		meta, tmeta, spec, selector = &v.ObjectMeta, &v.Spec.Template.ObjectMeta, &v.Spec.Template.Spec, v.Spec.Selector
	case *appsv1.ReplicaSet:
		meta, tmeta, spec, selector = &v.ObjectMeta, &v.Spec.Template.ObjectMeta, &v.Spec.Template.Spec, v.Spec.Selector
	case *appsv1.StatefulSet:
		meta, tmeta, spec, selector = &v.ObjectMeta, &v.Spec.Template.ObjectMeta, &v.Spec.Template.Spec, v.Spec.Selector
		if spec.Subdomain == "" && v.Spec.ServiceName != "" {
			spec.Subdomain = v.Spec.ServiceName
			t.pm.add("spec.subdomain", pre("spec.serviceName"))
		}
		t.claimVolumes(v, spec)
	case *appsv1.DaemonSet:
		meta, tmeta, spec, selector = &v.ObjectMeta, &v.Spec.Template.ObjectMeta, &v.Spec.Template.Spec, v.Spec.Selector
	case *batchv1.Job:
		meta, tmeta, spec, selector = &v.ObjectMeta, &v.Spec.Template.ObjectMeta, &v.Spec.Template.Spec, v.Spec.Selector
		jobDeadline = v.Spec.ActiveDeadlineSeconds
		suspended = v.Spec.Suspend != nil && *v.Spec.Suspend
	default:
		return nil
	}
	if workload {
		tmetaPath, specPath = pre("spec.template.metadata"), pre("spec.template.spec")
	}
	t.spec, t.specPath = spec, specPath

	// The name, and who the notices are about.
	t.name = meta.Name
	namePath := pre("metadata.name")
	if t.name == "" && meta.GenerateName != "" {
		namePath = pre("metadata.generateName")
		name, err := generateName(meta.GenerateName, l.rand)
		t.name = name
		if err != nil {
			t.err(namePath, "cannot make a name: %v", err)
		} else if !isSubdomain(t.name) {
			t.err(namePath, "%q does not make a lowercase RFC 1123 subdomain: letters a-z, digits, '-' and '.'", meta.GenerateName)
		}
	} else if t.name == "" {
		t.err(namePath, "required (or metadata.generateName)")
	} else if !isSubdomain(t.name) {
		t.err(namePath, "%q is not a lowercase RFC 1123 subdomain: letters a-z, digits, '-' and '.', at most 253 characters", t.name)
	}
	// The podvisor pod's name: metadata.name, or the annotation
	// podvisor.io/name (a node agent names the pods of several
	// namespaces apart); metadata.name stays the Kubernetes name (the
	// downward API, the host name, the Kubernetes object).
	t.podName = t.name
	if v, ok := tmeta.Annotations[NameAnnotation]; ok {
		if !isSubdomain(v) {
			t.err(tmetaPath+".annotations["+NameAnnotation+"]", "%q is not a lowercase RFC 1123 subdomain: letters a-z, digits, '-' and '.', at most 253 characters", v)
		}
		t.podName = v
	}
	t.who = fmt.Sprintf("pod %q", t.podName)
	t.pm.add("metadata.name", namePath)
	t.hits(obj.hits)
	if suspended {
		t.refuse(pre("spec.suspend"), "a suspended Job runs no pod: set suspend: false to run it")
	}

	t.namespace = meta.Namespace
	if t.namespace == "" {
		t.namespace = "default"
	} else if !isLabel(t.namespace) {
		t.err(pre("metadata.namespace"), "%q is not a lowercase RFC 1123 label", t.namespace)
	}
	t.pm.add("metadata.namespace", pre("metadata.namespace"))
	uid, err := t.newUID()
	if err != nil {
		t.err(pre("metadata.uid"), "cannot make a uid: %v", err)
	}
	if _, agent := tmeta.Annotations[NameAnnotation]; agent && obj.kind == "Pod" && meta.UID != "" {
		// A node agent's Pod keeps the uid the cluster knows it by.
		uid = string(meta.UID)
	}
	t.uid = uid
	t.labels, t.annotations = tmeta.Labels, tmeta.Annotations
	if _, ok := t.annotations[NameAnnotation]; ok {
		// A node agent's marks are not the Pod's: the downward API shows
		// the annotations the Pod has in the cluster.
		t.annotations = maps.Clone(t.annotations)
		delete(t.annotations, NameAnnotation)
		delete(t.annotations, NodeAnnotation)
	}
	t.pm.add("metadata.labels", tmetaPath+".labels")
	t.pm.add("metadata.annotations", tmetaPath+".annotations")
	t.checkAnnotations(tmeta.Annotations, tmetaPath+".annotations")
	t.securityAnnotations(tmeta.Annotations, tmetaPath+".annotations", spec)

	if workload {
		if tmeta.Name != "" || tmeta.GenerateName != "" || tmeta.Namespace != "" {
			t.notice("%s: name, generateName and namespace have no effect: the pod is named after the %s", tmetaPath, obj.kind)
		}
		t.checkTemplate(obj.kind, selector, tmeta.Labels, spec.RestartPolicy, pre)
		if jobDeadline != nil && (spec.ActiveDeadlineSeconds == nil || *jobDeadline < *spec.ActiveDeadlineSeconds) {
			d := *jobDeadline
			spec.ActiveDeadlineSeconds = &d
			t.pm.add("spec.activeDeadlineSeconds", pre("spec.activeDeadlineSeconds"))
		}
	}

	p := &pod.Pod{
		APIVersion: pod.APIVersion,
		Kind:       pod.Kind,
		Metadata: pod.Metadata{
			Name:        t.podName,
			Namespace:   t.namespace,
			UID:         t.uid,
			Labels:      tmeta.Labels,
			Annotations: tmeta.Annotations,
		},
	}
	p.Spec = t.podSpec(spec, specPath)
	t.imageNotice(spec)

	kp := corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:         t.name,
			GenerateName: meta.GenerateName,
			Namespace:    t.namespace,
			UID:          types.UID(t.uid),
			Labels:       tmeta.Labels,
			Annotations:  tmeta.Annotations,
		},
		Spec: *spec,
	}
	raw, err := json.Marshal(&kp)
	if err != nil {
		t.err(obj.prefix, "cannot encode the pod: %v", err)
		return nil
	}
	p.Kubernetes = raw

	if t.failed() {
		// Validation would repeat what is reported, on a pod that is
		// known to be wrong; what it adds is still worth having.
		t.validate(p)
		return nil
	}
	if !t.validate(p) {
		return nil
	}
	return p
}

// claimVolumes gives a StatefulSet's pod a volume for each of its
// volumeClaimTemplates, as the StatefulSet controller does: the templates
// are refused, and with IgnoreUnsupported an emptyDir stands in for each
// (the warning says so); either way its mounts name a volume.
func (t *translator) claimVolumes(s *appsv1.StatefulSet, spec *corev1.PodSpec) {
	claims := s.Spec.VolumeClaimTemplates
	for _, h := range t.obj.hits {
		if h.field.Path == "StatefulSet.spec.volumeClaimTemplates" {
			if d, ok := h.dropped.([]corev1.PersistentVolumeClaim); ok {
				claims = d
			}
		}
	}
	for _, c := range claims {
		if c.Name == "" || slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == c.Name }) {
			continue
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
}

// validate sets the pod's defaults and validates it, reporting its
// problems at the manifest's paths, without repeating a path (or one
// below it) reported already.
func (t *translator) validate(p *pod.Pod) bool {
	p.SetDefaults()
	err := p.Validate()
	if err == nil {
		return true
	}
	var list pod.ErrorList
	if !errors.As(err, &list) {
		t.err(t.obj.prefix, "%v", err)
		return false
	}
	reported := make([]string, 0, len(t.d.errs))
	for _, e := range t.d.errs {
		reported = append(reported, e.Field)
		// A misspelt field stands for the field it misses.
		if _, after, ok := strings.Cut(e.Detail, `did you mean "`); ok {
			if name, _, ok := strings.Cut(after, `"`); ok {
				parent := e.Field[:max(strings.LastIndex(e.Field, "."), 0)]
				reported = append(reported, join(parent, name))
			}
		}
	}
	added := false
	for _, e := range list {
		f, ok := t.pm.apply(e.Field)
		if !ok {
			continue
		}
		if !strings.HasPrefix(f, t.obj.prefix) || f == "" {
			f = join(t.obj.prefix, f)
		}
		if slices.ContainsFunc(reported, func(r string) bool { return under(f, r) }) {
			continue
		}
		t.err(f, "%s", e.Detail)
		reported = append(reported, f)
		added = true
	}
	return !added && !t.failed()
}

// hits turns the fields of the table the decoder met, not honoured, into
// notices, warnings and refusals.
func (t *translator) hits(hits []hit) {
	for _, h := range hits {
		f := h.field
		switch f.Disposition {
		case NoEffect:
			t.notice("%s", noEffect(h))
		case Refused:
			msg := f.Note
			if h.value != "" && f.Default != "" {
				v := h.value
				if n, err := strconv.Atoi(v); err == nil && strings.HasSuffix(f.Path, "mode") {
					v = fmt.Sprintf("%#o", n) // a file mode, as written in YAML
				}
				msg = fmt.Sprintf("%s, got %s", msg, v)
			}
			if t.l.o.IgnoreUnsupported {
				what := "ignored"
				if strings.Contains(f.Path, "spec.volumes[].") && strings.Count(f.Path, ".") == 2 {
					what = "an empty directory stands in for the volume"
				} else if f.Path == "StatefulSet.spec.volumeClaimTemplates" {
					what = "an empty directory stands in for each claim"
				}
				t.l.warnings = append(t.l.warnings, fmt.Sprintf("%s: %s: %s; %s (--ignore-unsupported)", t.who, h.path, msg, what))
			} else {
				t.err(h.path, "%s", msg)
			}
		}
	}
}

// noEffect is the notice of a field set without effect.
func noEffect(h hit) string {
	if h.value != "" {
		return fmt.Sprintf("%s: %s has no effect (%s)", h.path, h.value, h.field.Note)
	}
	return fmt.Sprintf("%s has no effect (%s)", h.path, h.field.Note)
}

// imageNotice says, once per pod, that images and their pull settings are
// ignored.
func (t *translator) imageNotice(spec *corev1.PodSpec) {
	var images []string
	for _, list := range []struct {
		what string
		cs   []corev1.Container
	}{{"init container", spec.InitContainers}, {"container", spec.Containers}} {
		for _, c := range list.cs {
			if c.Image != "" {
				images = append(images, fmt.Sprintf("%s (%s %s)", c.Image, list.what, c.Name))
			}
		}
	}
	var also []string
	for _, h := range t.obj.hits {
		if h.field.Disposition == Ignored && h.field.Path != "container.image" {
			name := h.field.Path[strings.LastIndex(h.field.Path, ".")+1:]
			if !slices.Contains(also, name) {
				also = append(also, name)
			}
		}
	}
	if len(images) == 0 && len(also) == 0 {
		return
	}
	msg := "images are ignored, podvisor runs host programs"
	if len(images) > 0 {
		msg += ": " + strings.Join(images, ", ")
	}
	if len(also) > 0 {
		msg += "; so are " + strings.Join(also, " and ")
	}
	t.notice("%s", msg)
}

// checkTemplate checks a workload's template as Kubernetes does: its
// restart policy, and that the selector selects its labels.
func (t *translator) checkTemplate(kind string, sel *metav1.LabelSelector, labels map[string]string, rp corev1.RestartPolicy, pre func(string) string) {
	rpPath := pre("spec.template.spec.restartPolicy")
	if kind == "Job" {
		if rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
			if rp == "" {
				t.err(rpPath, "required: OnFailure or Never for a Job's pod")
			} else {
				t.err(rpPath, "unsupported value %q: a Job's pod has restartPolicy OnFailure or Never", rp)
			}
		}
	} else if rp != "" && rp != corev1.RestartPolicyAlways {
		t.err(rpPath, "unsupported value %q: a %s's pod has restartPolicy Always", rp, kind)
	}
	selPath := pre("spec.selector")
	if sel == nil || len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		if kind != "Job" {
			t.err(selPath, "required: a %s selects its pods by label", kind)
		}
		return
	}
	ok := true
	for i, e := range sel.MatchExpressions {
		ep := fmt.Sprintf("%s.matchExpressions[%d]", selPath, i)
		if !isQualifiedName(e.Key) {
			t.err(ep+".key", "invalid label key %q", e.Key)
			ok = false
		}
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				t.err(ep+".values", "required for operator %s", e.Operator)
				ok = false
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				t.err(ep+".values", "must be empty for operator %s", e.Operator)
				ok = false
			}
		default:
			t.err(ep+".operator", "unsupported value %q: must be In, NotIn, Exists or DoesNotExist", e.Operator)
			ok = false
		}
	}
	if ok && !selects(sel, labels) {
		t.err(pre("spec.template.metadata.labels"), "must match spec.selector: the %s would select none of its own pods", kind)
	}
}

// selects reports whether a label selector matches labels.
func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	for k, v := range sel.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, e := range sel.MatchExpressions {
		v, has := labels[e.Key]
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			if !has || !slices.Contains(e.Values, v) {
				return false
			}
		case metav1.LabelSelectorOpNotIn:
			if has && slices.Contains(e.Values, v) {
				return false
			}
		case metav1.LabelSelectorOpExists:
			if !has {
				return false
			}
		case metav1.LabelSelectorOpDoesNotExist:
			if has {
				return false
			}
		}
	}
	return true
}

// checkAnnotations checks annotation keys and their total size, as
// Kubernetes does.
func (t *translator) checkAnnotations(ann map[string]string, path string) {
	total := 0
	for _, k := range sortedKeys(ann) {
		total += len(k) + len(ann[k])
		if !isQualifiedName(k) {
			t.err(path+"["+k+"]", "invalid annotation key %q: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.'", k)
		}
	}
	if total > 256<<10 {
		t.err(path, "too long: must have at most 262144 bytes, got %d", total)
	}
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	return ks
}

// generateName is Kubernetes' name generator: the prefix, cut to 58
// characters, and 5 random characters of an alphabet without vowels.
func generateName(base string, r io.Reader) (string, error) {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	if len(base) > 58 {
		base = base[:58]
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(r, b); err != nil {
		return base, err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return base + string(b), nil
}

// newUID makes a pod's uid: Options.NewUID, else a random (version 4)
// UUID.
func (t *translator) newUID() (string, error) {
	if t.l.o.NewUID != nil {
		return t.l.o.NewUID(), nil
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(t.l.rand, b); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// podSpec maps a PodSpec; sp is its path in the document.
func (t *translator) podSpec(s *corev1.PodSpec, sp string) pod.Spec {
	t.pm.add("spec", sp)
	t.pm.add("spec.processes", sp+".containers")
	t.pm.add("spec.initProcesses", sp+".initContainers")
	ps := pod.Spec{
		RestartPolicy:                 pod.RestartPolicy(s.RestartPolicy),
		TerminationGracePeriodSeconds: s.TerminationGracePeriodSeconds,
		ActiveDeadlineSeconds:         s.ActiveDeadlineSeconds,
		Hostname:                      s.Hostname,
		Subdomain:                     s.Subdomain,
		SetHostnameAsFQDN:             s.SetHostnameAsFQDN,
		HostIPC:                       s.HostIPC,
		HostPID:                       s.HostPID,
		ShareProcessNamespace:         s.ShareProcessNamespace,
		DNSPolicy:                     string(s.DNSPolicy),
	}
	if s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds < 1 {
		t.err(sp+".activeDeadlineSeconds", "must be at least 1, got %d", *s.ActiveDeadlineSeconds)
	}
	if s.HostNetwork {
		ps.Network = pod.NetworkHost
	}
	t.pm.add("spec.network", sp+".hostNetwork")
	if s.HostPID && s.ShareProcessNamespace != nil && *s.ShareProcessNamespace {
		t.err(sp+".shareProcessNamespace", "not with hostPID: the pod cannot both share the host's PID namespace and have one of its own")
	}
	t.hostname(s, sp, &ps)
	switch s.DNSPolicy {
	case "", corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault:
	case corev1.DNSNone:
		if s.DNSConfig == nil || len(s.DNSConfig.Nameservers) == 0 {
			t.err(sp+".dnsConfig.nameservers", "required with dnsPolicy None: at least one nameserver")
		}
	default:
		t.err(sp+".dnsPolicy", "unsupported value %q: must be ClusterFirst, ClusterFirstWithHostNet, Default or None", s.DNSPolicy)
	}
	if c := s.DNSConfig; c != nil {
		ps.DNSConfig = &pod.DNSConfig{Nameservers: c.Nameservers, Searches: c.Searches}
		for _, o := range c.Options {
			ps.DNSConfig.Options = append(ps.DNSConfig.Options, pod.DNSConfigOpt{Name: o.Name, Value: o.Value})
		}
		if len(c.Nameservers) > 3 {
			t.err(sp+".dnsConfig.nameservers", "must have at most 3 nameservers, got %d", len(c.Nameservers))
		}
		if len(c.Searches) > 32 {
			t.err(sp+".dnsConfig.searches", "must have at most 32 search paths, got %d", len(c.Searches))
		}
	}
	for _, a := range s.HostAliases {
		ps.HostAliases = append(ps.HostAliases, pod.HostAlias{IP: a.IP, Hostnames: a.Hostnames})
	}
	if s.OS != nil && s.OS.Name != corev1.Linux {
		t.refuse(sp+".os.name", "unsupported value %q: podvisor runs Linux processes", s.OS.Name)
	}
	if s.HostUsers != nil && !*s.HostUsers {
		t.refuse(sp+".hostUsers", "false is not supported: podvisor gives a pod no user namespace")
	}
	if s.Resources != nil {
		ps.Resources = t.resources(*s.Resources, sp+".resources", true)
	}
	ps.SecurityContext = t.podSecurity(s.SecurityContext, sp+".securityContext", s)
	vols := t.volumes(s, sp)
	ps.Volumes = vols

	if len(s.Containers) == 0 {
		t.err(sp+".containers", "required: at least one container")
	}
	t.uniqueNames(s, sp)
	for i := range s.InitContainers {
		cp := fmt.Sprintf("%s.initContainers[%d]", sp, i)
		t.pm.add(fmt.Sprintf("spec.initProcesses[%d]", i), cp)
		ps.InitProcesses = append(ps.InitProcesses, t.container(&s.InitContainers[i], cp, fmt.Sprintf("spec.initProcesses[%d]", i), true))
	}
	for i := range s.Containers {
		cp := fmt.Sprintf("%s.containers[%d]", sp, i)
		t.pm.add(fmt.Sprintf("spec.processes[%d]", i), cp)
		ps.Processes = append(ps.Processes, t.container(&s.Containers[i], cp, fmt.Sprintf("spec.processes[%d]", i), false))
	}
	return ps
}

// uniqueNames checks that container names are unique across
// initContainers and containers, naming both places of a duplicate.
func (t *translator) uniqueNames(s *corev1.PodSpec, sp string) {
	first := map[string]string{}
	for _, list := range []struct {
		field string
		cs    []corev1.Container
	}{{"initContainers", s.InitContainers}, {"containers", s.Containers}} {
		for i, c := range list.cs {
			if c.Name == "" {
				continue
			}
			np := fmt.Sprintf("%s.%s[%d].name", sp, list.field, i)
			if f, dup := first[c.Name]; dup {
				t.err(np, "duplicate name %q (also %s)", c.Name, f)
				continue
			}
			first[c.Name] = np
		}
	}
}

// hostname sets the pod's host name as kubelet makes it.
func (t *translator) hostname(s *corev1.PodSpec, sp string, ps *pod.Spec) {
	if o := s.HostnameOverride; o != nil && *o != "" {
		hp := sp + ".hostnameOverride"
		switch {
		case len(*o) > 64 || !isSubdomain(*o):
			t.err(hp, "%q is not a lowercase RFC 1123 subdomain of at most 64 characters", *o)
		case s.SetHostnameAsFQDN != nil && *s.SetHostnameAsFQDN:
			t.err(hp, "not with setHostnameAsFQDN: true")
		case s.HostNetwork:
			t.err(hp, "not with hostNetwork: true")
		}
		ps.Hostname = *o
		t.pm.add("spec.hostname", hp)
		return
	}
	if s.Hostname != "" {
		if !isLabel(s.Hostname) {
			t.err(sp+".hostname", "%q is not a lowercase RFC 1123 label", s.Hostname)
		}
		return
	}
	if s.HostNetwork {
		// kubelet gives a pod in the host's network the host's name.
		name := strings.ToLower(t.l.o.NodeName)
		if len(name) <= 63 && pod.IsName(name) {
			ps.Hostname = name
			t.pm.add("spec.hostname", sp+".hostNetwork")
			return
		}
		why := "the host's name is unknown"
		if name != "" {
			why = fmt.Sprintf("the host's name %q is not a pod's host name: lowercase RFC 1123 labels joined by dots, at most 63 characters", t.l.o.NodeName)
		}
		t.notice("%s: %s; the pod's host name is %q, as without hostNetwork", sp+".hostNetwork", why, pod.DefaultHostname(t.name))
	}
	// The default is metadata.name, cut as kubelet cuts it
	// (pod.DefaultHostname); a problem of it is one of metadata.name.
	t.pm.add("spec.hostname", "")
	if t.podName != t.name {
		// Renamed (NameAnnotation): the host name is still the
		// Kubernetes name's.
		ps.Hostname = pod.DefaultHostname(t.name)
	}
}

// container maps a container; cp is its path in the document and pp the
// process's in the pod.
func (t *translator) container(c *corev1.Container, cp, pp string, init bool) pod.Process {
	p := pod.Process{
		Name:       c.Name,
		WorkingDir: c.WorkingDir,
		Stdin:      c.Stdin,
		TTY:        c.TTY,
	}
	env, vars := t.env(c, cp, pp)
	p.Env = env
	mapping := mappingFuncFor(vars)
	expandAll := func(list []string) []string {
		if list == nil {
			return nil
		}
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = expand(s, mapping)
		}
		return out
	}
	switch {
	case len(c.Command) > 0:
		p.Command, p.Args = expandAll(c.Command), expandAll(c.Args)
	case len(c.Args) > 0:
		// No image, so no entrypoint: args are the whole command line.
		p.Command = expandAll(c.Args)
		t.pm.add(pp+".command", cp+".args")
	case t.misspelt(cp, "command", "args"):
		// The misspelt field is reported: "required" would repeat it.
	default:
		if c.Image != "" {
			t.err(cp+".command", "required: podvisor runs host programs and ignores the image %q", c.Image)
		} else {
			t.err(cp+".command", "required: podvisor runs host programs, and the container names neither a command, args nor an image")
		}
	}
	for i, port := range c.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", cp, i)
		p.Ports = append(p.Ports, pod.ContainerPort{Name: port.Name, ContainerPort: port.ContainerPort, Protocol: string(port.Protocol), HostPort: port.HostPort, HostIP: port.HostIP})
		if port.HostPort != 0 && t.spec.HostNetwork && port.HostPort != port.ContainerPort {
			t.err(pp+".hostPort", "must equal containerPort (%d) with hostNetwork, got %d", port.ContainerPort, port.HostPort)
		}
	}
	p.Resources = t.resources(c.Resources, cp+".resources", false)
	if c.RestartPolicy != nil {
		p.RestartPolicy = pod.RestartPolicy(*c.RestartPolicy)
	}
	for _, r := range c.RestartPolicyRules {
		rule := pod.RestartRule{Action: string(r.Action)}
		if r.ExitCodes != nil {
			rule.ExitCodes = &pod.ExitCodesRequirement{Operator: string(r.ExitCodes.Operator), Values: r.ExitCodes.Values}
		}
		p.RestartPolicyRules = append(p.RestartPolicyRules, rule)
	}
	p.VolumeMounts = t.volumeMounts(c, cp)
	p.LivenessProbe = probe(c.LivenessProbe)
	p.ReadinessProbe = probe(c.ReadinessProbe)
	p.StartupProbe = probe(c.StartupProbe)
	if l := c.Lifecycle; l != nil {
		p.Lifecycle = &pod.Lifecycle{PostStart: handler(l.PostStart), PreStop: handler(l.PreStop)}
		if l.StopSignal != nil {
			p.Lifecycle.StopSignal = string(*l.StopSignal)
		}
	}
	p.SecurityContext = t.containerSecurity(c.SecurityContext, cp+".securityContext")
	return p
}

// misspelt reports whether decoding found, under path, an unknown field
// that is a near miss of one of names.
func (t *translator) misspelt(path string, names ...string) bool {
	for _, e := range t.d.errs {
		if strings.HasPrefix(e.Field, path+".") {
			for _, n := range names {
				if strings.Contains(e.Detail, fmt.Sprintf("did you mean %q?", n)) {
					return true
				}
			}
		}
	}
	return false
}

func probe(pr *corev1.Probe) *pod.Probe {
	if pr == nil {
		return nil
	}
	return &pod.Probe{
		Exec:                          execAction(pr.Exec),
		HTTPGet:                       httpGet(pr.HTTPGet),
		TCPSocket:                     tcpSocket(pr.TCPSocket),
		GRPC:                          grpc(pr.GRPC),
		InitialDelaySeconds:           pr.InitialDelaySeconds,
		PeriodSeconds:                 pr.PeriodSeconds,
		TimeoutSeconds:                pr.TimeoutSeconds,
		SuccessThreshold:              pr.SuccessThreshold,
		FailureThreshold:              pr.FailureThreshold,
		TerminationGracePeriodSeconds: pr.TerminationGracePeriodSeconds,
	}
}

func handler(h *corev1.LifecycleHandler) *pod.LifecycleHandler {
	if h == nil {
		return nil
	}
	out := &pod.LifecycleHandler{Exec: execAction(h.Exec), HTTPGet: httpGet(h.HTTPGet), TCPSocket: tcpSocket(h.TCPSocket)}
	if h.Sleep != nil {
		out.Sleep = &pod.SleepAction{Seconds: h.Sleep.Seconds}
	}
	return out
}

func execAction(e *corev1.ExecAction) *pod.ExecAction {
	if e == nil {
		return nil
	}
	return &pod.ExecAction{Command: e.Command}
}

func httpGet(h *corev1.HTTPGetAction) *pod.HTTPGetAction {
	if h == nil {
		return nil
	}
	out := &pod.HTTPGetAction{Path: h.Path, Port: port(h.Port), Host: h.Host, Scheme: string(h.Scheme)}
	for _, hd := range h.HTTPHeaders {
		out.HTTPHeaders = append(out.HTTPHeaders, pod.HTTPHeader{Name: hd.Name, Value: hd.Value})
	}
	return out
}

func tcpSocket(s *corev1.TCPSocketAction) *pod.TCPSocketAction {
	if s == nil {
		return nil
	}
	return &pod.TCPSocketAction{Port: port(s.Port), Host: s.Host}
}

func grpc(g *corev1.GRPCAction) *pod.GRPCAction {
	if g == nil {
		return nil
	}
	return &pod.GRPCAction{Port: g.Port, Service: g.Service}
}

func port(v intstr.IntOrString) pod.IntOrString {
	if v.Type == intstr.String {
		return pod.IntOrString{StrVal: v.StrVal, IsString: true}
	}
	return pod.IntOrString{IntVal: v.IntVal}
}

// resources maps resource requirements; podLevel for spec.resources.
func (t *translator) resources(rr corev1.ResourceRequirements, path string, podLevel bool) pod.Resources {
	var out pod.Resources
	limits := map[corev1.ResourceName]*pod.Quantity{}
	for _, which := range []struct {
		name string
		list corev1.ResourceList
		set  func(corev1.ResourceName, *pod.Quantity)
	}{
		{"limits", rr.Limits, func(n corev1.ResourceName, q *pod.Quantity) {
			limits[n] = q
			switch n {
			case corev1.ResourceCPU:
				out.Limits.CPU = q
			case corev1.ResourceMemory:
				out.Limits.Memory = q
			case corev1.ResourceEphemeralStorage:
				out.Limits.EphemeralStorage = q
			}
		}},
		{"requests", rr.Requests, func(n corev1.ResourceName, q *pod.Quantity) {
			switch n {
			case corev1.ResourceCPU:
				out.Requests.CPU = q
			case corev1.ResourceMemory:
				out.Requests.Memory = q
			case corev1.ResourceEphemeralStorage:
				out.Requests.EphemeralStorage = q
			}
		}},
	} {
		for _, name := range sortedKeys(which.list) {
			n := corev1.ResourceName(name)
			qp := fmt.Sprintf("%s.%s[%s]", path, which.name, name)
			if why := t.unsupportedResource(n, which.name, podLevel); why != "" {
				t.refuse(qp, "%s", why)
				continue
			}
			q := which.list[n]
			if q.Sign() < 0 {
				t.err(qp, "must be greater than or equal to 0, got %s", q.String())
				continue
			}
			if n == resourcePids {
				// podvisor's own pod-level limit: a number of tasks.
				if v := q.Value(); v < 1 || q.Cmp(*resource.NewQuantity(v, resource.DecimalSI)) != 0 {
					t.err(qp, "must be a whole number of processes, at least 1, got %s", q.String())
				} else {
					out.Limits.Pids = &v
				}
				continue
			}
			if pq := t.quantity(q, qp); pq != nil {
				which.set(n, pq)
			}
		}
	}
	// A request defaults to its limit, as the API server defaults it.
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		lim, hasLim := rr.Limits[n]
		req, hasReq := rr.Requests[n]
		switch {
		case hasLim && !hasReq && limits[n] != nil:
			q := *limits[n]
			switch n {
			case corev1.ResourceCPU:
				out.Requests.CPU = &q
			case corev1.ResourceMemory:
				out.Requests.Memory = &q
			case corev1.ResourceEphemeralStorage:
				out.Requests.EphemeralStorage = &q
			}
		case hasLim && hasReq && req.Cmp(lim) > 0:
			t.err(fmt.Sprintf("%s.requests[%s]", path, n), "must be less than or equal to %s limit of %s, got %s", n, lim.String(), req.String())
		}
	}
	return out
}

// resourcePids is podvisor's pod-level limit of tasks (pids.max), which a
// manifest may set under spec.resources.limits.
const resourcePids corev1.ResourceName = "pids"

// unsupportedResource says why a resource name is refused in the limits
// or requests (which) of a container or, podLevel, of the pod, or "".
func (t *translator) unsupportedResource(n corev1.ResourceName, which string, podLevel bool) string {
	switch {
	case n == corev1.ResourceCPU || n == corev1.ResourceMemory:
		return ""
	case n == resourcePids && podLevel:
		if which == "limits" {
			return ""
		}
		return "pids is a limit only: there is no pids request"
	case n == resourcePids:
		return fmt.Sprintf("pids is not a container resource: podvisor's pids limit is the pod's, under %s.resources.limits", t.specPath)
	case n == corev1.ResourceEphemeralStorage:
		if podLevel {
			return "ephemeral-storage is not a pod-level resource: set it per container"
		}
		return ""
	case strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix):
		return "huge pages are not supported"
	case strings.Contains(string(n), "/"):
		return "extended resources are not supported"
	case podLevel:
		return fmt.Sprintf("%q is not a pod-level resource: podvisor limits the pod's cpu, memory and pids", n)
	}
	return fmt.Sprintf("%q is not a container resource: podvisor limits cpu, memory and ephemeral-storage", n)
}

// podSecurity maps the pod's security context.
func (t *translator) podSecurity(sc *corev1.PodSecurityContext, path string, s *corev1.PodSpec) *pod.PodSecurityContext {
	if sc == nil {
		return nil
	}
	out := &pod.PodSecurityContext{
		RunAsUser:          sc.RunAsUser,
		RunAsGroup:         sc.RunAsGroup,
		RunAsNonRoot:       sc.RunAsNonRoot,
		SupplementalGroups: sc.SupplementalGroups,
		FSGroup:            sc.FSGroup,
		SeccompProfile:     t.seccomp(sc.SeccompProfile, path+".seccompProfile"),
	}
	t.checkIDs(path, sc.RunAsUser, sc.RunAsGroup)
	if p := sc.SupplementalGroupsPolicy; p != nil {
		switch *p {
		case corev1.SupplementalGroupsPolicyMerge:
		case corev1.SupplementalGroupsPolicyStrict:
			t.refuse(path+".supplementalGroupsPolicy", "Strict is not supported: the groups of the user's /etc/group entries are added")
		default:
			t.err(path+".supplementalGroupsPolicy", "unsupported value %q: must be Merge or Strict", *p)
		}
	}
	t.appArmor(sc.AppArmorProfile, path+".appArmorProfile")
	for i, sy := range sc.Sysctls {
		sp := fmt.Sprintf("%s.sysctls[%d]", path, i)
		name := strings.ReplaceAll(sy.Name, "/", ".")
		ipc := strings.HasPrefix(name, "kernel.shm") || strings.HasPrefix(name, "kernel.msg") || name == "kernel.sem" || strings.HasPrefix(name, "fs.mqueue.")
		switch {
		case sy.Name == "":
			// pod.Validate says it.
		case strings.HasPrefix(name, "net."):
			if s.HostNetwork {
				t.refuse(sp+".name", "%q would change the host's network namespace (hostNetwork: true)", sy.Name)
				continue
			}
		case ipc:
			if s.HostIPC {
				t.refuse(sp+".name", "%q would change the host's IPC namespace (hostIPC: true)", sy.Name)
				continue
			}
		default:
			t.refuse(sp+".name", "%q is not a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*): it would change the host", sy.Name)
			continue
		}
		out.Sysctls = append(out.Sysctls, pod.Sysctl{Name: sy.Name, Value: sy.Value})
	}
	return out
}

// containerSecurity maps a container's security context. Every process of
// a manifest gets one, so that it starts with the container runtimes'
// default capabilities.
func (t *translator) containerSecurity(sc *corev1.SecurityContext, path string) *pod.SecurityContext {
	out := &pod.SecurityContext{}
	if sc == nil {
		return out
	}
	out.RunAsUser, out.RunAsGroup, out.RunAsNonRoot = sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot
	out.Privileged = sc.Privileged
	out.AllowPrivilegeEscalation = sc.AllowPrivilegeEscalation
	out.ReadOnlyRootFilesystem = sc.ReadOnlyRootFilesystem
	t.checkIDs(path, sc.RunAsUser, sc.RunAsGroup)
	if c := sc.Capabilities; c != nil {
		out.Capabilities = &pod.Capabilities{}
		for _, a := range c.Add {
			out.Capabilities.Add = append(out.Capabilities.Add, string(a))
		}
		for _, d := range c.Drop {
			out.Capabilities.Drop = append(out.Capabilities.Drop, string(d))
		}
	}
	if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		t.err(path+".allowPrivilegeEscalation", "cannot be false with privileged: true")
	}
	if pm := sc.ProcMount; pm != nil {
		switch *pm {
		case corev1.DefaultProcMount:
			out.ProcMount = string(*pm)
		case corev1.UnmaskedProcMount:
			t.refuse(path+".procMount", "Unmasked is not supported: /proc keeps its default masks")
		default:
			t.err(path+".procMount", "unsupported value %q: must be Default or Unmasked", *pm)
		}
	}
	out.SeccompProfile = t.seccomp(sc.SeccompProfile, path+".seccompProfile")
	t.appArmor(sc.AppArmorProfile, path+".appArmorProfile")
	return out
}

func (t *translator) checkIDs(path string, uid, gid *int64) {
	for _, id := range []struct {
		name string
		v    *int64
	}{{"runAsUser", uid}, {"runAsGroup", gid}} {
		if id.v != nil && (*id.v < 0 || *id.v > 2147483647) {
			t.err(path+"."+id.name, "must be between 0 and 2147483647, got %d", *id.v)
		}
	}
}

func (t *translator) seccomp(p *corev1.SeccompProfile, path string) *pod.SeccompProfile {
	if p == nil {
		return nil
	}
	out := &pod.SeccompProfile{Type: string(p.Type), LocalhostProfile: p.LocalhostProfile}
	switch p.Type {
	case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
		if p.LocalhostProfile != nil {
			t.err(path+".localhostProfile", "only with type Localhost")
		}
	case corev1.SeccompProfileTypeLocalhost:
		t.refuseInstead(path+".type", "RuntimeDefault stands in for it",
			"Localhost is not supported: podvisor applies RuntimeDefault (the container runtimes' default filter) or Unconfined")
		out.Type, out.LocalhostProfile = pod.SeccompRuntimeDefault, nil
	case "":
		t.err(path+".type", "required: RuntimeDefault, Localhost or Unconfined")
	default:
		t.err(path+".type", "unsupported value %q: must be RuntimeDefault, Localhost or Unconfined", p.Type)
	}
	return out
}

func (t *translator) appArmor(p *corev1.AppArmorProfile, path string) {
	if p == nil {
		return
	}
	switch p.Type {
	case corev1.AppArmorProfileTypeUnconfined:
	case corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeLocalhost:
		t.refuse(path+".type", "%s is not supported: podvisor applies no AppArmor profile", p.Type)
	case "":
		t.err(path+".type", "required: Unconfined (RuntimeDefault and Localhost are not supported)")
	default:
		t.err(path+".type", "unsupported value %q: must be Unconfined", p.Type)
	}
}

// quantity converts a Kubernetes quantity, reporting one podvisor cannot
// take at path.
func (t *translator) quantity(q resource.Quantity, path string) *pod.Quantity {
	pq, err := pod.ParseQuantity(q.String())
	if err != nil {
		t.err(path, "%v", err)
		return nil
	}
	return &pq
}

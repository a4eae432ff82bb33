package kube

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podvisor/podvisor/pod"
)

// env resolves a container's environment as kubelet does: envFrom first,
// in order, then env, in order, a later variable of a name replacing an
// earlier one; a value's $(VAR) references see the variables before it.
// It returns the variables in the order of their first definition, and
// them all by name (for command and args).
func (t *translator) env(c *corev1.Container, cp, pp string) ([]pod.EnvVar, map[string]string) {
	vars := map[string]string{}
	var order []string
	src := map[string]string{}
	whole := map[string]bool{}
	// runtime are the variables whose value comes when the process
	// starts (the pod's address): name → fieldPath. They stay out of vars,
	// so that $(NAME) references to them are expanded then.
	runtime := map[string]string{}
	seen := map[string]bool{}
	set := func(name, val, path string, fromEnvFrom bool) {
		if !seen[name] {
			seen[name] = true
			order = append(order, name)
		}
		vars[name], src[name], whole[name] = val, path, fromEnvFrom
		delete(runtime, name)
	}
	for i, ef := range c.EnvFrom {
		ep := fmt.Sprintf("%s.envFrom[%d]", cp, i)
		var kind, name, refPath string
		var optional *bool
		switch {
		case ef.ConfigMapRef != nil && ef.SecretRef != nil:
			t.err(ep, "must have exactly one of configMapRef and secretRef")
			continue
		case ef.ConfigMapRef != nil:
			kind, name, optional, refPath = "ConfigMap", ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional, ep+".configMapRef"
		case ef.SecretRef != nil:
			kind, name, optional, refPath = "Secret", ef.SecretRef.Name, ef.SecretRef.Optional, ep+".secretRef"
		default:
			t.err(ep, "required: configMapRef or secretRef")
			continue
		}
		if name == "" {
			t.err(refPath+".name", "required")
			continue
		}
		obj := t.l.data.find(kind, t.namespace, name)
		if obj == nil {
			if optional == nil || !*optional {
				t.err(refPath, "%s %q not found%s", strings.ToLower(kind), name, t.inNamespace())
			}
			continue
		}
		var invalid []string
		for _, k := range obj.textKeys() {
			n := ef.Prefix + k
			if !isEnvName(n) {
				invalid = append(invalid, strconv.Quote(n))
				continue
			}
			set(n, obj.text[k], ep, true)
		}
		if len(invalid) > 0 {
			t.notice("%s: keys of %s %q skipped, not valid environment variable names: %s", ep, strings.ToLower(kind), name, strings.Join(invalid, ", "))
		}
	}
	for i, e := range c.Env {
		ep := fmt.Sprintf("%s.env[%d]", cp, i)
		switch {
		case e.Name == "":
			t.err(ep+".name", "required")
			continue
		case !isEnvName(e.Name):
			t.err(ep+".name", "invalid environment variable name %q: a letter or '_', then letters, digits, '_', '-' or '.'", e.Name)
			continue
		}
		val := e.Value
		if e.ValueFrom != nil {
			if e.Value != "" {
				t.err(ep+".valueFrom", "must not be set when value is not empty")
				continue
			}
			v, ok := t.valueFrom(e.ValueFrom, ep+".valueFrom", c)
			if !ok {
				continue
			}
			if fr := e.ValueFrom.FieldRef; fr != nil && !t.spec.HostNetwork && (fr.FieldPath == "status.podIP" || fr.FieldPath == "status.podIPs") {
				set(e.Name, "", ep, false)
				delete(vars, e.Name)
				runtime[e.Name] = fr.FieldPath
				continue
			}
			val = v
		} else if e.Value != "" {
			val = expand(e.Value, mappingFuncFor(vars))
		}
		set(e.Name, val, ep, false)
	}
	out := make([]pod.EnvVar, 0, len(order))
	for j, n := range order {
		if fp, ok := runtime[n]; ok {
			out = append(out, pod.EnvVar{Name: n, ValueFrom: &pod.EnvVarSource{FieldRef: &pod.FieldRef{FieldPath: fp}}})
		} else {
			out = append(out, pod.EnvVar{Name: n, Value: vars[n]})
		}
		from := fmt.Sprintf("%s.env[%d]", pp, j)
		if whole[n] {
			t.pm.addWhole(from, src[n])
		} else {
			t.pm.add(from, src[n])
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, vars
}

func (t *translator) inNamespace() string {
	if t.namespace == "default" {
		return ""
	}
	return fmt.Sprintf(" in namespace %q", t.namespace)
}

// valueFrom resolves an env var's valueFrom; ok is false when the variable
// is left unset (an optional reference to nothing, or a problem reported).
func (t *translator) valueFrom(vf *corev1.EnvVarSource, path string, c *corev1.Container) (string, bool) {
	n := 0
	for _, set := range []bool{vf.FieldRef != nil, vf.ResourceFieldRef != nil, vf.ConfigMapKeyRef != nil, vf.SecretKeyRef != nil, vf.FileKeyRef != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		t.err(path, "must have exactly one of fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef")
		return "", false
	case n == 0:
		if !t.l.o.IgnoreUnsupported {
			t.err(path, "required: fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef")
		}
		return "", false
	}
	switch {
	case vf.FieldRef != nil:
		return t.fieldValue(vf.FieldRef, path+".fieldRef", false)
	case vf.ResourceFieldRef != nil:
		return t.resourceValue(vf.ResourceFieldRef, path+".resourceFieldRef", c, false)
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		return t.keyRef("ConfigMap", r.Name, r.Key, r.Optional, path+".configMapKeyRef")
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		return t.keyRef("Secret", r.Name, r.Key, r.Optional, path+".secretKeyRef")
	}
	return "", false
}

// keyRef resolves a configMapKeyRef or secretKeyRef.
func (t *translator) keyRef(kind, name, key string, optional *bool, path string) (string, bool) {
	bad := false
	if name == "" {
		t.err(path+".name", "required")
		bad = true
	}
	if key == "" {
		t.err(path+".key", "required")
		bad = true
	} else if !configKeyRE.MatchString(key) {
		t.err(path+".key", "invalid key %q: must consist of letters, digits, '-', '_' or '.'", key)
		bad = true
	}
	if bad {
		return "", false
	}
	opt := optional != nil && *optional
	obj := t.l.data.find(kind, t.namespace, name)
	if obj == nil {
		if !opt {
			t.err(path, "%s %q not found%s", strings.ToLower(kind), name, t.inNamespace())
		}
		return "", false
	}
	v, ok := obj.text[key]
	if !ok {
		if !opt {
			what := ""
			if _, bin := obj.data[key]; bin {
				what = " (a binaryData key cannot be an environment variable)"
			}
			t.err(path+".key", "key %q not found in %s %q%s", key, strings.ToLower(kind), name, what)
		}
		return "", false
	}
	return v, true
}

// envFieldPaths and volumeFieldPaths are the fieldRef paths Kubernetes
// supports in env and in downwardAPI volumes (besides labels['k'] and
// annotations['k']).
var (
	envFieldPaths    = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	volumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations"}
)

// fieldValue resolves a fieldRef: of env, or of a downwardAPI volume.
func (t *translator) fieldValue(fs *corev1.ObjectFieldSelector, path string, volume bool) (string, bool) {
	if fs.APIVersion != "" && fs.APIVersion != "v1" {
		t.err(path+".apiVersion", "unsupported value %q: must be v1", fs.APIVersion)
		return "", false
	}
	fp := fs.FieldPath
	if fp == "" {
		t.err(path+".fieldPath", "required")
		return "", false
	}
	if base, key, ok := subscripted(fp); ok && (base == "metadata.labels" || base == "metadata.annotations") {
		if !isQualifiedName(key) {
			t.err(path+".fieldPath", "invalid key %q in %q", key, fp)
			return "", false
		}
		if base == "metadata.labels" {
			return t.labels[key], true
		}
		return t.annotations[key], true
	}
	supported := envFieldPaths
	if volume {
		supported = volumeFieldPaths
	}
	if !contains(supported, fp) {
		t.err(path+".fieldPath", "unsupported value %q: supported values: %s, metadata.labels['KEY'], metadata.annotations['KEY']", fp, strings.Join(supported, ", "))
		return "", false
	}
	switch fp {
	case "metadata.name":
		return t.name, true
	case "metadata.namespace":
		return t.namespace, true
	case "metadata.uid":
		return t.uid, true
	case "metadata.labels":
		return formatMap(t.labels), true
	case "metadata.annotations":
		return formatMap(t.annotations), true
	case "spec.nodeName":
		// A Pod bound to a node (a node agent's) says which; else the
		// host's name.
		if t.spec.NodeName != "" {
			return t.spec.NodeName, true
		}
		return t.l.o.NodeName, true
	case "spec.serviceAccountName":
		if sa := t.spec.ServiceAccountName; sa != "" {
			return sa, true
		}
		if sa := t.spec.DeprecatedServiceAccount; sa != "" {
			return sa, true
		}
		return "default", true
	case "status.hostIP", "status.hostIPs":
		return t.l.o.HostIP, true
	case "status.podIP", "status.podIPs":
		// Known when the process starts (env), or not at all (a
		// downwardAPI volume, where Kubernetes does not allow it).
		if t.spec.HostNetwork {
			return t.l.o.HostIP, true
		}
		return "", true
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// subscripted splits "metadata.labels['key']" into its path and key.
func subscripted(fp string) (base, key string, ok bool) {
	if !strings.HasSuffix(fp, "']") {
		return "", "", false
	}
	i := strings.Index(fp, "['")
	if i < 0 {
		return "", "", false
	}
	return fp[:i], fp[i+2 : len(fp)-2], true
}

// formatMap writes labels or annotations as the downward API does: one
// key="value" line per key, sorted, the value quoted as Go quotes it.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", k, m[k])
	}
	return b.String()
}

// Divisors Kubernetes accepts.
var (
	cpuDivisors    = []string{"1m", "1"}
	memoryDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

// resourceValue resolves a resourceFieldRef as kubelet does: the
// container's limit (an unset one is the pod's, else the host's) or
// request (an unset one is its limit, else 0), divided by the divisor and
// rounded up.
func (t *translator) resourceValue(fs *corev1.ResourceFieldSelector, path string, self *corev1.Container, volume bool) (string, bool) {
	c := self
	if fs.ContainerName != "" {
		c = t.findContainer(fs.ContainerName)
		if c == nil {
			t.err(path+".containerName", "container %q not found in the pod", fs.ContainerName)
			return "", false
		}
	} else if volume {
		t.err(path+".containerName", "required")
		return "", false
	}
	which, resName, _ := strings.Cut(fs.Resource, ".")
	name := corev1.ResourceName(resName)
	divisors := memoryDivisors
	switch {
	case (which == "limits" || which == "requests") && name == corev1.ResourceCPU:
		divisors = cpuDivisors
	case (which == "limits" || which == "requests") && (name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage):
	case (which == "limits" || which == "requests") && strings.HasPrefix(resName, corev1.ResourceHugePagesPrefix):
		t.refuse(path+".resource", "%q: huge pages are not supported", fs.Resource)
		return "", false
	case fs.Resource == "":
		t.err(path+".resource", "required")
		return "", false
	default:
		t.err(path+".resource", "unsupported value %q: supported values: limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage", fs.Resource)
		return "", false
	}
	divisor := resource.MustParse("1")
	if !fs.Divisor.IsZero() {
		ok := false
		for _, d := range divisors {
			if fs.Divisor.Cmp(resource.MustParse(d)) == 0 {
				ok = true
			}
		}
		if !ok {
			t.err(path+".divisor", "unsupported value %q: must be one of %s for %s", fs.Divisor.String(), strings.Join(divisors, ", "), resName)
			return "", false
		}
		divisor = fs.Divisor
	}
	var q resource.Quantity
	if which == "requests" {
		if v, ok := c.Resources.Requests[name]; ok {
			q = v
		} else if v, ok := c.Resources.Limits[name]; ok {
			q = v
		}
	} else {
		v, ok := c.Resources.Limits[name]
		if !ok && t.spec.Resources != nil && name != corev1.ResourceEphemeralStorage {
			v, ok = t.spec.Resources.Limits[name]
		}
		if !ok {
			switch name {
			case corev1.ResourceCPU:
				v, ok = *resource.NewQuantity(int64(t.l.o.NodeCPU), resource.DecimalSI), t.l.o.NodeCPU > 0
			case corev1.ResourceMemory:
				v, ok = *resource.NewQuantity(t.l.o.NodeMemory, resource.BinarySI), t.l.o.NodeMemory > 0
			default:
				v, ok = *resource.NewQuantity(t.l.o.NodeEphemeralStorage, resource.BinarySI), t.l.o.NodeEphemeralStorage > 0
			}
			if !ok {
				t.err(path+".resource", "%s: the container sets no limit and the host's %s is unknown", fs.Resource, resName)
				return "", false
			}
		}
		q = v
	}
	var n int64
	if name == corev1.ResourceCPU {
		n = ceilDiv(q.MilliValue(), divisor.MilliValue())
	} else {
		n = ceilDiv(q.Value(), divisor.Value())
	}
	return strconv.FormatInt(n, 10), true
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return 0
	}
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// findContainer finds a container of the pod by name.
func (t *translator) findContainer(name string) *corev1.Container {
	for _, list := range [][]corev1.Container{t.spec.Containers, t.spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

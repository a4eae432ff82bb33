package kube

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/pod"
)

// volumeSources are the JSON names of a VolumeSource's fields.
var volumeSources = fieldsOf(reflect.TypeFor[corev1.VolumeSource]())

// setSources names the sources a volume sets.
func setSources(vs *corev1.VolumeSource) []string {
	v := reflect.ValueOf(vs).Elem()
	var names []string
	for _, f := range volumeSources.list {
		if fv := v.FieldByIndex(f.index); fv.Kind() == reflect.Pointer && !fv.IsNil() {
			names = append(names, f.name)
		}
	}
	return names
}

// volumes maps the pod's volumes. A configMap, secret, downwardAPI or
// projected volume becomes a files volume, its files resolved now.
func (t *translator) volumes(s *corev1.PodSpec, sp string) []pod.Volume {
	var out []pod.Volume
	names := map[string]bool{}
	for i := range s.Volumes {
		v := &s.Volumes[i]
		vp := fmt.Sprintf("%s.volumes[%d]", sp, i)
		switch {
		case v.Name == "":
			t.err(vp+".name", "required")
		case !isLabel(v.Name):
			t.err(vp+".name", "%q is not a lowercase RFC 1123 label", v.Name)
		case names[v.Name]:
			t.err(vp+".name", "duplicate volume name %q", v.Name)
		}
		names[v.Name] = true
		pv := pod.Volume{Name: v.Name}
		sources := setSources(&v.VolumeSource)
		if len(sources) > 1 {
			t.err(vp, "must have exactly one volume source, got %s", strings.Join(sources, " and "))
		}
		switch {
		case v.HostPath != nil:
			pv.HostPath = t.hostPath(v.HostPath, vp+".hostPath")
		case v.EmptyDir != nil:
			pv.EmptyDir = t.emptyDir(v.EmptyDir, vp+".emptyDir")
		case v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Projected != nil:
			src := sources[0]
			pv.Files = t.filesVolume(v, vp, vp+"."+src)
			t.pm.addWhole(fmt.Sprintf("spec.volumes[%d].files", i), vp+"."+src)
		default:
			// No source (or a refused one, left out): an emptyDir, as the
			// API server defaults it.
			pv.EmptyDir = &pod.EmptyDirVolume{}
		}
		out = append(out, pv)
	}
	return out
}

func (t *translator) hostPath(h *corev1.HostPathVolumeSource, hp string) *pod.HostPathVolume {
	out := &pod.HostPathVolume{Path: h.Path}
	switch {
	case h.Path == "":
		t.err(hp+".path", "required")
	case !path.IsAbs(h.Path):
		t.err(hp+".path", "must be an absolute path, got %q", h.Path)
	case slices.Contains(strings.Split(h.Path, "/"), ".."):
		t.err(hp+".path", "must not contain \"..\", got %q", h.Path)
	}
	if h.Type != nil {
		out.Type = string(*h.Type)
		switch out.Type {
		case pod.HostPathUnset, pod.HostPathDirectoryOrCreate, pod.HostPathDirectory, pod.HostPathFileOrCreate,
			pod.HostPathFile, pod.HostPathSocket, pod.HostPathCharDev, pod.HostPathBlockDev:
		default:
			t.err(hp+".type", "unsupported value %q: must be \"\", DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice or BlockDevice", out.Type)
		}
	}
	return out
}

func (t *translator) emptyDir(e *corev1.EmptyDirVolumeSource, ep string) *pod.EmptyDirVolume {
	out := &pod.EmptyDirVolume{}
	switch m := string(e.Medium); {
	case m == pod.MediumDefault || m == pod.MediumMemory:
		out.Medium = m
	case strings.HasPrefix(m, "HugePages"):
		t.refuse(ep+".medium", "%s: huge pages are not supported", m)
	default:
		t.err(ep+".medium", "unsupported value %q: must be \"\" or Memory", m)
	}
	if e.SizeLimit != nil {
		if e.SizeLimit.Sign() < 0 {
			t.err(ep+".sizeLimit", "must be greater than or equal to 0, got %s", e.SizeLimit.String())
		} else {
			out.SizeLimit = t.quantity(*e.SizeLimit, ep+".sizeLimit")
		}
	}
	return out
}

// fileSet gathers the files of a files volume.
type fileSet struct {
	items  []pod.FileItem
	at     map[string]string // file path -> its source's path in the manifest
	memory bool
}

func (fs *fileSet) add(t *translator, p string, data []byte, mode *int32, where string) {
	if prev, dup := fs.at[p]; dup {
		t.err(where, "two files at path %q (also from %s)", p, prev)
		return
	}
	fs.at[p] = where
	it := pod.FileItem{Path: p, Mode: mode}
	if utf8.Valid(data) {
		it.Data = string(data)
	} else {
		it.BinaryData = data
	}
	fs.items = append(fs.items, it)
}

// filesVolume resolves a configMap, secret, downwardAPI or projected
// volume to its files.
func (t *translator) filesVolume(v *corev1.Volume, vp, srcPath string) *pod.FilesVolume {
	fs := &fileSet{at: map[string]string{}}
	switch {
	case v.ConfigMap != nil:
		c := v.ConfigMap
		mode := t.mode(c.DefaultMode, srcPath+".defaultMode")
		t.keyFiles(fs, "ConfigMap", c.Name, srcPath+".name", c.Items, mode, c.Optional, srcPath)
	case v.Secret != nil:
		s := v.Secret
		mode := t.mode(s.DefaultMode, srcPath+".defaultMode")
		t.keyFiles(fs, "Secret", s.SecretName, srcPath+".secretName", s.Items, mode, s.Optional, srcPath)
	case v.DownwardAPI != nil:
		d := v.DownwardAPI
		mode := t.mode(d.DefaultMode, srcPath+".defaultMode")
		t.downwardFiles(fs, d.Items, mode, srcPath)
	case v.Projected != nil:
		p := v.Projected
		mode := t.mode(p.DefaultMode, srcPath+".defaultMode")
		for j, src := range p.Sources {
			sp := fmt.Sprintf("%s.sources[%d]", srcPath, j)
			var set []string
			for _, s := range []struct {
				name string
				on   bool
			}{{"secret", src.Secret != nil}, {"downwardAPI", src.DownwardAPI != nil}, {"configMap", src.ConfigMap != nil},
				{"serviceAccountToken", src.ServiceAccountToken != nil}, {"clusterTrustBundle", src.ClusterTrustBundle != nil}, {"podCertificate", src.PodCertificate != nil}} {
				if s.on {
					set = append(set, s.name)
				}
			}
			if len(set) > 1 {
				t.err(sp, "must have exactly one source, got %s", strings.Join(set, " and "))
				continue
			}
			switch {
			case src.Secret != nil:
				t.keyFiles(fs, "Secret", src.Secret.Name, sp+".secret.name", src.Secret.Items, mode, src.Secret.Optional, sp+".secret")
			case src.ConfigMap != nil:
				t.keyFiles(fs, "ConfigMap", src.ConfigMap.Name, sp+".configMap.name", src.ConfigMap.Items, mode, src.ConfigMap.Optional, sp+".configMap")
			case src.DownwardAPI != nil:
				t.downwardFiles(fs, src.DownwardAPI.Items, mode, sp+".downwardAPI")
			}
		}
	}
	out := &pod.FilesVolume{Items: fs.items}
	if out.Items == nil {
		out.Items = []pod.FileItem{}
	}
	if fs.memory {
		out.Medium = pod.MediumMemory
	}
	return out
}

// mode checks a file mode (defaultMode or an item's mode).
func (t *translator) mode(m *int32, mp string) *int32 {
	if m == nil {
		return nil
	}
	if *m < 0 || *m > 0o777 {
		t.err(mp, "must be a number between 0 and 0777 (octal), both inclusive, got %d (%#o)", *m, *m)
		return nil
	}
	v := *m
	return &v
}

// checkFilePath checks the path of a file in a volume, as Kubernetes
// does: relative, without a ".." element, not starting with "..".
func (t *translator) checkFilePath(p, where string) bool {
	switch {
	case p == "":
		t.err(where, "required")
	case path.IsAbs(p):
		t.err(where, "must be a relative path, got %q", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		t.err(where, "must not contain \"..\", got %q", p)
	case strings.HasPrefix(p, ".."):
		t.err(where, "must not start with \"..\", got %q", p)
	default:
		return true
	}
	return false
}

// keyFiles adds the files of a ConfigMap or Secret: every key at its name,
// or the items.
func (t *translator) keyFiles(fs *fileSet, kind, name, namePath string, items []corev1.KeyToPath, mode *int32, optional *bool, srcPath string) {
	if name == "" {
		t.err(namePath, "required")
		return
	}
	if kind == "Secret" {
		fs.memory = true
	}
	opt := optional != nil && *optional
	obj := t.l.data.find(kind, t.namespace, name)
	if obj == nil {
		if !opt {
			t.err(srcPath, "%s %q not found%s", strings.ToLower(kind), name, t.inNamespace())
		}
		return
	}
	if len(items) == 0 {
		for _, k := range obj.keys() {
			fs.add(t, k, obj.data[k], mode, srcPath)
		}
		return
	}
	for j, it := range items {
		ip := fmt.Sprintf("%s.items[%d]", srcPath, j)
		m := mode
		if it.Mode != nil {
			m = t.mode(it.Mode, ip+".mode")
		}
		if !t.checkFilePath(it.Path, ip+".path") {
			continue
		}
		data, ok := obj.data[it.Key]
		if !ok {
			if it.Key == "" {
				t.err(ip+".key", "required")
			} else if !opt {
				t.err(ip+".key", "key %q not found in %s %q", it.Key, strings.ToLower(kind), name)
			}
			continue
		}
		fs.add(t, it.Path, data, m, ip)
	}
}

// downwardFiles adds the files of a downwardAPI volume or projection.
func (t *translator) downwardFiles(fs *fileSet, items []corev1.DownwardAPIVolumeFile, mode *int32, srcPath string) {
	for j, it := range items {
		ip := fmt.Sprintf("%s.items[%d]", srcPath, j)
		m := mode
		if it.Mode != nil {
			m = t.mode(it.Mode, ip+".mode")
		}
		if !t.checkFilePath(it.Path, ip+".path") {
			continue
		}
		var val string
		var ok bool
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			t.err(ip, "must have exactly one of fieldRef and resourceFieldRef")
			continue
		case it.FieldRef != nil:
			val, ok = t.fieldValue(it.FieldRef, ip+".fieldRef", true)
		case it.ResourceFieldRef != nil:
			val, ok = t.resourceValue(it.ResourceFieldRef, ip+".resourceFieldRef", nil, true)
		default:
			t.err(ip, "required: fieldRef or resourceFieldRef")
			continue
		}
		if ok {
			fs.add(t, it.Path, []byte(val), m, ip)
		}
	}
}

// volumeMounts maps a container's volume mounts.
func (t *translator) volumeMounts(c *corev1.Container, cp string) []pod.VolumeMount {
	var out []pod.VolumeMount
	mountPaths := map[string]bool{}
	for j, m := range c.VolumeMounts {
		mp := fmt.Sprintf("%s.volumeMounts[%d]", cp, j)
		switch {
		case m.Name == "":
			t.err(mp+".name", "required")
		case !slices.ContainsFunc(t.spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }):
			t.err(mp+".name", "no volume named %q in %s.volumes", m.Name, t.specPath)
		}
		switch {
		case m.MountPath == "":
			t.err(mp+".mountPath", "required")
		case !path.IsAbs(m.MountPath):
			t.err(mp+".mountPath", "must be an absolute path, got %q", m.MountPath)
		case mountPaths[path.Clean(m.MountPath)]:
			t.err(mp+".mountPath", "must be unique in the container: %q is mounted already", m.MountPath)
		}
		mountPaths[path.Clean(m.MountPath)] = true
		if m.SubPath != "" {
			t.checkSubPath(m.SubPath, mp+".subPath")
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				t.err(mp+".subPathExpr", "subPathExpr and subPath are mutually exclusive")
			} else {
				t.checkSubPath(m.SubPathExpr, mp+".subPathExpr")
			}
		}
		if p := m.MountPropagation; p != nil {
			switch *p {
			case corev1.MountPropagationNone:
			case corev1.MountPropagationHostToContainer:
				t.notice("%s.mountPropagation: HostToContainer has no effect of its own (the pod's mount namespace receives the host's mounts as a whole)", mp)
			case corev1.MountPropagationBidirectional:
				t.refuse(mp+".mountPropagation", "Bidirectional is not supported: no mount propagates from a pod to the host")
			default:
				t.err(mp+".mountPropagation", "unsupported value %q: must be None, HostToContainer or Bidirectional", *p)
			}
		}
		if r := m.RecursiveReadOnly; r != nil {
			switch *r {
			case corev1.RecursiveReadOnlyDisabled:
			case corev1.RecursiveReadOnlyIfPossible, corev1.RecursiveReadOnlyEnabled:
				switch {
				case !m.ReadOnly:
					t.err(mp+".recursiveReadOnly", "%s needs readOnly: true", *r)
				case m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone:
					t.err(mp+".recursiveReadOnly", "%s needs mountPropagation None", *r)
				case *r == corev1.RecursiveReadOnlyIfPossible:
					t.notice("%s.recursiveReadOnly: IfPossible: the mount is read-only, its submounts are not", mp)
				default:
					t.refuse(mp+".recursiveReadOnly", "Enabled is not supported: submounts of a read-only mount stay as they are")
				}
			default:
				t.err(mp+".recursiveReadOnly", "unsupported value %q: must be Disabled, IfPossible or Enabled", *r)
			}
		}
		out = append(out, pod.VolumeMount{
			Name:        m.Name,
			MountPath:   m.MountPath,
			ReadOnly:    m.ReadOnly,
			SubPath:     m.SubPath,
			SubPathExpr: m.SubPathExpr,
		})
	}
	return out
}

// checkSubPath checks a subPath (or subPathExpr, before expansion):
// relative, without a ".." element.
func (t *translator) checkSubPath(p, where string) {
	switch {
	case path.IsAbs(p):
		t.err(where, "must be a relative path, got %q", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		t.err(where, "must not contain \"..\", got %q", p)
	}
}

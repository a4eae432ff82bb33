package pod

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"
)

// maxAnnotationsSize bounds the annotations of a pod, as Kubernetes does.
const maxAnnotationsSize = 256 << 10

func validateAnnotations(errs *ErrorList, a map[string]string) {
	total := 0
	for _, k := range slices.Sorted(maps.Keys(a)) {
		field := fmt.Sprintf("metadata.annotations[%q]", k)
		if name := k[strings.LastIndex(k, "/")+1:]; !labelKeyRE.MatchString(k) || len(name) > 63 {
			errs.add(field, "invalid annotation key %s", quote(k))
		}
		noNUL(errs, field, a[k])
		total += len(k) + len(a[k])
	}
	if total > maxAnnotationsSize {
		errs.add("metadata.annotations", "must be at most %d bytes in all, got %d", maxAnnotationsSize, total)
	}
}

func validateResources(errs *ErrorList, field string, r Resources) {
	validateLimits(errs, field+".limits", r.Limits)
	l, q := r.Limits, r.Requests
	positive := func(f string, v *Quantity) {
		if v != nil && v.Sign() < 0 {
			errs.add(field+".requests."+f, "must not be negative, got %q", v)
		}
	}
	positive("cpu", q.CPU)
	positive("memory", q.Memory)
	positive("ephemeral-storage", q.EphemeralStorage)
	if l.EphemeralStorage != nil && l.EphemeralStorage.Sign() <= 0 {
		errs.add(field+".limits.ephemeral-storage", "must be positive, got %q", l.EphemeralStorage)
	}
	above := func(f string, req, lim *Quantity) {
		if req != nil && lim != nil && req.Cmp(*lim) > 0 {
			errs.add(field+".requests."+f, "must be less than or equal to the %s limit (%s), got %q", f, lim, req)
		}
	}
	above("cpu", q.CPU, l.CPU)
	above("memory", q.Memory, l.Memory)
	above("ephemeral-storage", q.EphemeralStorage, l.EphemeralStorage)
	if q.CPU != nil && q.CPU.Milli() > MaxCPUMilli {
		errs.add(field+".requests.cpu", "must be at most %d cores, got %q", MaxCPUMilli/1000, q.CPU)
	}
}

// validatePodExtras checks the pod-level fields of the host view: volumes,
// names and their mounts, /etc/hosts and resolv.conf, namespaces, the
// security context, the deadline.
func (x *specIndex) validatePodExtras(errs *ErrorList) {
	s := x.s
	if s.Subdomain != "" {
		validateLabel(errs, "spec.subdomain", s.Subdomain)
	}
	if s.SetHostnameAsFQDN != nil && *s.SetHostnameAsFQDN && s.Subdomain == "" {
		// Kubernetes makes the FQDN from the subdomain: without one the
		// host name stays as it is. Accepted, as there.
	}
	if s.ShareProcessNamespace != nil && *s.ShareProcessNamespace && s.HostPID {
		errs.add("spec.shareProcessNamespace", "may not be set together with hostPID")
	}
	if d := s.ActiveDeadlineSeconds; d != nil && *d < 1 {
		errs.add("spec.activeDeadlineSeconds", "must be at least 1, got %d", *d)
	}
	vols := map[string]*Volume{}
	for i := range s.Volumes {
		v := &s.Volumes[i]
		field := fmt.Sprintf("spec.volumes[%d]", i)
		validateLabel(errs, field+".name", v.Name)
		if _, dup := vols[v.Name]; dup && v.Name != "" {
			errs.add(field+".name", "duplicate name %s", quote(v.Name))
		} else {
			vols[v.Name] = v
		}
		validateVolume(errs, field, v)
	}
	for i, a := range s.HostAliases {
		field := fmt.Sprintf("spec.hostAliases[%d]", i)
		if _, err := netip.ParseAddr(a.IP); err != nil {
			errs.add(field+".ip", "must be an IP address, got %s", quote(a.IP))
		}
		if len(a.Hostnames) == 0 {
			errs.add(field+".hostnames", "required: at least one host name")
		}
		for j, h := range a.Hostnames {
			if !IsName(strings.ToLower(h)) {
				errs.add(fmt.Sprintf("%s.hostnames[%d]", field, j), "%s is not a host name", quote(h))
			}
		}
	}
	switch s.DNSPolicy {
	case "", "Default", "ClusterFirst", "ClusterFirstWithHostNet":
	case "None":
		if s.DNSConfig == nil || len(s.DNSConfig.Nameservers) == 0 {
			errs.add("spec.dnsConfig.nameservers", "required: at least one nameserver with dnsPolicy None")
		}
	default:
		errs.add("spec.dnsPolicy", "unsupported value %s: must be Default, ClusterFirst, ClusterFirstWithHostNet or None", quote(s.DNSPolicy))
	}
	if c := s.DNSConfig; c != nil {
		if len(c.Nameservers) > 3 {
			errs.add("spec.dnsConfig.nameservers", "must be at most 3, got %d", len(c.Nameservers))
		}
		for i, n := range c.Nameservers {
			if _, err := netip.ParseAddr(n); err != nil {
				errs.add(fmt.Sprintf("spec.dnsConfig.nameservers[%d]", i), "must be an IP address, got %s", quote(n))
			}
		}
		if len(c.Searches) > 32 {
			errs.add("spec.dnsConfig.searches", "must be at most 32, got %d", len(c.Searches))
		}
		for i, d := range c.Searches {
			if d != "." && !IsName(strings.TrimSuffix(strings.ToLower(d), ".")) {
				errs.add(fmt.Sprintf("spec.dnsConfig.searches[%d]", i), "%s is not a domain name", quote(d))
			}
		}
		for i, o := range c.Options {
			if o.Name == "" || strings.ContainsAny(o.Name, " \t\n:") {
				errs.add(fmt.Sprintf("spec.dnsConfig.options[%d].name", i), "must be a resolver option name, got %s", quote(o.Name))
			}
			if o.Value != nil && strings.ContainsAny(*o.Value, " \t\n") {
				errs.add(fmt.Sprintf("spec.dnsConfig.options[%d].value", i), "must not contain spaces, got %s", quote(*o.Value))
			}
		}
	}
	validatePodSecurity(errs, "spec.securityContext", s)
	for _, list := range []struct {
		field string
		ps    []Process
	}{{"spec.initProcesses", s.InitProcesses}, {"spec.processes", s.Processes}} {
		for i := range list.ps {
			validateMounts(errs, fmt.Sprintf("%s[%d].volumeMounts", list.field, i), list.ps[i].VolumeMounts, vols)
		}
	}
}

func validateVolume(errs *ErrorList, field string, v *Volume) {
	var set []string
	if v.EmptyDir != nil {
		set = append(set, "emptyDir")
		switch v.EmptyDir.Medium {
		case MediumDefault, MediumMemory:
		default:
			errs.add(field+".emptyDir.medium", "unsupported value %s: must be \"\" or Memory", quote(v.EmptyDir.Medium))
		}
		if l := v.EmptyDir.SizeLimit; l != nil && l.Sign() <= 0 {
			errs.add(field+".emptyDir.sizeLimit", "must be positive, got %q", l)
		}
	}
	if h := v.HostPath; h != nil {
		set = append(set, "hostPath")
		switch {
		case h.Path == "":
			errs.add(field+".hostPath.path", "required")
		case !noNUL(errs, field+".hostPath.path", h.Path):
		case !path.IsAbs(h.Path):
			errs.add(field+".hostPath.path", "must be an absolute path, got %s", quote(h.Path))
		}
		switch h.Type {
		case HostPathUnset, HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate,
			HostPathFile, HostPathSocket, HostPathCharDev, HostPathBlockDev:
		default:
			errs.add(field+".hostPath.type", "unsupported value %s: must be DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice or BlockDevice", quote(h.Type))
		}
	}
	if f := v.Files; f != nil {
		set = append(set, "files")
		switch f.Medium {
		case MediumDefault, MediumMemory:
		default:
			errs.add(field+".files.medium", "unsupported value %s: must be \"\" or Memory", quote(f.Medium))
		}
		seen := map[string]bool{}
		for i, it := range f.Items {
			ifield := fmt.Sprintf("%s.files.items[%d]", field, i)
			if p := validateRelPath(errs, ifield+".path", it.Path, true); p != "" {
				if seen[p] {
					errs.add(ifield+".path", "duplicate path %s", quote(it.Path))
				}
				seen[p] = true
			}
			validateMode(errs, ifield+".mode", it.Mode)
			if it.Data != "" && it.BinaryData != nil {
				errs.add(ifield+".binaryData", "may not be set together with data")
			}
		}
		// A file may not be a directory of another ("a" and "a/b").
		for p := range seen {
			for d := path.Dir(p); d != "."; d = path.Dir(d) {
				if seen[d] {
					errs.add(field+".files.items", "%s is both a file and a directory", quote(d))
				}
			}
		}
	}
	switch len(set) {
	case 0:
		errs.add(field, "must set one volume source: emptyDir, hostPath or files")
	case 1:
	default:
		errs.add(field, "must set one volume source, got %s", strings.Join(set, " and "))
	}
}

func validateMode(errs *ErrorList, field string, m *int32) {
	if m != nil && (*m < 0 || *m > 0o777) {
		errs.add(field, "must be between 0 and 0777 (511), got %d", *m)
	}
}

// validateRelPath checks a path that must stay inside a directory: relative,
// no "..", no empty name. It returns the cleaned path, or "" when bad.
func validateRelPath(errs *ErrorList, field, p string, required bool) string {
	switch {
	case p == "":
		if required {
			errs.add(field, "required")
		}
		return ""
	case !noNUL(errs, field, p):
		return ""
	case path.IsAbs(p):
		errs.add(field, "must be a relative path, got %s", quote(p))
		return ""
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			errs.add(field, "must not contain '..', got %s", quote(p))
			return ""
		}
	}
	c := path.Clean(p)
	if c == "." {
		if required {
			errs.add(field, "must name a file, got %s", quote(p))
		}
		return ""
	}
	return c
}

func validateMounts(errs *ErrorList, field string, mounts []VolumeMount, vols map[string]*Volume) {
	targets := map[string]bool{}
	for i, m := range mounts {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case m.Name == "":
			errs.add(f+".name", "required")
		case vols[m.Name] == nil:
			errs.add(f+".name", "no volume named %s in spec.volumes", quote(m.Name))
		}
		switch {
		case m.MountPath == "":
			errs.add(f+".mountPath", "required")
		case !noNUL(errs, f+".mountPath", m.MountPath):
		case !path.IsAbs(m.MountPath):
			errs.add(f+".mountPath", "must be an absolute path, got %s", quote(m.MountPath))
		case path.Clean(m.MountPath) == "/":
			errs.add(f+".mountPath", "must not be /")
		case targets[path.Clean(m.MountPath)]:
			errs.add(f+".mountPath", "%s is mounted twice", quote(m.MountPath))
		default:
			targets[path.Clean(m.MountPath)] = true
		}
		if m.SubPath != "" && m.SubPathExpr != "" {
			errs.add(f+".subPathExpr", "may not be set together with subPath")
		}
		validateRelPath(errs, f+".subPath", m.SubPath, false)
		if m.SubPathExpr != "" && noNUL(errs, f+".subPathExpr", m.SubPathExpr) && path.IsAbs(m.SubPathExpr) {
			errs.add(f+".subPathExpr", "must be a relative path, got %s", quote(m.SubPathExpr))
		}
	}
}

package supervisor

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/podvisor/podvisor/pod"
)

// RefreshFiles brings the pod's files volumes (what a Kubernetes
// manifest's configMap, secret, downwardAPI and projected volumes become)
// up to date with spec, a newer translation of the same pod: each changed
// file is replaced whole (a new file renamed over the old, so a reader
// sees the old content or the new, never a mix), files that are gone are
// removed, as kubelet updates mounted ConfigMaps and Secrets. Processes
// see the new files at once (volumes are shared, not copied, into their
// views); like kubelet's, a file mounted by subPath keeps its content.
// Nothing else of spec is read: the pod's spec does not change (a daemon
// restart makes the volumes from the spec the pod was created with, until
// the next refresh). It returns the names of the volumes that changed. A
// volume spec has that the pod lacks, or that is not a files volume in
// both, is ErrInvalid.
func (p *Pod) RefreshFiles(spec *pod.Pod) ([]string, error) {
	if spec.Metadata.Name != p.name {
		return nil, fmt.Errorf("metadata.name: %q is not pod %q: %w", spec.Metadata.Name, p.name, pod.ErrInvalid)
	}
	cur := map[string]*pod.Volume{}
	for i := range p.spec.Spec.Volumes {
		cur[p.spec.Spec.Volumes[i].Name] = &p.spec.Spec.Volumes[i]
	}
	var fsGroup *int64
	if sc := p.spec.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	p.filesMu.Lock()
	defer p.filesMu.Unlock()
	if p.filesGone {
		return nil, fmt.Errorf("pod %q was removed: %w", p.name, pod.ErrNotFound)
	}
	if p.current == nil {
		p.current = map[string]*pod.FilesVolume{}
	}
	var changed []string
	for i := range spec.Spec.Volumes {
		v := &spec.Spec.Volumes[i]
		if v.Files == nil {
			continue
		}
		field := fmt.Sprintf("spec.volumes[%d]", i)
		old := cur[v.Name]
		if old == nil || old.Files == nil {
			return changed, fmt.Errorf("%s: pod %q has no files volume %q: %w", field, p.name, v.Name, pod.ErrInvalid)
		}
		was := p.current[v.Name]
		if was == nil {
			was = old.Files
		}
		if reflect.DeepEqual(was.Items, v.Files.Items) {
			continue
		}
		if p.files == nil || p.files.vols[v.Name] == "" {
			return changed, fmt.Errorf("%s: volume %q of pod %q is not made: %w", field, v.Name, p.name, pod.ErrConflict)
		}
		dir := p.files.vols[v.Name]
		if err := p.files.writeFiles(dir, v.Files, fsGroup); err != nil {
			return changed, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		keep := map[string]bool{}
		for _, it := range v.Files.Items {
			keep[path.Clean(it.Path)] = true
		}
		for _, it := range was.Items {
			if !keep[path.Clean(it.Path)] {
				if err := os.Remove(filepath.Join(dir, filepath.FromSlash(path.Clean(it.Path)))); err != nil && !os.IsNotExist(err) {
					return changed, fmt.Errorf("volume %q: %w", v.Name, err)
				}
			}
		}
		items := *v.Files
		p.current[v.Name] = &items
		changed = append(changed, v.Name)
		p.log.Info().Str("volume", v.Name).Msg("files volume refreshed")
	}
	sort.Strings(changed)
	return changed, nil
}

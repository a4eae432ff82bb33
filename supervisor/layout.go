package supervisor

import "path/filepath"

// The layout of a pod on the host, computed here and nowhere else:
//
//	<root>/pods/<pod>/              lock, spec.json, state.json
//	<root>/pods/<pod>/logs/<p>.log  a process's log
//	<root>/ns/<pod>/                the namespace files
//	/<cgroup parent>/<pod>          the pod's cgroup
//	/<cgroup parent>/<pod>/<p>      a process's cgroup
//	/<cgroup parent>/<pod>/_exec    exec sessions' cgroup

// execCgroup is the child cgroup of a pod for exec sessions; "_" keeps it
// apart from process names.
const execCgroup = "_exec"

func (s *Supervisor) podDir(name string) string { return filepath.Join(s.opts.Root, "pods", name) }

func (s *Supervisor) nsDir(name string) string { return filepath.Join(s.opts.Root, "ns", name) }

// podCgroup is the path of a pod's cgroup, relative to the cgroup root.
func (s *Supervisor) podCgroup(name string) string {
	return "/" + s.opts.CgroupParent + "/" + cgroupName(name)
}

// processCgroup is the path of a process's cgroup, a child of its pod's
// (podCgroup, or a status's Cgroup).
func processCgroup(podCgroup, process string) string {
	return podCgroup + "/" + cgroupName(process)
}

// cgroupName maps a pod or process name to its cgroup directory name. The
// one label that collides with a cgroup v1 interface file, "tasks", gets a
// suffix.
func cgroupName(name string) string {
	if name == "tasks" {
		return "tasks_"
	}
	return name
}

func logPath(dir, process string) string {
	return filepath.Join(dir, "logs", process+".log")
}

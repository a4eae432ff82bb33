package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/store"
)

// newPod makes a pod's engine, in phase Pending, without its runtime.
func newPod(s *Supervisor, spec *pod.Pod, now time.Time) *Pod {
	name := spec.Metadata.Name
	return &Pod{
		qos:     pod.QOSClass(&spec.Spec),
		sv:      s,
		name:    name,
		spec:    spec,
		log:     s.opts.Logger.With().Str("pod", name).Logger(),
		cmds:    make(chan func()),
		inputs:  make(chan pod.Input, 16),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		m:       pod.NewMachine(name, &spec.Spec, now),
		created: now,
		changed: make(chan struct{}),
		desired: DesiredStopped,

		persistKick: make(chan struct{}, 1),
		persistStop: make(chan struct{}),
		persistDone: make(chan struct{}),
	}
}

// build makes the pod's kernel objects and files, undoing all on error.
func (s *Supervisor) build(spec *pod.Pod, saved *savedState) (_ *Pod, err error) {
	name := spec.Metadata.Name
	p := newPod(s, spec, time.Now())
	p.dir = s.podDir(name)
	p.nsDir = s.nsDir(name)
	p.rt = linuxRuntime{p}
	// On error, closers run first, then undo, each last made first. A
	// create often fails for want of file descriptors: closing ours first
	// gives the removals the few they may need, and the removals of
	// directories and files go by name (rmdir, unlink), needing none.
	var undo, closers []func()
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	logsDir := filepath.Join(p.dir, "logs")
	if pathAbsent(p.dir) {
		undo = append(undo, func() { removeBuiltDir(p.dir, "lock", specFile, stateFile) })
	}
	if pathAbsent(logsDir) {
		undo = append(undo, func() { removeBuiltDir(logsDir) })
	}
	if err := os.MkdirAll(logsDir, 0o700); err != nil {
		return nil, err
	}
	// The lock says which supervisor owns the pod's name on this root; a
	// crashed owner's lock is free again, and its leftovers are swept.
	// A lock file that exists already was left by a supervisor of this root
	// that died while running the pod: only then are an existing cgroup and
	// namespace files its leftovers, to be swept. Otherwise they belong to
	// someone else (another root), and the name is taken.
	lockPath := filepath.Join(p.dir, "lock")
	leftovers := !pathAbsent(lockPath) || saved != nil
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		undo = nil // the directory is the other owner's
		return nil, fmt.Errorf("pod %q is run by another podvisor on root %s: %w", name, s.opts.Root, pod.ErrAlreadyExists)
	}
	p.lock = lock
	// The lock is let go last, once everything else is undone.
	undo = append(undo, func() {
		if !leftovers {
			_ = os.Remove(lockPath)
		}
		lock.Close()
	})
	if leftovers {
		if err := s.sweep(p); err != nil {
			return nil, err
		}
	} else if s.taken(p) {
		return nil, fmt.Errorf("pod %q: its cgroup or namespaces exist already, made by another podvisor (another root, same cgroup parent): %w", name, pod.ErrAlreadyExists)
	}

	// From here the cgroups and namespace files are this pod's: undo
	// removes them by path, also when their Create failed half-way.
	cgPath := s.podCgroup(name)
	undo = append(undo, func() { s.destroyCgroup(cgPath) })
	if p.cg, err = s.h.Create(cgPath, podLimitsOf(&spec.Spec)); err != nil {
		return nil, fmt.Errorf("pod %q: %w", name, err)
	}
	add := func(ps []pod.Process, init bool) error {
		for i := range ps {
			pr := &proc{spec: &ps[i], init: init}
			prPath := processCgroup(cgPath, pr.spec.Name)
			undo = append(undo, func() { s.destroyCgroup(prPath) })
			if pr.cg, err = s.h.Create(prPath, limitsOf(pr.spec.Resources)); err != nil {
				return fmt.Errorf("process %q: %w", pr.spec.Name, err)
			}
			path := logPath(p.dir, pr.spec.Name)
			if pathAbsent(path) {
				undo = append(undo, func() { _ = os.Remove(path) })
			}
			size, files := s.logLimits()
			if pr.log, err = openLog(path, size, files); err != nil {
				return err
			}
			closers = append(closers, pr.log.close)
			p.procs = append(p.procs, pr)
		}
		return nil
	}
	if err := add(spec.Spec.InitProcesses, true); err != nil {
		return nil, err
	}
	if err := add(spec.Spec.Processes, false); err != nil {
		return nil, err
	}
	// namespaces.Create leaves nothing when it fails.
	p.nsp, err = namespaces.CreateWith(p.nsDir, nsOptions(&spec.Spec, s.kernelHostname(spec)))
	if err != nil {
		return nil, fmt.Errorf("pod %q namespaces: %w", name, err)
	}
	undo = append(undo, func() { _ = namespaces.Remove(p.nsDir) })
	if p.nsh, err = namespaces.Open(p.nsp); err != nil {
		return nil, fmt.Errorf("pod %q namespaces: %w", name, err)
	}
	closers = append(closers, p.nsh.Close)
	var prevNet *podNet
	if leftovers {
		prevNet = readPodNet(p.dir)
	}
	if p.net, err = s.net.attach(p, prevNet); err != nil {
		p.log.Warn().Err(err).Str("event", string(EventNetworkNotReady)).Msg("network setup failed")
		s.bus.publish(Event{Time: time.Now(), Type: EventNetworkNotReady, Pod: name, Reason: string(EventNetworkNotReady), Message: err.Error()})
		return nil, fmt.Errorf("pod %q: %w", name, err)
	}
	undo = append(undo, func() { s.net.detach(p, p.net, false) })
	files, undoFiles, err := s.buildFiles(spec, p.dir, p.net)
	if err != nil {
		return nil, fmt.Errorf("pod %q: %w", name, err)
	}
	p.files = files
	undo = append(undo, undoFiles)
	// Exec sessions (podvisor exec without --process) run in a cgroup of
	// their own inside the pod's.
	execPath := cgPath + "/" + execCgroup
	undo = append(undo, func() { s.destroyCgroup(execPath) })
	if p.execCg, err = s.h.Create(execPath, cgroups.Limits{}); err != nil {
		return nil, fmt.Errorf("pod %q: %w", name, err)
	}
	if saved != nil {
		p.restore(saved)
	} else if s.opts.Persist {
		// Last: a spec on disk means a pod to recover.
		if err := store.WriteJSON(filepath.Join(p.dir, specFile), spec); err != nil {
			return nil, fmt.Errorf("pod %q: cannot save the pod's state: %w", name, plainErr(err))
		}
	}
	return p, nil
}

// nsOptions are the namespaces a pod asks for.
func nsOptions(s *pod.Spec, hostname string) namespaces.Options {
	o := namespaces.Options{Hostname: hostname, HostNet: s.Network == pod.NetworkHost, HostIPC: s.HostIPC}
	if sc := s.SecurityContext; sc != nil {
		for _, c := range sc.Sysctls {
			o.Sysctls = append(o.Sysctls, namespaces.Sysctl{Name: c.Name, Value: c.Value})
		}
	}
	return o
}

// kernelHostname is the host name a pod's UTS namespace gets: its
// hostname, or its fully qualified name with setHostnameAsFQDN (as kubelet,
// only when it has a subdomain), cut to the kernel's 64 bytes.
func (s *Supervisor) kernelHostname(p *pod.Pod) string {
	if f := p.Spec.SetHostnameAsFQDN; f != nil && *f {
		if fqdn := s.fqdn(p); len(fqdn) <= 64 {
			return fqdn
		}
	}
	return p.Spec.Hostname
}

// fqdn is a pod's fully qualified domain name, as Kubernetes makes it:
// <hostname>.<subdomain>.<namespace>.svc.<cluster domain> when the pod has
// a subdomain, its hostname otherwise.
func (s *Supervisor) fqdn(p *pod.Pod) string {
	if p.Spec.Subdomain == "" {
		return p.Spec.Hostname
	}
	ns := p.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	return p.Spec.Hostname + "." + p.Spec.Subdomain + "." + ns + ".svc." + s.clusterDomain()
}

// pathAbsent reports whether nothing exists at path.
func pathAbsent(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, os.ErrNotExist)
}

// removeBuiltDir removes dir after the named files in it, without a file
// descriptor (unlink, rmdir); a directory that holds more than that is
// removed with os.RemoveAll, which needs some.
func removeBuiltDir(dir string, files ...string) {
	for _, f := range files {
		_ = os.Remove(filepath.Join(dir, f))
	}
	if err := os.Remove(dir); err != nil && !pathAbsent(dir) {
		_ = os.RemoveAll(dir)
	}
}

// destroyCgroup removes the cgroup at path in every hierarchy, whether
// its Create completed or not; a missing one is fine.
func (s *Supervisor) destroyCgroup(path string) {
	if g, err := s.h.Open(path); err == nil {
		if err := g.Destroy(); err != nil {
			s.opts.Logger.Warn().Err(err).Str("cgroup", path).Msg("could not remove the cgroup of a pod that failed to be created")
		}
	}
}

// sweep removes what a crashed owner of the same pod name left: namespace
// files and cgroups (killing what still runs there).
func (s *Supervisor) sweep(p *Pod) error {
	if err := s.removeFiles(p.name, nil, false); err != nil {
		return err
	}
	// By name, not p.dir: a pod whose spec cannot be read is swept as a
	// ghost, with no directory of its own set.
	unmountUnder(filepath.Join(s.podDir(p.name), "volumes"))
	unmountUnder(s.mntDir(p.name))
	if _, err := os.Stat(p.nsDir); err == nil {
		p.log.Warn().Str("dir", p.nsDir).Msg("removing namespaces left by a previous run")
		if err := namespaces.Remove(p.nsDir); err != nil {
			return err
		}
	}
	g, err := s.h.Open(s.podCgroup(p.name))
	if err != nil || !g.Exists() {
		return err
	}
	p.log.Warn().Str("cgroup", g.Path()).Msg("removing cgroups left by a previous run")
	entries, _ := os.ReadDir(g.UnifiedDir())
	if g.UnifiedDir() == "" {
		entries, _ = os.ReadDir(g.V1Dirs()["memory"])
	}
	for _, e := range entries {
		if e.IsDir() {
			if child, err := s.h.Open(g.Path() + "/" + e.Name()); err == nil {
				if err := child.Destroy(); err != nil {
					return err
				}
			}
		}
	}
	return g.Destroy()
}

// taken reports whether the pod's cgroup or namespace directory exists.
func (s *Supervisor) taken(p *Pod) bool {
	if _, err := os.Stat(p.nsDir); err == nil {
		return true
	}
	g, err := s.h.Open(s.podCgroup(p.name))
	return err == nil && g.Exists()
}

type teardownMode int

const (
	removeAll      teardownMode = iota // everything
	removeKeepLogs                     // all but <dir>/logs
	removeKeepDir                      // kernel objects only: state and logs stay
)

// teardown removes the pod's kernel objects and files.
func (p *Pod) teardown(mode teardownMode) error {
	var errs []error
	if p.cg.Populated() {
		_ = p.cg.Kill()
	}
	for _, pr := range p.procs {
		if err := pr.cg.Destroy(); err != nil {
			errs = append(errs, err)
		}
		pr.log.close()
	}
	if err := p.execCg.Destroy(); err != nil {
		errs = append(errs, err)
	}
	if err := p.cg.Destroy(); err != nil {
		errs = append(errs, err)
	}
	p.pidns.Swap(nil).close()
	p.nsh.Close()
	p.dialMu.Lock()
	if p.netDialer != nil {
		p.netDialer.Close()
	}
	p.dialMu.Unlock()
	// The pod keeps its address when only its kernel objects go (the
	// supervisor stops and will recover it).
	p.sv.net.detach(p, p.net, mode == removeKeepDir)
	if err := namespaces.Remove(p.nsDir); err != nil {
		errs = append(errs, err)
	}
	p.filesMu.Lock() // no refresh writes while the files go, or after
	err := p.sv.removeFiles(p.name, p.files, mode != removeKeepDir)
	p.filesGone = true
	p.filesMu.Unlock()
	if err != nil {
		errs = append(errs, err)
	}
	switch mode {
	case removeKeepLogs:
		for _, f := range []string{"lock", specFile, stateFile} {
			_ = os.Remove(filepath.Join(p.dir, f))
		}
	case removeAll:
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, err)
		}
	}
	p.lock.Close()
	return errors.Join(errs...)
}

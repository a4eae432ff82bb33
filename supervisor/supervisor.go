package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/mounts"
	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
)

// Defaults for Options.
const (
	DefaultRoot         = "/run/podvisor"
	DefaultCgroupParent = "podvisor"
)

// Options configure a Supervisor. The zero value is usable.
type Options struct {
	// Root holds runtime files: <Root>/pods/<pod>/ (lock, logs) and the
	// namespace files under <Root>/ns/<pod>/. Default DefaultRoot.
	Root string
	// CgroupParent is the cgroup under which pods' cgroups are made
	// (/<CgroupParent>/<pod>). Default DefaultCgroupParent.
	CgroupParent string
	// Logger receives structured logs with pod and process fields. The
	// zero value logs nothing.
	Logger zerolog.Logger
	// Output, if set, receives every line the processes write.
	Output OutputFunc
	// Cgroups is the host's cgroup layout; nil detects it.
	Cgroups *cgroups.Hierarchy
	// Delegate, when CgroupParent is empty, keeps pods inside the cgroup
	// this process was given (systemd's Delegate=yes): on cgroup v2 the
	// process moves itself into <own cgroup>/supervisor and pods go to
	// <own cgroup>/pods/<pod>; on v1 each hierarchy's own path is used.
	Delegate bool
	// Persist keeps each pod's spec and state (desired state and status)
	// in <Root>/pods/<pod>/spec.json and state.json, written atomically, so
	// that Recover can bring the pods back after a restart.
	Persist bool
	// LogMaxSize rotates a process's log file past this size (bytes);
	// default DefaultLogMaxSize. LogMaxFiles is how many files a process's
	// log keeps, the current one included; default DefaultLogMaxFiles, at
	// most MaxLogFiles (a larger value is taken as MaxLogFiles).
	LogMaxSize  int64
	LogMaxFiles int
	// ClusterDomain ends the fully qualified names of pods with a
	// subdomain (<hostname>.<subdomain>.<namespace>.svc.<ClusterDomain>),
	// as in Kubernetes. Default DefaultClusterDomain.
	ClusterDomain string
	// Network configures pod networking; the zero value puts pods on the
	// bridge podvisor0 with addresses of 10.77.0.0/16.
	Network NetworkOptions

	reapScope string
}

// DefaultClusterDomain is Kubernetes' default cluster domain.
const DefaultClusterDomain = "cluster.local"

func (s *Supervisor) clusterDomain() string {
	if s.opts.ClusterDomain != "" {
		return s.opts.ClusterDomain
	}
	return DefaultClusterDomain
}

// Supervisor keeps pods. Create one with New.
type Supervisor struct {
	opts    Options
	h       *cgroups.Hierarchy
	net     *netstack
	bus     eventBus
	changes changeBus
	lines   lineBus
	outq    *outputQueue // nil without Options.Output

	mu     sync.Mutex
	pods   map[string]*Pod
	closed bool
	// stallWarned is when a stalled output loop was last logged.
	stallWarned time.Time
	logLimit    struct {
		size  int64
		files int
	}
}

// New makes a supervisor: it creates the root directory, detects the cgroup
// layout, and makes this process a child subreaper that reaps its pods'
// orphans. It also marks every file descriptor of this process above 2
// close-on-exec (they stay open), so that none reaches a pod's processes:
// a program that embeds the supervisor and starts children of its own
// passes them descriptors explicitly (os/exec's ExtraFiles do).
func New(opts Options) (*Supervisor, error) {
	if opts.Root == "" {
		opts.Root = DefaultRoot
	}
	delegate := opts.Delegate && opts.CgroupParent == ""
	if delegate {
		opts.CgroupParent = "pods"
	}
	if opts.CgroupParent == "" {
		opts.CgroupParent = DefaultCgroupParent
	}
	opts.CgroupParent = strings.Trim(filepath.Clean("/"+opts.CgroupParent), "/")
	if opts.CgroupParent == "" {
		return nil, fmt.Errorf("cgroup parent: must not be the root cgroup: %w", pod.ErrInvalid)
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	opts.Root = root
	if opts.LogMaxSize <= 0 {
		opts.LogMaxSize = DefaultLogMaxSize
	}
	if opts.LogMaxFiles <= 0 {
		opts.LogMaxFiles = DefaultLogMaxFiles
	}
	opts.LogMaxFiles = min(opts.LogMaxFiles, MaxLogFiles)
	// The root itself (when missing) may be shared with other files, such
	// as the daemon's socket directory; what the supervisor keeps in it is
	// private: pods/, ns/ and quarantine/ are 0700, and so is each pod's
	// directory.
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, "pods"), 0o700); err != nil {
		return nil, err
	}
	h := opts.Cgroups
	if h == nil {
		if h, err = cgroups.Detect(); err != nil {
			return nil, err
		}
	}
	if delegate {
		base, err := h.Delegate("supervisor")
		if err != nil {
			return nil, fmt.Errorf("cgroup delegation: %w", err)
		}
		opts.Logger.Info().Str("cgroup", filepath.Join(base, opts.CgroupParent)).Msg("pods live in the delegated cgroup")
	}
	if len(h.ReadOnly) > 0 {
		opts.Logger.Warn().Strs("controllers", h.ReadOnly).Msg("cgroup v1 controllers are read-only here: their limits are not applied")
	}
	if err := markInheritedCloexec(); err != nil {
		return nil, fmt.Errorf("mark inherited file descriptors close-on-exec: %w", err)
	}
	if err := startReaper(); err != nil {
		return nil, fmt.Errorf("child subreaper: %w", err)
	}
	opts.reapScope = filepath.Join(h.MainBase(), opts.CgroupParent)
	addReapScope(opts.reapScope)
	s := &Supervisor{opts: opts, h: h, pods: map[string]*Pod{}}
	if s.net, err = newNetstack(s, opts.Network); err != nil {
		removeReapScope(opts.reapScope)
		return nil, err
	}
	// A daemon refuses at once a default network it could not use (a
	// bridge that is another root's, a CIDR on a host route). Without
	// persistence (podvisor up, an embedding program) the pods are known
	// at once and the same checks come with the first pod on the bridge:
	// a run whose pods use none does not pay for the netlink round trips.
	if opts.Persist {
		if err := s.net.check(); err != nil {
			s.net.close()
			removeReapScope(opts.reapScope)
			return nil, err
		}
	}
	if !opts.Persist {
		// Pods come at once (podvisor up, an embedding program): each
		// needs the host's address (status.hostIP), found meanwhile.
		s.net.prefetchHostIP()
		// No Recover will come (podvisor up, a program embedding the
		// engine): what a crashed run on this root left goes now.
		if err := s.sweepLeftovers(nil); err != nil {
			opts.Logger.Warn().Err(err).Msg("some leftovers of a previous run could not be removed")
		}
	}
	if opts.Output != nil {
		s.outq = newOutputQueue(opts.Output, opts.Logger)
	}
	s.logLimit.size, s.logLimit.files = opts.LogMaxSize, opts.LogMaxFiles
	return s, nil
}

// MaxLogFiles bounds the number of log files kept per process: rotation
// renames each of them, and reading a log looks for each.
const MaxLogFiles = 1000

// SetLogLimits changes log rotation for every process, now and later. A
// maxFiles above MaxLogFiles is taken as MaxLogFiles.
func (s *Supervisor) SetLogLimits(maxSize int64, maxFiles int) {
	if maxSize <= 0 {
		maxSize = DefaultLogMaxSize
	}
	if maxFiles <= 0 {
		maxFiles = DefaultLogMaxFiles
	}
	maxFiles = min(maxFiles, MaxLogFiles)
	s.mu.Lock()
	s.logLimit.size, s.logLimit.files = maxSize, maxFiles
	pods := make([]*Pod, 0, len(s.pods))
	for _, p := range s.pods {
		if p != nil {
			pods = append(pods, p)
		}
	}
	s.mu.Unlock()
	for _, p := range pods {
		for _, pr := range p.procs {
			pr.log.setLimits(maxSize, maxFiles)
		}
	}
}

func (s *Supervisor) logLimits() (int64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logLimit.size, s.logLimit.files
}

// Hierarchy is the cgroup layout the supervisor uses.
func (s *Supervisor) Hierarchy() *cgroups.Hierarchy { return s.h }

// Root is the supervisor's root directory.
func (s *Supervisor) Root() string { return s.opts.Root }

// Subscribe returns a channel of events and a function that ends the
// subscription and closes the channel. A subscriber that falls more than
// buffer events behind loses events.
func (s *Supervisor) Subscribe(buffer int) (<-chan Event, func()) {
	return s.bus.subscribe(max(buffer, 1))
}

// Get returns the pod called name, or an error matching pod.ErrNotFound.
func (s *Supervisor) Get(name string) (*Pod, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pods[name]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("pod %q: %w", name, pod.ErrNotFound)
}

// List returns the pods, sorted by name.
func (s *Supervisor) List() []*Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	pods := make([]*Pod, 0, len(s.pods))
	for _, p := range s.pods {
		if p != nil {
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b *Pod) int { return strings.Compare(a.name, b.name) })
	return pods
}

// Create validates spec (after applying defaults to a copy) and makes the
// pod's cgroups, namespaces and log files, in phase Pending. A bad spec
// gives an error matching pod.ErrInvalid that names the field; a taken name
// one matching pod.ErrAlreadyExists. On error nothing is left behind.
func (s *Supervisor) Create(spec *pod.Pod) (*Pod, error) {
	if spec == nil {
		return nil, fmt.Errorf("nil pod: %w", pod.ErrInvalid)
	}
	cp := spec.DeepCopy()
	cp.SetDefaults()
	if err := cp.Validate(); err != nil {
		return nil, err
	}
	return s.create(cp, nil)
}

// create registers and builds a validated pod; saved, when not nil, is the
// state a previous run persisted.
func (s *Supervisor) create(cp *pod.Pod, saved *savedState) (*Pod, error) {
	name := cp.Metadata.Name
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("supervisor closed")
	}
	if _, taken := s.pods[name]; taken {
		s.mu.Unlock()
		return nil, fmt.Errorf("pod %q: %w", name, pod.ErrAlreadyExists)
	}
	s.pods[name] = nil // reserved while it is made
	s.mu.Unlock()

	p, err := s.build(cp, saved)
	s.mu.Lock()
	if err != nil {
		delete(s.pods, name)
	} else {
		s.pods[name] = p
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go p.loop()
	if p.files != nil && len(p.files.capped) > 0 {
		go p.watchStorage()
	}
	if s.opts.Persist {
		go p.persistLoop()
		if saved == nil {
			p.markDirty()
		}
	} else {
		close(p.persistDone)
	}
	if saved == nil {
		p.log.Info().Str("cgroup", p.cg.Path()).Msg("created")
		s.bus.publish(Event{Time: p.created, Type: EventCreated, Pod: name, Phase: pod.PhasePending})
		s.changes.publish(name)
	}
	return p, nil
}

// CreateAllOptions are how CreateAll makes several pods.
type CreateAllOptions struct {
	// Start starts every pod once all are created.
	Start bool
	// KeepLogs keeps the logs of the pods removed when one fails.
	KeepLogs bool
}

// CreateAll creates the pods of specs, and with o.Start starts them, all
// or none: when one cannot be created or started, the pods made by this
// call are removed again (SIGKILL, no grace) and the error names the pod.
// The pods are returned in the order of specs.
func (s *Supervisor) CreateAll(ctx context.Context, specs []*pod.Pod, o CreateAllOptions) ([]*Pod, error) {
	var made []*Pod
	undo := func(err error) ([]*Pod, error) {
		zero := time.Duration(0)
		for _, p := range made {
			if rerr := s.Remove(context.WithoutCancel(ctx), p.Name(), RemoveOptions{Force: true, Grace: &zero, KeepLogs: o.KeepLogs}); rerr != nil {
				s.opts.Logger.Error().Err(rerr).Str("pod", p.Name()).Msg("cannot remove a pod of a failed create")
			}
		}
		return nil, err
	}
	for _, spec := range specs {
		p, err := s.Create(spec)
		if err != nil {
			if len(specs) > 1 && spec != nil {
				err = fmt.Errorf("pod %q: %w", spec.Metadata.Name, err)
			}
			return undo(err)
		}
		made = append(made, p)
	}
	if o.Start {
		for _, p := range made {
			if err := p.Start(); err != nil {
				if len(made) > 1 {
					err = fmt.Errorf("pod %q: %w", p.Name(), err)
				}
				return undo(err)
			}
		}
	}
	return made, nil
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force stops a running pod first, with no grace period beyond Grace.
	Force bool
	// Grace overrides the spec's grace period for a forced stop.
	Grace *time.Duration
	// KeepLogs leaves <root>/pods/<pod>/logs in place.
	KeepLogs bool
}

// Remove deletes a pod: its cgroups, namespace files, logs and directory.
// A pod that is running or stopping is refused (pod.ErrConflict) unless
// opts.Force, which stops it first.
func (s *Supervisor) Remove(ctx context.Context, name string, opts RemoveOptions) error {
	p, err := s.Get(name)
	if err != nil {
		return err
	}
	for {
		var busy bool
		gone := false
		if !p.do(func() {
			if p.removed {
				gone = true
				return
			}
			busy = p.busy()
			if !busy {
				p.removed = true
			}
		}) || gone {
			return fmt.Errorf("pod %q: %w", name, pod.ErrNotFound)
		}
		if !busy {
			break
		}
		if !opts.Force {
			return fmt.Errorf("pod %q is %s (stop it first, or force): %w", name, p.Status().Phase, pod.ErrConflict)
		}
		if err := p.stopAndWait(ctx, opts.Grace, desireBestEffort); err != nil {
			return err
		}
	}
	close(p.quit)
	<-p.done
	close(p.persistStop)
	<-p.persistDone
	mode := removeAll
	if opts.KeepLogs {
		mode = removeKeepLogs
	}
	err = p.teardown(mode)
	s.mu.Lock()
	delete(s.pods, name)
	s.mu.Unlock()
	p.log.Info().Msg("removed")
	s.bus.publish(Event{Time: time.Now(), Type: EventRemoved, Pod: name})
	s.changes.publish(name)
	return err
}

// Close stops every pod (each with its own grace period, in parallel),
// removes them, and releases what the supervisor holds on the host (the
// namespace directory's mount, an empty cgroup parent).
func (s *Supervisor) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var wg sync.WaitGroup
	errc := make(chan error, len(s.List()))
	for _, p := range s.List() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.Remove(ctx, p.name, RemoveOptions{Force: true})
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.release(); err != nil {
		errs = append(errs, err)
	}
	if s.outq != nil {
		if err := s.outq.close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("output: %w", err))
		}
	}
	return errors.Join(errs...)
}

// release gives back what the supervisor holds on the host once it has no
// pod: the namespace and view directories' mounts and an empty cgroup
// parent.
func (s *Supervisor) release() error {
	s.net.close()
	err := errors.Join(namespaces.Release(filepath.Join(s.opts.Root, "ns")),
		mounts.ReleaseDir(filepath.Join(s.opts.Root, "views")),
		mounts.ReleaseSharedDir(filepath.Join(s.opts.Root, "mnt")))
	s.h.Prune(s.opts.CgroupParent)
	removeReapScope(s.opts.reapScope)
	return err
}

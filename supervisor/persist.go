package supervisor

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/store"
)

// Desired is what the user last asked of a pod: to run or to stay stopped.
// It survives supervisor restarts (Options.Persist) and decides what Recover
// starts.
type Desired string

// The desired states.
const (
	DesiredRunning Desired = "running"
	DesiredStopped Desired = "stopped"
)

// State files in <root>/pods/<pod>/.
const (
	specFile  = "spec.json"
	stateFile = "state.json"
)

// savedState is the content of state.json.
type savedState struct {
	Desired Desired    `json:"desired"`
	Status  pod.Status `json:"status"`
}

// Desired returns what the user last asked of the pod.
func (p *Pod) Desired() Desired {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.desired
}

// setDesired records what the user asked. With persistence it is on disk
// before the call returns, so that an answer to the user is never ahead of
// what a crash would recover: when it cannot be saved, the desired state is
// left as it was and the error says why (the caller then changes nothing).
func (p *Pod) setDesired(d Desired) error {
	if !p.sv.opts.Persist {
		p.mu.Lock()
		p.desired = d
		p.mu.Unlock()
		return nil
	}
	// Under saveMu, so that no other save writes the new desired state
	// between its setting and a failure of this save.
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	old := p.desired
	p.desired = d
	p.mu.Unlock()
	if old == d {
		return nil
	}
	if err := p.saveStateLocked(); err != nil {
		p.mu.Lock()
		p.desired = old
		p.mu.Unlock()
		return fmt.Errorf("cannot save the pod's state: %w", plainErr(err))
	}
	return nil
}

// plainErr is the system error behind err ("no space left on device")
// when there is one, without the path and operation around it.
func plainErr(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

func (p *Pod) markDirty() {
	select {
	case p.persistKick <- struct{}{}:
	default:
	}
}

// persistLoop writes state.json after changes, coalescing bursts: at most
// one write is in flight, and it writes the latest state.
func (p *Pod) persistLoop() {
	defer close(p.persistDone)
	for {
		select {
		case <-p.persistKick:
			_ = p.saveState() // logged; the next change tries again
		case <-p.persistStop:
			return
		}
	}
}

func (p *Pod) saveState() error {
	// One save at a time, each of the state as it is when it begins, so
	// that an older state never lands after a newer one.
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	return p.saveStateLocked()
}

// saveStateLocked writes state.json; the caller holds saveMu.
func (p *Pod) saveStateLocked() error {
	p.mu.Lock()
	st := savedState{Desired: p.desired, Status: p.statusLocked()}
	p.mu.Unlock()
	if err := store.WriteJSON(filepath.Join(p.dir, stateFile), st); err != nil {
		// Logged when saves begin to fail, then at most once a minute
		// (a full disk fails every save until it has room again).
		p.saveFails++
		if now := time.Now(); p.saveFails == 1 || now.Sub(p.saveWarned) >= time.Minute {
			p.saveWarned = now
			p.log.Error().Err(err).Int("failedSaves", p.saveFails).Msg("save state")
		}
		return err
	}
	if p.saveFails > 0 {
		p.log.Info().Int("failedSaves", p.saveFails).Msg("state saved again")
		p.saveFails = 0
	}
	return nil
}

// restore applies a persisted state to a freshly built pod: restart counts
// and last exits are kept; what was running is not any more.
func (p *Pod) restore(saved *savedState) {
	p.desired = saved.Desired
	if saved.Desired == "" {
		p.desired = DesiredStopped
	}
	st := saved.Status
	if !st.CreatedAt.IsZero() {
		p.created = st.CreatedAt
	}
	byName := map[string]int64{}
	for _, ps := range append(append([]pod.ProcessStatus{}, st.Init...), st.Processes...) {
		byName[ps.Name] = ps.LogsDropped
	}
	for _, pr := range p.procs {
		pr.logsDropped = byName[pr.spec.Name]
	}
	p.m.Restore(&st, time.Now())
}

// Recover brings back the pods a previous run persisted (Options.Persist):
// each is rebuilt — what a crashed run left in its cgroups is killed, its
// namespaces are made anew — with its restart counts and last exits, and
// the pods whose desired state is running and that had not ended are
// started again. A pod whose files cannot be read is moved to
// <root>/quarantine (which keeps the newest store.QuarantineKeep entries)
// and reported in the returned error; the others are recovered all the
// same.
func (s *Supervisor) Recover() error {
	podsDir := filepath.Join(s.opts.Root, "pods")
	entries, err := os.ReadDir(podsDir)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.recoverPod(name); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// What pods that are gone left on the networks goes.
	s.mu.Lock()
	live := make(map[string]*Pod, len(s.pods))
	for name, p := range s.pods {
		if p != nil {
			live[name] = p
		}
	}
	s.mu.Unlock()
	errs = append(errs, s.sweepLeftovers(live))
	return errors.Join(errs...)
}

func (s *Supervisor) recoverPod(name string) error {
	dir := s.podDir(name)
	log := s.opts.Logger.With().Str("pod", name).Logger()
	store.CleanTemp(dir)
	if !pod.IsName(name) {
		q, qerr := s.quarantine(dir, name)
		log.Error().Str("moved", q).Msg("not a pod directory: quarantined")
		return errors.Join(fmt.Errorf("pods/%s: not a pod name", name), qerr)
	}
	raw, err := os.ReadFile(filepath.Join(dir, specFile))
	var spec *pod.Pod
	if err == nil {
		spec, err = pod.LoadStored(raw)
		if err == nil && spec.Metadata.Name != name {
			err = fmt.Errorf("spec names pod %q", spec.Metadata.Name)
		}
	}
	if err != nil {
		// Sweep what the pod had on the host, then set its files aside.
		ghost := &Pod{sv: s, name: name, log: log, nsDir: s.nsDir(name)}
		serr := s.sweep(ghost)
		q, qerr := s.quarantine(dir, name)
		log.Error().Err(err).Str("moved", q).Msg("unreadable pod spec: quarantined")
		return errors.Join(fmt.Errorf("pod %q: %w", name, err), serr, qerr)
	}
	var saved savedState
	if err := store.ReadJSON(filepath.Join(dir, stateFile), &saved); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			q, _ := s.quarantine(filepath.Join(dir, stateFile), name+"."+stateFile)
			log.Error().Err(err).Str("moved", q).Msg("unreadable pod state: quarantined, the pod stays stopped")
		}
		saved = savedState{Desired: DesiredStopped, Status: pod.Status{Phase: pod.PhasePending}}
	}
	p, err := s.create(spec, &saved)
	if err != nil {
		return fmt.Errorf("recover pod %q: %w", name, err)
	}
	phase := p.Status().Phase
	p.log.Info().Str("desired", string(p.Desired())).Str("phase", string(phase)).Msg("recovered")
	// restore left a pod that was running (or being started or stopped)
	// Stopped: it runs again if the user wants it running.
	if p.Desired() == DesiredRunning && (phase == pod.PhaseStopped || phase == pod.PhasePending) {
		if !p.do(p.start) {
			return fmt.Errorf("restart pod %q: %w", name, pod.ErrNotFound)
		}
	}
	return nil
}

// quarantineMu serializes quarantines, so that each pruned entry is
// removed and logged once.
var quarantineMu sync.Mutex

// quarantine moves path into <root>/quarantine as "<as>.<time>", then keeps
// only the newest store.QuarantineKeep entries there, logging each one it
// removes.
func (s *Supervisor) quarantine(path, as string) (string, error) {
	quarantineMu.Lock()
	defer quarantineMu.Unlock()
	dir := filepath.Join(s.opts.Root, "quarantine")
	q, err := store.QuarantineAs(path, dir, as)
	if err != nil {
		return q, err
	}
	removed, perr := store.PruneQuarantine(dir, store.QuarantineKeep)
	for _, r := range removed {
		s.opts.Logger.Warn().Str("removed", r).Int("keep", store.QuarantineKeep).Msg("quarantine: removed the oldest entry")
	}
	if perr != nil {
		s.opts.Logger.Error().Err(perr).Str("dir", dir).Msg("quarantine: could not remove old entries")
	}
	return q, nil
}

// do2 runs f on the owner goroutine and returns its error.
func (p *Pod) do2(f func() error) error {
	var err error
	if !p.do(func() { err = f() }) {
		return fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
	}
	return err
}

// Shutdown stops every pod (in parallel, each with its own grace period)
// without changing what the user asked of it, saves its state, and releases
// its cgroups and namespaces; state files and logs stay, for Recover at the
// next start. The supervisor cannot be used afterwards.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, p := range s.List() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.stopAndWait(ctx, nil, desireKept); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			claimed := false
			p.do(func() {
				claimed = !p.removed
				p.removed = true
			})
			if !claimed {
				return // a Remove has it
			}
			close(p.quit)
			<-p.done
			close(p.persistStop)
			<-p.persistDone
			if s.opts.Persist {
				p.saveState()
			}
			err := p.teardown(removeKeepDir)
			s.mu.Lock()
			delete(s.pods, p.name)
			s.mu.Unlock()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := s.release(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Restart stops the pod (grace as for Stop) and starts it again.
func (p *Pod) Restart(ctx context.Context, grace *time.Duration) error {
	if err := p.Stop(ctx, grace); err != nil {
		return err
	}
	return p.Start()
}

// Healthy checks that the supervisor's loops turn: the exit loop and
// every pod's owner goroutine must answer within timeout. A watchdog pings
// only while it holds. The output loop is not part of it: a log write
// stuck on a hung disk stalls the output, not the pods (exits, restarts
// and stops go on), and is logged.
func (s *Supervisor) Healthy(timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	l, err := theLoop()
	if err != nil {
		return err
	}
	// A loop that serves a burst of exits may answer a ping late, but it
	// turns: it is healthy as long as it makes progress.
	before := l.progress.Load()
	podsDeadline := deadline.C
	select {
	case <-l.ping():
	case <-deadline.C:
		if l.progress.Load() == before {
			return errors.New("the exit loop does not answer")
		}
		podsDeadline = time.After(timeout)
	}
	for _, p := range s.List() {
		select {
		case p.cmds <- func() {}:
		case <-p.done:
		case <-podsDeadline:
			return fmt.Errorf("pod %q: its loop does not answer", p.name)
		}
	}
	if ol, err := outputLoop(); err == nil && ol.stalled(timeout) {
		s.warnOutputStalled()
	}
	return nil
}

// warnOutputStalled logs, at most once a minute, that the output loop is
// stuck in a write.
func (s *Supervisor) warnOutputStalled() {
	s.mu.Lock()
	now := time.Now()
	warn := now.Sub(s.stallWarned) >= time.Minute
	if warn {
		s.stallWarned = now
	}
	s.mu.Unlock()
	if warn {
		s.opts.Logger.Warn().Msg("process output stalled: a log write does not return (a hung disk?); pods are supervised all the same")
	}
}

// ReopenLogs closes and reopens every process's log file, for a log
// rotation done by another program.
func (s *Supervisor) ReopenLogs() {
	for _, p := range s.List() {
		for _, pr := range p.procs {
			pr.log.reopen()
		}
	}
}

// podHeld reports whether a supervisor (this one, or another on the same
// root, such as a podvisor up) holds the pod's lock.
func (s *Supervisor) podHeld(name string) bool {
	f, err := os.OpenFile(filepath.Join(s.podDir(name), "lock"), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// sweepLeftovers removes what pods that no supervisor runs any more left
// on the host after a crash: their namespaces (and so their veths), mounts
// and cgroups, and on the networks their leases, published ports and names
// in the netns directory. live are this supervisor's pods; a pod whose
// lock another process holds is alive too.
func (s *Supervisor) sweepLeftovers(live map[string]*Pod) error {
	alive := func(name string) bool { return live[name] != nil || s.podHeld(name) }
	var errs []error
	ghosts := map[string]bool{}
	for _, d := range []string{"ns", "mnt", "views"} {
		entries, _ := os.ReadDir(filepath.Join(s.opts.Root, d))
		for _, e := range entries {
			if e.IsDir() && pod.IsName(e.Name()) && !alive(e.Name()) {
				ghosts[e.Name()] = true
			}
		}
	}
	for name := range ghosts {
		log := s.opts.Logger.With().Str("pod", name).Logger()
		ghost := &Pod{sv: s, name: name, log: log, nsDir: s.nsDir(name)}
		if err := s.sweep(ghost); err != nil {
			errs = append(errs, fmt.Errorf("pod %q (gone): %w", name, err))
		}
		_ = os.Remove(s.viewsDir(name))
		log.Info().Msg("what a pod that is gone left was removed")
	}
	s.net.sweep(alive, live)
	return errors.Join(errs...)
}

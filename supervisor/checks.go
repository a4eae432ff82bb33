package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/probe"
)

// A check is a probe's or hook's handler: exactly one field is set.
type check struct {
	exec  *pod.ExecAction
	http  *pod.HTTPGetAction
	tcp   *pod.TCPSocketAction
	grpc  *pod.GRPCAction
	sleep *pod.SleepAction
}

// maxCheckOutput bounds what an exec check's output keeps.
const maxCheckOutput = 1024

func (r linuxRuntime) runHook(i, runNo int, h pod.HookKind, timeout time.Duration) {
	p := r.p
	pr := p.procs[i]
	if pr.run == nil || pr.runNo != runNo || pr.spec.Lifecycle == nil {
		return
	}
	lh := pr.spec.Lifecycle.PostStart
	if h == pod.HookPreStop {
		lh = pr.spec.Lifecycle.PreStop
	}
	if lh == nil {
		return
	}
	c := check{exec: lh.Exec, http: lh.HTTPGet, tcp: lh.TCPSocket, sleep: lh.Sleep}
	parent := pr.run.ctx
	if parent == nil {
		parent = context.Background()
	}
	go func() {
		ctx, cancel := parent, context.CancelFunc(func() {})
		if timeout > 0 {
			ctx, cancel = context.WithTimeout(parent, timeout)
		}
		defer cancel()
		ok, msg := p.runCheck(ctx, pr, c)
		p.post(pod.Input{Kind: pod.InHookDone, Proc: i, Run: runNo, Hook: h, OK: ok, Message: msg})
	}()
}

func (r linuxRuntime) runProbe(i, runNo int, k pod.ProbeKind, timeout time.Duration) {
	p := r.p
	pr := p.procs[i]
	if pr.run == nil || pr.runNo != runNo {
		return
	}
	var pb *pod.Probe
	switch k {
	case pod.ProbeStartup:
		pb = pr.spec.StartupProbe
	case pod.ProbeLiveness:
		pb = pr.spec.LivenessProbe
	default:
		pb = pr.spec.ReadinessProbe
	}
	if pb == nil {
		return
	}
	c := check{exec: pb.Exec, http: pb.HTTPGet, tcp: pb.TCPSocket, grpc: pb.GRPC}
	parent := pr.run.ctx
	if parent == nil {
		parent = context.Background()
	}
	go func() {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		ok, msg := p.runCheck(ctx, pr, c)
		if ok {
			pr.probes[k][0].Add(1)
		} else {
			pr.probes[k][1].Add(1)
		}
		p.post(pod.Input{Kind: pod.InProbeResult, Proc: i, Run: runNo, Probe: k, OK: ok, Message: msg})
	}()
}

// runCheck runs one handler for process pr: a command inside the pod as
// the process, or a network check from inside the pod's network
// namespace, or a sleep.
func (p *Pod) runCheck(ctx context.Context, pr *proc, c check) (bool, string) {
	port := func(v pod.IntOrString) (int, bool) { return p.spec.Spec.ResolvePort(pr.spec, v) }
	switch {
	case c.exec != nil:
		return p.execCheck(ctx, pr, c.exec.Command)
	case c.sleep != nil:
		t := time.NewTimer(time.Duration(c.sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return true, ""
	}
	d, err := p.dialer()
	if err != nil {
		return false, err.Error()
	}
	var res probe.Result
	switch {
	case c.http != nil:
		n, ok := port(c.http.Port)
		if !ok {
			return false, fmt.Sprintf("port %s: not declared by any process of the pod", c.http.Port)
		}
		req := probe.HTTPRequest{Scheme: c.http.Scheme, Host: c.http.Host, Port: n, Path: c.http.Path}
		for _, h := range c.http.HTTPHeaders {
			req.Headers = append(req.Headers, probe.Header{Name: h.Name, Value: h.Value})
		}
		res = probe.HTTPGet(ctx, d.DialContext, req)
	case c.tcp != nil:
		n, ok := port(c.tcp.Port)
		if !ok {
			return false, fmt.Sprintf("port %s: not declared by any process of the pod", c.tcp.Port)
		}
		res = probe.TCP(ctx, d.DialContext, c.tcp.Host, n)
	case c.grpc != nil:
		service := ""
		if c.grpc.Service != nil {
			service = *c.grpc.Service
		}
		res = probe.GRPC(ctx, d.DialContext, "", int(c.grpc.Port), service)
	default:
		return false, "no handler"
	}
	return res.OK, res.Output
}

// dialer is the pod's dialer into its network namespace, made at first
// use.
func (p *Pod) dialer() (*namespaces.NetDialer, error) {
	p.dialMu.Lock()
	defer p.dialMu.Unlock()
	if p.netDialer == nil {
		d, err := namespaces.NewNetDialer(p.nsp.Net)
		if err != nil {
			return nil, err
		}
		p.netDialer = d
	}
	return p.netDialer, nil
}

// execCheck runs argv inside the pod as process pr (its namespaces,
// cgroup, user, environment and working directory) and passes when it
// exits 0 before ctx ends; the message is its output, or why it failed.
func (p *Pod) execCheck(ctx context.Context, pr *proc, argv []string) (bool, string) {
	spec := pr.spec
	id, err := identityOf(&p.spec.Spec, spec)
	if err != nil {
		return false, err.Error()
	}
	env := environ(p.name, p.spec.Spec.Hostname, id.home, spec, p.fields())
	pidns, err := p.pidnsFD()
	if err != nil {
		return false, err.Error()
	}
	if pidns > 0 {
		defer unix.Close(pidns)
	}
	view := p.view(spec.Name)
	path := argv[0]
	if view == "" {
		if path, err = lookPath(argv[0], spec.WorkingDir, env); err != nil {
			return false, "exec: " + err.Error()
		}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return false, err.Error()
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return false, err.Error()
	}
	defer r.Close()
	// A check whose run has ended (or whose time is up) forks nothing: its
	// process would land in the cgroup of the next run.
	if err := ctx.Err(); err != nil {
		return false, "not run: " + err.Error()
	}
	l := &launch{path: path, argv: argv, env: env, dir: spec.WorkingDir, id: id,
		files: []uintptr{devnull.Fd(), w.Fd(), w.Fd()}, ns: p.nsh, cg: pr.cg, view: view, sec: securityOf(&p.spec.Spec, spec), pidns: pidns}
	pid, pidfd, err := forkInPod(l, own)
	w.Close()
	if err != nil {
		return false, err.Error()
	}
	defer disown(pid)
	f, err := pidfdFile(pidfd, "check")
	if err != nil {
		return false, err.Error()
	}
	output := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, maxCheckOutput))
		_, _ = io.Copy(io.Discard, r)
		output <- strings.TrimSpace(string(b))
	}()
	type result struct {
		st  exitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := waitPidfd(f)
		done <- result{st, err}
	}()
	var res result
	timedOut := false
	select {
	case res = <-done:
	case <-ctx.Done():
		_ = signalPidfd(f, unix.SIGKILL)
		res = <-done
		timedOut = true
	}
	// A child of the command that holds the pipe must not hold the check.
	_ = r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	out := <-output
	switch {
	case timedOut:
		return false, "command timed out"
	case res.err != nil:
		return false, "wait: " + res.err.Error()
	case res.st.code != 0:
		if out == "" {
			out = fmt.Sprintf("command exited with code %d", res.st.code)
		}
		return false, out
	}
	return true, out
}

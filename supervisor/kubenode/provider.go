package kubenode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	vkapi "github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	utilexec "k8s.io/utils/exec"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/api"
)

// provider is the virtual-kubelet provider: Pods in, podvisor pods out,
// statuses back.
type provider struct {
	cfg  *Config
	cl   *api.Client
	kc   kubernetes.Interface
	cms  corev1listers.ConfigMapLister
	secs corev1listers.SecretLister
	log  zerolog.Logger

	mu     sync.Mutex
	pods   map[string]*tracked // by podvisor name
	notify func(*corev1.Pod)
	kick   chan string
}

// tracked is one Pod the node runs.
type tracked struct {
	kpod     *corev1.Pod // the Pod as Kubernetes last gave it
	spec     *pod.Pod    // the podvisor pod's spec
	last     *corev1.Pod // the Pod with the status last pushed
	deleting bool
	gone     bool // removed from the daemon
	// versions and tokens are the manifest's last sent (see manifest),
	// issued when it was sent.
	versions       string
	tokens, issued time.Time
}

func newProvider(cfg *Config, kc kubernetes.Interface, cms corev1listers.ConfigMapLister, secs corev1listers.SecretLister) *provider {
	return &provider{cfg: cfg, cl: cfg.Client, kc: kc, cms: cms, secs: secs, log: cfg.Log,
		pods: map[string]*tracked{}, kick: make(chan string, 1024)}
}

// adopt takes in the daemon's pods of this node, made by an earlier run of
// the agent: they run on, and are matched to their Pods as these come.
func (p *provider) adopt(ctx context.Context) error {
	list, err := p.cl.List(ctx)
	if err != nil {
		return fmt.Errorf("podvisor daemon: %w", err)
	}
	for _, st := range list {
		spec, err := p.cl.Spec(ctx, st.Name)
		if err != nil {
			continue
		}
		if !ownedBy(spec, p.cfg.NodeName) || len(spec.Kubernetes) == 0 {
			continue
		}
		var kp corev1.Pod
		if err := json.Unmarshal(spec.Kubernetes, &kp); err != nil {
			continue
		}
		p.mu.Lock()
		p.pods[st.Name] = &tracked{kpod: &kp, spec: spec}
		p.mu.Unlock()
		p.log.Info().Str("pod", st.Name).Msg("adopted a running pod")
		p.push(st.Name)
	}
	return nil
}

// CreatePod runs a Pod bound to the node: translated and started by the
// daemon. A Pod whose podvisor pod exists already (an agent restart) is
// matched to it.
func (p *provider) CreatePod(ctx context.Context, kp *corev1.Pod) error {
	name := PodName(kp.Namespace, kp.Name)
	p.mu.Lock()
	t := p.pods[name]
	if t != nil && !t.gone && (t.kpod == nil || t.kpod.UID == kp.UID) {
		t.kpod = kp.DeepCopy()
		p.mu.Unlock()
		p.push(name)
		return nil
	}
	p.mu.Unlock()
	if t != nil {
		// The same name, another Pod (a StatefulSet's next one): the old
		// one's pod goes first.
		_ = p.cl.Remove(ctx, name, true, ptr(0))
	}
	m, err := p.buildManifest(ctx, kp)
	if err != nil {
		return err
	}
	sts, notes, err := p.cl.CreateAll(ctx, m.pod, api.CreateOptions{Start: true, IgnoreUnsupported: true, ConfigMaps: m.configMaps, Secrets: m.secrets})
	for _, n := range notes {
		p.log.Debug().Str("pod", name).Msg(n)
	}
	if err != nil {
		return fmt.Errorf("podvisor: %w", err)
	}
	if len(sts) != 1 {
		return fmt.Errorf("podvisor made %d pods of one Pod", len(sts))
	}
	spec, err := p.cl.Spec(ctx, name)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pods[name] = &tracked{kpod: kp.DeepCopy(), spec: spec, versions: m.versions, tokens: m.tokens, issued: time.Now()}
	p.mu.Unlock()
	p.log.Info().Str("pod", name).Str("uid", string(kp.UID)).Msg("created")
	p.push(name)
	return nil
}

// UpdatePod takes the Pod's new metadata; a running pod's spec does not
// change (Kubernetes allows little to change, and podvisor runs what it
// was given).
func (p *provider) UpdatePod(ctx context.Context, kp *corev1.Pod) error {
	name := PodName(kp.Namespace, kp.Name)
	p.mu.Lock()
	t := p.pods[name]
	if t != nil {
		t.kpod = kp.DeepCopy()
	}
	p.mu.Unlock()
	if t == nil {
		return errdefs.NotFoundf("pod %s is not on this node", name)
	}
	p.push(name)
	return nil
}

// DeletePod stops the pod, politely (preStop hooks, TERM, the Pod's grace
// period, KILL), then removes it and reports its final status; it returns
// at once, the stop goes on.
func (p *provider) DeletePod(ctx context.Context, kp *corev1.Pod) error {
	name := PodName(kp.Namespace, kp.Name)
	p.mu.Lock()
	t := p.pods[name]
	if t == nil {
		p.mu.Unlock()
		return errdefs.NotFoundf("pod %s is not on this node", name)
	}
	t.kpod = kp.DeepCopy()
	if t.deleting {
		p.mu.Unlock()
		return nil
	}
	t.deleting = true
	p.mu.Unlock()
	grace := 30
	if s := kp.Spec.TerminationGracePeriodSeconds; s != nil {
		grace = int(*s)
	}
	if s := kp.DeletionGracePeriodSeconds; s != nil {
		grace = int(*s)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(grace)*time.Second+time.Minute)
		defer cancel()
		// On a failure (the daemon down, a stop that overran) the pod
		// stays tracked and undeleted: virtual-kubelet asks again, and
		// the Pod object is not released while its processes may run.
		retry := func(what string, err error) {
			p.log.Warn().Err(err).Str("pod", name).Msg(what + " failed; will be retried")
			p.mu.Lock()
			if t := p.pods[name]; t != nil {
				t.deleting = false
			}
			p.mu.Unlock()
		}
		st, err := p.cl.Stop(ctx, name, &grace)
		if err != nil && !errors.Is(err, pod.ErrNotFound) {
			retry("stop", err)
			return
		}
		p.mu.Lock()
		t := p.pods[name]
		p.mu.Unlock()
		if t != nil && err == nil {
			p.send(name, t, &st)
		}
		if err := p.cl.Remove(ctx, name, true, ptr(0)); err != nil && !errors.Is(err, pod.ErrNotFound) {
			retry("remove", err)
			return
		}
		p.mu.Lock()
		if t := p.pods[name]; t != nil {
			t.gone = true
			final := t.last
			if final == nil {
				final = terminated(t.kpod)
			}
			delete(p.pods, name)
			notify := p.notify
			p.mu.Unlock()
			if notify != nil {
				notify(final.DeepCopy())
			}
		} else {
			p.mu.Unlock()
		}
		p.log.Info().Str("pod", name).Msg("deleted")
	}()
	return nil
}

// terminated is a Pod whose containers all ended, for a pod whose status
// was never pushed.
func terminated(kp *corev1.Pod) *corev1.Pod {
	out := kp.DeepCopy()
	out.Status.Phase = corev1.PodSucceeded
	now := metav1.Now()
	for _, list := range []*[]corev1.ContainerStatus{&out.Status.InitContainerStatuses, &out.Status.ContainerStatuses} {
		for i := range *list {
			(*list)[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", FinishedAt: now}}
			(*list)[i].Ready = false
		}
	}
	return out
}

// GetPod returns the Pod with its last status.
func (p *provider) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.pods[PodName(namespace, name)]
	if t == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, name)
	}
	if t.last != nil {
		return t.last.DeepCopy(), nil
	}
	return t.kpod.DeepCopy(), nil
}

// GetPodStatus returns the Pod's last status.
func (p *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	kp, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &kp.Status, nil
}

// GetPods returns every Pod the node runs.
func (p *provider) GetPods(ctx context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, t := range p.pods {
		if t.last != nil {
			out = append(out, t.last.DeepCopy())
		} else if t.kpod != nil {
			out = append(out, t.kpod.DeepCopy())
		}
	}
	return out, nil
}

// NotifyPods registers the callback that takes status changes.
func (p *provider) NotifyPods(ctx context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = cb
	p.mu.Unlock()
}

// refreshEvery is how often the agent looks for changed ConfigMaps and
// Secrets of its pods (in its informers' caches: no API call) and for
// service account tokens due for renewal (at 80 % of their life, as
// kubelet renews them).
const refreshEvery = 5 * time.Second

// refreshFiles keeps the pods' files volumes up to date: a ConfigMap or
// Secret a pod mounts that changed, or a token due, makes the agent send
// the daemon the pod's manifest again, whose changed files the daemon
// rewrites (POST /v1/pods/{name}/files).
func (p *provider) refreshFiles(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(refreshEvery):
		}
		type job struct {
			name string
			kp   *corev1.Pod
		}
		var due []job
		p.mu.Lock()
		for name, t := range p.pods {
			if t.deleting || t.gone || t.kpod == nil {
				continue
			}
			due = append(due, job{name, t.kpod.DeepCopy()})
		}
		p.mu.Unlock()
		for _, j := range due {
			p.mu.Lock()
			t := p.pods[j.name]
			var versions string
			var tokens, issued time.Time
			if t != nil {
				versions, tokens, issued = t.versions, t.tokens, t.issued
			}
			p.mu.Unlock()
			if t == nil {
				continue
			}
			// Renewed at 80 % of the token's life.
			renew := !tokens.IsZero() && time.Now().After(issued.Add(tokens.Sub(issued)*4/5))
			if p.versionsOf(j.kp) == versions && !renew {
				continue
			}
			m, err := p.buildManifest(ctx, j.kp)
			if err != nil {
				p.log.Warn().Err(err).Str("pod", j.name).Msg("refresh files")
				continue
			}
			changed, err := p.cl.RefreshFiles(ctx, j.name, m.pod, api.CreateOptions{IgnoreUnsupported: true, ConfigMaps: m.configMaps, Secrets: m.secrets})
			if err != nil {
				p.log.Warn().Err(err).Str("pod", j.name).Msg("refresh files")
				continue
			}
			p.mu.Lock()
			if t := p.pods[j.name]; t != nil {
				t.versions, t.tokens, t.issued = m.versions, m.tokens, time.Now()
			}
			p.mu.Unlock()
			if len(changed) > 0 {
				p.log.Info().Str("pod", j.name).Strs("volumes", changed).Msg("files refreshed")
			}
		}
	}
}

// push asks for the named pod's status to be read and sent.
func (p *provider) push(name string) {
	select {
	case p.kick <- name:
	default:
		p.log.Warn().Str("pod", name).Msg("status queue full")
	}
}

// follow sends statuses: it watches the daemon's pods (GET
// /v1/pods?watch=true) and turns each change of a pod of the node into
// the Pod's status, sent when it changed. It reconnects when the daemon
// restarts (and then reads every pod again).
func (p *provider) follow(ctx context.Context) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case name := <-p.kick:
				p.refresh(ctx, name)
			}
		}
	}()
	for ctx.Err() == nil {
		err := p.cl.WatchPods(ctx, func(c api.PodChange) error {
			if c.Type != api.PodChanged {
				return nil
			}
			p.mu.Lock()
			t := p.pods[c.Status.Name]
			p.mu.Unlock()
			if t != nil {
				st := c.Status
				p.send(c.Status.Name, t, &st)
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		p.log.Warn().Err(err).Msg("the daemon's status stream ended; reconnecting")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// refresh reads one pod's status from the daemon and sends it.
func (p *provider) refresh(ctx context.Context, name string) {
	st, err := p.cl.Get(ctx, name)
	if err != nil {
		if !errors.Is(err, pod.ErrNotFound) {
			p.log.Warn().Err(err).Str("pod", name).Msg("status")
		}
		return
	}
	p.mu.Lock()
	t := p.pods[name]
	p.mu.Unlock()
	if t == nil {
		return
	}
	p.send(name, t, &st)
}

// send turns a status into the Pod's and hands it to virtual-kubelet when
// it changed.
func (p *provider) send(name string, t *tracked, st *pod.Status) {
	conv, err := kube.PodStatus(t.spec, st, kube.Options{NodeName: p.cfg.NodeName, HostIP: p.cfg.InternalIP})
	if err != nil {
		p.log.Warn().Err(err).Str("pod", name).Msg("status")
		return
	}
	p.mu.Lock()
	if p.pods[name] != t || t.gone {
		// Deleted meanwhile: its final status was sent.
		p.mu.Unlock()
		return
	}
	out := t.kpod.DeepCopy()
	out.Status = conv.Status
	for i := range out.Status.ContainerStatuses {
		out.Status.ContainerStatuses[i].ImageID = ""
	}
	same := t.last != nil && statusEqual(&t.last.Status, &out.Status)
	t.last = out
	notify := p.notify
	p.mu.Unlock()
	if !same && notify != nil {
		notify(out.DeepCopy())
	}
}

func statusEqual(a, b *corev1.PodStatus) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// GetContainerLogs streams a process's output from the daemon's logs
// (kubectl logs [-f] [--tail]).
func (p *provider) GetContainerLogs(ctx context.Context, namespace, podName, container string, opts vkapi.ContainerLogOpts) (io.ReadCloser, error) {
	name := PodName(namespace, podName)
	if !p.runs(name) {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, podName)
	}
	// --previous: the lines of the run before the current one, by the
	// times the status gives for it (the log holds every run).
	var from, to time.Time
	if opts.Previous {
		st, err := p.cl.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		var prev *pod.Terminated
		for _, ps := range append(append([]pod.ProcessStatus(nil), st.Init...), st.Processes...) {
			if ps.Name == container {
				prev = ps.LastState.Terminated
			}
		}
		if prev == nil || prev.StartedAt == nil {
			return nil, errdefs.InvalidInputf("previous terminated container %q in pod %q not found", container, podName)
		}
		from, to = *prev.StartedAt, prev.FinishedAt
	}
	r, w := io.Pipe()
	go func() {
		written := 0
		lo := api.LogsOptions{Process: container, Tail: opts.Tail, Follow: opts.Follow}
		if opts.Previous {
			// The whole history, cut to the previous run below; its tail
			// is taken here.
			lo.Tail, lo.Follow = 0, false
		}
		var prevLines []string
		err := p.cl.Logs(ctx, name, lo, func(e pod.LogEntry) error {
			if opts.Previous {
				if e.Time.Before(from) || e.Time.After(to) {
					return nil
				}
				line := e.Line
				if !e.Partial {
					line += "\n"
				}
				if opts.Timestamps {
					line = e.Time.Format(time.RFC3339Nano) + " " + line
				}
				prevLines = append(prevLines, line)
				return nil
			}
			if !opts.SinceTime.IsZero() && e.Time.Before(opts.SinceTime) {
				return nil
			}
			if opts.SinceSeconds > 0 && time.Since(e.Time) > time.Duration(opts.SinceSeconds)*time.Second {
				return nil
			}
			line := e.Line
			if !e.Partial {
				line += "\n"
			}
			if opts.Timestamps {
				line = e.Time.Format(time.RFC3339Nano) + " " + line
			}
			if opts.LimitBytes > 0 && written+len(line) > opts.LimitBytes {
				line = line[:opts.LimitBytes-written]
			}
			n, err := io.WriteString(w, line)
			written += n
			if err == nil && opts.LimitBytes > 0 && written >= opts.LimitBytes {
				return io.EOF
			}
			return err
		})
		if errors.Is(err, io.EOF) {
			err = nil
		}
		if err == nil && opts.Previous {
			if opts.Tail > 0 && len(prevLines) > opts.Tail {
				prevLines = prevLines[len(prevLines)-opts.Tail:]
			}
			_, err = io.WriteString(w, strings.Join(prevLines, ""))
		}
		w.CloseWithError(err)
	}()
	return r, nil
}

// RunInContainer runs a command in the pod as the named process (its
// cgroup, user, environment, working directory and view), as `podvisor
// exec --process` does; its exit code reaches kubectl exec.
func (p *provider) RunInContainer(ctx context.Context, namespace, podName, container string, cmd []string, attach vkapi.AttachIO) error {
	name := PodName(namespace, podName)
	if !p.runs(name) {
		return errdefs.NotFoundf("pod %s/%s is not on this node", namespace, podName)
	}
	st, err := p.cl.Get(ctx, name)
	if err != nil {
		return err
	}
	spec, err := p.cl.Spec(ctx, name)
	if err != nil {
		return err
	}
	req := supervisor.ExecRequest{Status: st, Spec: spec, Process: container, Command: cmd, TTY: attach.TTY()}
	var copies sync.WaitGroup
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	pipeOut := func(w io.WriteCloser) (*os.File, error) {
		r, wf, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		closers = append(closers, wf)
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer r.Close()
			_, _ = io.Copy(w, r)
		}()
		return wf, nil
	}
	if w := attach.Stdout(); w != nil {
		if req.Stdout, err = pipeOut(w); err != nil {
			return err
		}
	}
	if w := attach.Stderr(); w != nil && !req.TTY {
		if req.Stderr, err = pipeOut(w); err != nil {
			return err
		}
	}
	if in := attach.Stdin(); in != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		closers = append(closers, r)
		go func() {
			_, _ = io.Copy(w, in)
			w.Close()
		}()
		req.Stdin = r
	}
	code, err := supervisor.Exec(ctx, req)
	// The command has ended: the write ends go, the copies drain.
	for _, f := range closers {
		f.Close()
	}
	closers = nil
	copies.Wait()
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// runs reports whether the node runs the named pod (a daemon's other
// pods are not the kubelet API's to show).
func (p *provider) runs(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.pods[name]
	return t != nil && !t.gone
}

// AttachToContainer is not supported: a process's output is in its logs.
func (p *provider) AttachToContainer(ctx context.Context, namespace, podName, containerName string, attach vkapi.AttachIO) error {
	return errdefs.InvalidInput("attach is not supported by podvisor nodes: use kubectl logs -f, or kubectl exec")
}

// GetStatsSummary is not served yet: podvisor stats and GET /metrics on
// the daemon have the figures.
func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errdefs.InvalidInput("the stats summary is not served by podvisor nodes: use podvisor stats or the daemon's /metrics")
}

// GetMetricsResource returns no metrics.
func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

// PortForward is not supported.
func (p *provider) PortForward(ctx context.Context, namespace, podName string, port int32, stream io.ReadWriteCloser) error {
	return errdefs.InvalidInput("port-forward is not supported by podvisor nodes: pods have their own IP on the node's bridge")
}

func ptr[T any](v T) *T { return &v }

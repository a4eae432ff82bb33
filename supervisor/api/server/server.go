package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/user"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/api"
	"github.com/podvisor/podvisor/supervisor/api/manifest"
)

// Server serves the API for one supervisor.
type Server struct {
	// Supervisor does the work.
	Supervisor *supervisor.Supervisor
	// Log receives a line per refused client and per failed request.
	Log zerolog.Logger
	// Version is reported by /v1/version.
	Version string
	// Group is the group whose members may use the API besides root;
	// default "podvisor". A missing group admits root only.
	Group string

	once      sync.Once
	gid       int // -1 when the group does not exist
	mu        sync.Mutex
	history   []pod.Event // the last events, up to historySize
	seq       uint64      // the last event's sequence number
	followers map[chan pod.Event]struct{}
	stop      func()
}

const historySize = 1000

// Start begins recording events for /v1/events. Call it before the
// supervisor recovers or creates pods; Close ends it.
func (s *Server) Start() {
	s.once.Do(s.init)
}

func (s *Server) init() {
	s.gid = -1
	name := s.Group
	if name == "" {
		name = "podvisor"
	}
	if g, err := user.LookupGroup(name); err == nil {
		s.gid, _ = strconv.Atoi(g.Gid)
	}
	events, stop := s.Supervisor.Subscribe(4096)
	s.stop = stop
	s.followers = map[chan pod.Event]struct{}{}
	go func() {
		for e := range events {
			s.mu.Lock()
			if len(s.history) >= historySize {
				s.history = append(s.history[:0], s.history[len(s.history)-historySize/2:]...)
			}
			s.seq++
			e.Seq = s.seq
			s.history = append(s.history, e)
			for ch := range s.followers {
				select {
				case ch <- e:
				default: // a follower that does not keep up loses events
				}
			}
			s.mu.Unlock()
		}
	}()
}

// Close stops recording events.
func (s *Server) Close() {
	s.Start()
	s.stop()
}

// GID is the admitted group's id, or -1.
func (s *Server) GID() int {
	s.Start()
	return s.gid
}

type credKey struct{}

// ConnContext records the peer credentials of a unix socket connection
// (a *net.UnixConn, or a wrapper of one that implements syscall.Conn); set
// it as http.Server.ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(syscall.Conn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cred == nil {
		return ctx
	}
	return context.WithValue(ctx, credKey{}, cred)
}

// allowed admits root and members of the group.
func (s *Server) allowed(cred *unix.Ucred) bool {
	if cred == nil {
		return false
	}
	if cred.Uid == 0 {
		return true
	}
	if s.gid < 0 {
		return false
	}
	if int(cred.Gid) == s.gid {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cred.Pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if groups, ok := strings.CutPrefix(line, "Groups:"); ok {
			for _, g := range strings.Fields(groups) {
				if g == strconv.Itoa(s.gid) {
					return true
				}
			}
		}
	}
	return false
}

// Handler returns the API's HTTP handler. Use it with a server whose
// ConnContext is ConnContext, so that peers are checked.
func (s *Server) Handler() http.Handler {
	s.Start()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/version", s.version)
	mux.HandleFunc("GET /v1/pods", s.list)
	mux.HandleFunc("POST /v1/pods", s.create)
	mux.HandleFunc("GET /v1/pods/{name}", s.get)
	mux.HandleFunc("GET /v1/pods/{name}/spec", s.spec)
	mux.HandleFunc("GET /v1/pods/{name}/explain", s.explain)
	mux.HandleFunc("POST /v1/pods/{name}/files", s.refreshFiles)
	mux.HandleFunc("DELETE /v1/pods/{name}", s.remove)
	mux.HandleFunc("POST /v1/pods/{name}/start", s.start)
	mux.HandleFunc("POST /v1/pods/{name}/stop", s.stopPod)
	mux.HandleFunc("POST /v1/pods/{name}/restart", s.restart)
	mux.HandleFunc("GET /v1/pods/{name}/logs", s.logs)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.Handle("GET /metrics", MetricsHandler(s.Supervisor))
	mux.HandleFunc("GET /v1/stats", s.stats)
	mux.HandleFunc("GET /v1/networks", s.networks)
	mux.HandleFunc("POST /v1/networks", s.createNetwork)
	mux.HandleFunc("GET /v1/networks/{name}", s.network)
	mux.HandleFunc("DELETE /v1/networks/{name}", s.removeNetwork)
	mux.HandleFunc("/", notFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, _ := r.Context().Value(credKey{}).(*unix.Ucred)
		if !s.allowed(cred) {
			uid, pid := -1, -1
			if cred != nil {
				uid, pid = int(cred.Uid), int(cred.Pid)
			}
			s.Log.Warn().Int("uid", uid).Int("pid", pid).Str("path", r.URL.Path).Msg("refused API client: not root nor in the podvisor group")
			writeJSON(w, http.StatusForbidden, api.ErrorBody{Error: "permission denied: podvisor's API is for root and the podvisor group", Code: api.CodeForbidden})
			return
		}
		// ServeMux would redirect a path that is not clean ("..", "//")
		// with an HTML body: an API path is clean or does not exist.
		if !cleanPath(r.URL.Path) {
			notFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// cleanPath reports whether p is an absolute path with no empty, "." or
// ".." element and no trailing slash.
func cleanPath(p string) bool {
	return p == "/" || strings.HasPrefix(p, "/") && path.Clean(p) == p
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, api.ErrorBody{Error: fmt.Sprintf("no such API path: %s %s", r.Method, r.URL.Path), Code: api.CodeNotFound})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status := api.Classify(err)
	if status == http.StatusInternalServerError {
		s.Log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("request failed")
	}
	writeJSON(w, status, api.ErrorBody{Error: err.Error(), Code: code})
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.VersionInfo{Version: s.Version, APIVersion: "v1", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("watch") == "true" {
		s.watch(w, r)
		return
	}
	pods := s.Supervisor.List()
	out := make([]pod.Status, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.Status())
	}
	writeJSON(w, http.StatusOK, out)
}

// watch streams every pod's status, then each change (GET
// /v1/pods?watch=true).
func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	// Subscribed first: a change between the list and the loop is sent.
	wake, next, cancel := s.Supervisor.WatchChanges()
	defer cancel()
	st := newStreamer(w)
	for _, p := range s.Supervisor.List() {
		if err := st.send(api.PodChange{Type: api.PodChanged, Status: p.Status()}); err != nil {
			return
		}
	}
	for {
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
		names := next()
		sort.Strings(names)
		for _, name := range names {
			c := api.PodChange{Type: api.PodChanged}
			if p, err := s.Supervisor.Get(name); err == nil {
				c.Status = p.Status()
			} else {
				c.Type, c.Status = api.PodRemoved, pod.Status{Name: name}
			}
			if err := st.send(c); err != nil {
				return
			}
		}
	}
}

func (s *Server) pod(w http.ResponseWriter, r *http.Request) (*supervisor.Pod, bool) {
	p, err := s.Supervisor.Get(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return p, true
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.pod(w, r); ok {
		writeJSON(w, http.StatusOK, p.Status())
	}
}

// explain says why each process (or ?process=NAME) is or is not running
// and ready.
func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pod(w, r)
	if !ok {
		return
	}
	ex, err := p.Explain(r.URL.Query().Get("process"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

func (s *Server) spec(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.pod(w, r); ok {
		writeJSON(w, http.StatusOK, p.Spec())
	}
}

// maxSpec bounds a request body.
const maxSpec = 1 << 20

// maxWarnings bounds the bytes of the Warning headers of one answer; the
// warnings past it are counted in a last one.
const maxWarnings = 256 << 10

// create reads a pod file (podvisor/v1 or Kubernetes manifests, perhaps
// with ConfigMap and Secret files in a multipart/form-data body), creates
// its pods, all or none, and with ?start=true starts them.
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSpec+1))
	if err != nil {
		// A malformed or truncated body (bad chunked encoding, a client
		// too slow for the server's ReadTimeout) is the client's fault.
		s.fail(w, r, fmt.Errorf("reading the pod spec: %v: %w", err, pod.ErrInvalid))
		return
	}
	if len(body) > maxSpec {
		s.fail(w, r, fmt.Errorf("pod spec larger than %d bytes: %w", maxSpec, pod.ErrInvalid))
		return
	}
	q := r.URL.Query()
	o := kube.Options{IgnoreUnsupported: q.Get("ignoreUnsupported") == "true"}
	file, err := splitBody(r.Header.Get("Content-Type"), body, &o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := manifest.LoadOnHost(file, s.Supervisor.Root(), o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setWarnings(w.Header(), manifest.Lines(res))
	if n := len(res.Pods); n > 1 && q.Get("all") != "true" {
		s.fail(w, r, fmt.Errorf("the body holds %d pods: add ?all=true to create them all (the answer is then an array of statuses): %w", n, pod.ErrInvalid))
		return
	}
	if len(res.Pods) == 1 {
		// One pod: as it has always been; a pod that fails to start is
		// kept, with the error.
		p, err := s.Supervisor.Create(res.Pods[0])
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if q.Get("start") == "true" {
			if err := startPod(r, p); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		writeJSON(w, http.StatusCreated, p.Status())
		return
	}
	// Several pods: all of them or none.
	made, err := s.Supervisor.CreateAll(r.Context(), res.Pods, supervisor.CreateAllOptions{Start: q.Get("start") == "true"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if q.Get("start") == "true" {
		for _, p := range made {
			if err := waitStarted(r, p); err != nil {
				s.fail(w, r, err)
				return
			}
		}
	}
	out := make([]pod.Status, len(made))
	for i, p := range made {
		out[i] = p.Status()
	}
	writeJSON(w, http.StatusCreated, out)
}

// refreshFiles takes a newer translation of a pod (a body as create's: its
// Kubernetes manifest, with its ConfigMaps and Secrets) and rewrites the
// pod's files volumes that changed; the answer names them:
// {"volumes": [...]}.
func (s *Server) refreshFiles(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pod(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSpec+1))
	if err != nil || len(body) > maxSpec {
		s.fail(w, r, fmt.Errorf("reading the pod spec: too large or unreadable: %w", pod.ErrInvalid))
		return
	}
	o := kube.Options{IgnoreUnsupported: r.URL.Query().Get("ignoreUnsupported") == "true"}
	file, err := splitBody(r.Header.Get("Content-Type"), body, &o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := manifest.LoadOnHost(file, s.Supervisor.Root(), o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(res.Pods) != 1 {
		s.fail(w, r, fmt.Errorf("the body holds %d pods, want pod %q alone: %w", len(res.Pods), p.Name(), pod.ErrInvalid))
		return
	}
	changed, err := p.RefreshFiles(res.Pods[0])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.FilesRefreshed{Volumes: changed})
}

// splitBody returns the pod file of a create body. A multipart/form-data
// body holds it as its part "file", and ConfigMap and Secret files as parts
// "configmap" and "secret" (any number, in order), which go to o; any other
// body is the pod file itself.
func splitBody(contentType string, body []byte, o *kube.Options) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		return body, nil
	}
	if params["boundary"] == "" {
		return nil, fmt.Errorf("a multipart/form-data body without a boundary: %w", pod.ErrInvalid)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var file []byte
	files := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the multipart body: %v: %w", err, pod.ErrInvalid)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("reading the multipart body: %v: %w", err, pod.ErrInvalid)
		}
		switch name := part.FormName(); name {
		case api.PartFile:
			file = data
			files++
		case api.PartConfigMap:
			o.ConfigMaps = append(o.ConfigMaps, data)
		case api.PartSecret:
			o.Secrets = append(o.Secrets, data)
		default:
			return nil, fmt.Errorf("multipart body: unknown part %q: the parts are %q, %q and %q: %w", name, api.PartFile, api.PartConfigMap, api.PartSecret, pod.ErrInvalid)
		}
	}
	if files != 1 {
		return nil, fmt.Errorf("multipart body: %d parts %q, want exactly one (the pod file): %w", files, api.PartFile, pod.ErrInvalid)
	}
	return file, nil
}

// setWarnings adds one Warning header per line, up to maxWarnings bytes.
func setWarnings(h http.Header, lines []string) {
	size := 0
	for i, l := range lines {
		v := api.WarningHeader(l)
		if size+len(v) > maxWarnings {
			h.Add("Warning", api.WarningHeader(fmt.Sprintf("%s%d more notices and warnings not shown", manifest.WarningPrefix, len(lines)-i)))
			return
		}
		size += len(v)
		h.Add("Warning", v)
	}
}

// startPod starts p and, with ?wait=true, waits until it has started.
func startPod(r *http.Request, p *supervisor.Pod) error {
	if err := p.Start(); err != nil {
		return err
	}
	return waitStarted(r, p)
}

// waitStarted waits, with ?wait=true, until p has started (see
// api.Started).
func waitStarted(r *http.Request, p *supervisor.Pod) error {
	if r.URL.Query().Get("wait") != "true" {
		return nil
	}
	_, err := p.WaitFor(r.Context(), api.Started)
	return err
}

func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pod(w, r)
	if !ok {
		return
	}
	if err := startPod(r, p); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p.Status())
}

// grace reads ?timeout=SECONDS; nil when absent. pod.GracePeriod converts
// it, so a number past pod.MaxGracePeriodSeconds is refused, never wrapped.
func grace(r *http.Request) (*time.Duration, error) {
	t := r.URL.Query().Get("timeout")
	if t == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	d, gerr := pod.GracePeriod(n)
	if err != nil || gerr != nil {
		return nil, fmt.Errorf("timeout: must be a whole number of seconds from 0 to %d, got %q: %w", pod.MaxGracePeriodSeconds, t, pod.ErrInvalid)
	}
	return &d, nil
}

func (s *Server) stopPod(w http.ResponseWriter, r *http.Request) {
	s.withGrace(w, r, func(p *supervisor.Pod, g *time.Duration) error { return p.Stop(r.Context(), g) })
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	s.withGrace(w, r, func(p *supervisor.Pod, g *time.Duration) error {
		if err := p.Restart(r.Context(), g); err != nil {
			return err
		}
		return waitStarted(r, p)
	})
}

// withGrace runs do on the named pod with the ?timeout= grace, and answers
// with the pod's status.
func (s *Server) withGrace(w http.ResponseWriter, r *http.Request, do func(*supervisor.Pod, *time.Duration) error) {
	g, err := grace(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, ok := s.pod(w, r)
	if !ok {
		return
	}
	if err := do(p, g); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p.Status())
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	g, err := grace(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	force := r.URL.Query().Get("force") == "true"
	// A removal, once begun, is finished even if the client goes away
	// during the stop's grace period: it would otherwise leave the pod
	// stopped but not removed.
	ctx := context.WithoutCancel(r.Context())
	if err := s.Supervisor.Remove(ctx, r.PathValue("name"), supervisor.RemoveOptions{Force: force, Grace: g}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// streamer writes JSON lines and flushes each.
type streamer struct {
	w   http.ResponseWriter
	enc *json.Encoder
	f   http.Flusher
}

func newStreamer(w http.ResponseWriter) *streamer {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	if f != nil {
		// The client's request returns now, not at the first line, which
		// may come much later (a watch of a daemon with no pod).
		f.Flush()
	}
	return &streamer{w: w, enc: json.NewEncoder(w), f: f}
}

func (st *streamer) send(v any) error {
	if err := st.enc.Encode(v); err != nil {
		return err
	}
	if st.f != nil {
		st.f.Flush()
	}
	return nil
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	p, ok := s.pod(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	process := q.Get("process")
	if process != "" && !p.HasProcess(process) {
		s.fail(w, r, fmt.Errorf("pod %q has no process %q: %w", p.Name(), process, pod.ErrNotFound))
		return
	}
	tail := -1
	if t := q.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			s.fail(w, r, fmt.Errorf("tail: must be a number, got %q: %w", t, pod.ErrInvalid))
			return
		}
		tail = n
	}
	follow := q.Get("follow") == "true"
	var live <-chan pod.LogEntry
	if follow {
		ch, cancel := s.Supervisor.FollowLogs(p.Name())
		defer cancel()
		live = ch
	}
	entries, err := p.Logs(process, tail)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st := newStreamer(w)
	var last time.Time
	for _, e := range entries {
		if err := st.send(e); err != nil {
			return
		}
		last = e.Time
	}
	if !follow {
		return
	}
	for {
		select {
		case e, ok := <-live:
			if !ok {
				// Dropped for falling behind (supervisor.ErrFollowerBehind):
				// a last line says so, and the stream ends.
				_ = st.send(followerDropped(process))
				return
			}
			if !e.Time.After(last) || process != "" && e.Process != process {
				continue
			}
			if err := st.send(e); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-p.Done():
			return
		}
	}
}

// droppedEntry is the last line of a log follow that fell behind: a log
// entry, for clients that read entries, with an error field.
type droppedEntry struct {
	pod.LogEntry
	Error string `json:"error"`
}

// followerDropped is the last line of a log follow that fell behind, as a
// line of process (or of "podvisor") on stderr.
func followerDropped(process string) droppedEntry {
	if process == "" {
		process = "podvisor"
	}
	msg := "podvisor: " + supervisor.ErrFollowerBehind.Error() + "; follow again to go on"
	return droppedEntry{
		LogEntry: pod.LogEntry{Time: time.Now().UTC(), Process: process, Stream: pod.Stderr, Line: msg},
		Error:    supervisor.ErrFollowerBehind.Error(),
	}
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	follow := r.URL.Query().Get("follow") == "true"
	keep, err := sinceFilter(r.URL.Query().Get("since"), time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The history and the live feed come from the same recorder, taken
	// under one lock: no event is lost or sent twice between them.
	live := make(chan pod.Event, 1024)
	s.mu.Lock()
	history := append([]pod.Event(nil), s.history...)
	if follow {
		s.followers[live] = struct{}{}
	}
	s.mu.Unlock()
	if follow {
		defer func() {
			s.mu.Lock()
			delete(s.followers, live)
			s.mu.Unlock()
		}()
	}
	st := newStreamer(w)
	for _, e := range history {
		if !keep(e) {
			continue
		}
		if err := st.send(e); err != nil {
			return
		}
	}
	if !follow {
		return
	}
	for {
		select {
		case e := <-live:
			if err := st.send(e); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = http.ErrServerClosed

func wireNetwork(c supervisor.NetworkConfig) api.Network {
	return api.Network{Name: c.Name, Driver: c.Driver, Bridge: c.Bridge, Subnet: c.Subnet, Gateway: c.Gateway,
		Subnet6: c.Subnet6, Gateway6: c.Gateway6, Internal: c.Internal, Default: c.Default, DNS: c.DNS,
		File: c.File, Plugins: c.Plugins, Pods: c.Pods, CreatedAt: c.CreatedAt}
}

func (s *Server) networks(w http.ResponseWriter, r *http.Request) {
	all, err := s.Supervisor.Networks()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.Network, 0, len(all))
	for _, c := range all {
		out = append(out, wireNetwork(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) network(w http.ResponseWriter, r *http.Request) {
	c, err := s.Supervisor.Network(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireNetwork(c))
}

func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var req api.Network
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSpec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, fmt.Errorf("network: %v: %w", err, pod.ErrInvalid))
		return
	}
	c, err := s.Supervisor.CreateNetwork(supervisor.NetworkConfig{Name: req.Name, Bridge: req.Bridge, Subnet: req.Subnet, Gateway: req.Gateway,
		Subnet6: req.Subnet6, Gateway6: req.Gateway6, Internal: req.Internal})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wireNetwork(c))
}

func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	if err := s.Supervisor.RemoveNetwork(r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sinceFilter reads the since parameter of GET /v1/events: a sequence
// number (the events after it), an RFC 3339 time or a Go duration before
// now (the events at or after it); empty keeps every event.
func sinceFilter(v string, now time.Time) (func(pod.Event) bool, error) {
	if v == "" {
		return func(pod.Event) bool { return true }, nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return func(e pod.Event) bool { return e.Seq > n }, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil || d < 0 {
			return nil, fmt.Errorf("since: %q is not a sequence number, an RFC 3339 time or a duration such as 10m: %w", v, pod.ErrInvalid)
		}
		t = now.Add(-d)
	}
	return func(e pod.Event) bool { return !e.Time.Before(t) }, nil
}

// MetricsHandler serves the supervisor's Prometheus metrics (GET /metrics,
// the text exposition format): on the API socket, and alone on the TCP
// address a daemon or up is given with --metrics-address.
func MetricsHandler(sv *supervisor.Supervisor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", supervisor.MetricsContentType)
		_ = sv.WriteMetrics(w)
	})
}

// stats answers GET /v1/stats?pod=NAME...: the pods' figures now.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Supervisor.Stats(r.URL.Query()["pod"]...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"

	"github.com/podvisor/podvisor/pod"
)

// Client talks to a podvisor daemon over its unix socket.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Socket is the socket the client talks to.
func (c *Client) Socket() string { return c.socket }

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if closedConn(err) {
			return &ClosedError{Socket: c.socket, Err: err}
		}
		return fmt.Errorf("decode daemon answer: %w", err)
	}
	return nil
}

// ErrDaemonClosed matches, with errors.Is, the error of a request whose
// connection the daemon closed before it had answered in full: it
// stopped or crashed meanwhile. The request may or may not have been
// carried out.
var ErrDaemonClosed = errors.New("the podvisor daemon closed the connection")

// ClosedError is the error of a request whose connection the daemon
// closed before its answer was complete. It matches ErrDaemonClosed and
// its cause (io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET...) with
// errors.Is.
type ClosedError struct {
	// Socket is the daemon's socket.
	Socket string
	// Err is what the connection gave.
	Err error
}

// Error says that the daemon closed the connection, and what was seen.
func (e *ClosedError) Error() string {
	return fmt.Sprintf("the podvisor daemon at %s closed the connection before answering in full (did it stop or crash?): %v", e.Socket, e.Err)
}

// Unwrap gives ErrDaemonClosed and the cause.
func (e *ClosedError) Unwrap() []error { return []error{ErrDaemonClosed, e.Err} }

// closedConn reports whether err means that the peer closed the
// connection.
func closedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// send makes a request and turns an error answer into an *Error.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	resp, err := c.roundTrip(ctx, method, path, q, body, "")
	if err != nil {
		return nil, err
	}
	if err := answerError(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// roundTrip makes a request and returns the answer, whatever its status.
func (c *Client) roundTrip(ctx context.Context, method, path string, q url.Values, body []byte, contentType string) (*http.Response, error) {
	u := "http://podvisor" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		err = unwrapURL(err)
		var op *net.OpError
		if closedConn(err) && !(errors.As(err, &op) && op.Op == "dial") {
			return nil, &ClosedError{Socket: c.socket, Err: err}
		}
		return nil, fmt.Errorf("cannot reach the podvisor daemon at %s: %w", c.socket, err)
	}
	return resp, nil
}

// answerError turns an error answer (a status of 300 or more) into an
// *Error, and closes its body; it returns nil for any other answer.
func answerError(resp *http.Response) error {
	if resp.StatusCode < 300 {
		return nil
	}
	defer resp.Body.Close()
	var eb ErrorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		eb = ErrorBody{Error: fmt.Sprintf("daemon answered %s", resp.Status), Code: CodeInternal}
	}
	return &Error{Status: resp.StatusCode, Code: eb.Code, Message: eb.Error}
}

func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v VersionInfo
	return v, c.do(ctx, "GET", "/v1/version", nil, nil, &v)
}

// List returns every pod's status.
func (c *Client) List(ctx context.Context) ([]pod.Status, error) {
	var out []pod.Status
	return out, c.do(ctx, "GET", "/v1/pods", nil, nil, &out)
}

// Get returns one pod's status.
func (c *Client) Get(ctx context.Context, name string) (pod.Status, error) {
	var st pod.Status
	return st, c.do(ctx, "GET", "/v1/pods/"+url.PathEscape(name), nil, nil, &st)
}

// Explain says why each process of a pod (or the named one, when process
// is not "") is or is not running and ready.
func (c *Client) Explain(ctx context.Context, name, process string) (pod.Explanation, error) {
	q := url.Values{}
	if process != "" {
		q.Set("process", process)
	}
	var ex pod.Explanation
	return ex, c.do(ctx, "GET", "/v1/pods/"+url.PathEscape(name)+"/explain", q, nil, &ex)
}

// RefreshFiles sends a newer translation of a pod (its manifest, with the
// ConfigMaps and Secrets of o; o.Start and o.Wait are ignored) and has the
// daemon rewrite the pod's files volumes that changed (POST
// /v1/pods/{name}/files); it returns their names.
func (c *Client) RefreshFiles(ctx context.Context, name string, spec []byte, o CreateOptions) ([]string, error) {
	q := url.Values{}
	if o.IgnoreUnsupported {
		q.Set("ignoreUnsupported", "true")
	}
	body, contentType := spec, ""
	if len(o.ConfigMaps) > 0 || len(o.Secrets) > 0 {
		var err error
		if body, contentType, err = multipartBody(spec, o.ConfigMaps, o.Secrets); err != nil {
			return nil, err
		}
	}
	resp, err := c.roundTrip(ctx, "POST", "/v1/pods/"+url.PathEscape(name)+"/files", q, body, contentType)
	if err != nil {
		return nil, err
	}
	if err := answerError(resp); err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out FilesRefreshed
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode daemon answer: %w", err)
	}
	return out.Volumes, nil
}

// Spec returns one pod's spec, defaults applied.
func (c *Client) Spec(ctx context.Context, name string) (*pod.Pod, error) {
	var p pod.Pod
	if err := c.do(ctx, "GET", "/v1/pods/"+url.PathEscape(name)+"/spec", nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Create sends a pod file (YAML or JSON). With start, the pod is started;
// with wait too, the call returns once it has started (see Started).
func (c *Client) Create(ctx context.Context, spec []byte, start, wait bool) (pod.Status, error) {
	q := url.Values{}
	if start {
		q.Set("start", "true")
	}
	if wait {
		q.Set("wait", "true")
	}
	var st pod.Status
	return st, c.do(ctx, "POST", "/v1/pods", q, spec, &st)
}

// CreateOptions are the options of CreateAll.
type CreateOptions struct {
	// Start starts the pods once they are all created (?start=true).
	Start bool
	// Wait, with Start, returns once every pod has started (?wait=true).
	Wait bool
	// IgnoreUnsupported turns the refusal of a Kubernetes field podvisor
	// cannot honour into a warning, the field left out
	// (?ignoreUnsupported=true).
	IgnoreUnsupported bool
	// ConfigMaps and Secrets are the contents of --configmap and --secret
	// files: ConfigMap (Secret) documents for the manifest's env and
	// volumes. When either is given, the request is a multipart/form-data
	// body (see docs/api.md).
	ConfigMaps, Secrets [][]byte
}

// CreateAll sends a pod file, podvisor/v1 or Kubernetes manifests of any
// number of pods, and creates every pod of it (?all=true): all of them, or,
// when one cannot be created, none. It returns their statuses in the
// file's order, and the notices and warnings of the translation, one line
// each ("notice: ...", "warning: ..."), which come in the answer's Warning
// headers; the warnings are returned with an error too.
func (c *Client) CreateAll(ctx context.Context, spec []byte, o CreateOptions) ([]pod.Status, []string, error) {
	q := url.Values{"all": {"true"}}
	if o.Start {
		q.Set("start", "true")
	}
	if o.Wait {
		q.Set("wait", "true")
	}
	if o.IgnoreUnsupported {
		q.Set("ignoreUnsupported", "true")
	}
	body, contentType := spec, ""
	if len(o.ConfigMaps) > 0 || len(o.Secrets) > 0 {
		var err error
		body, contentType, err = multipartBody(spec, o.ConfigMaps, o.Secrets)
		if err != nil {
			return nil, nil, err
		}
	}
	resp, err := c.roundTrip(ctx, "POST", "/v1/pods", q, body, contentType)
	if err != nil {
		return nil, nil, err
	}
	warnings := ParseWarnings(resp.Header)
	if err := answerError(resp); err != nil {
		return nil, warnings, err
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		if closedConn(err) {
			return nil, warnings, &ClosedError{Socket: c.socket, Err: err}
		}
		return nil, warnings, fmt.Errorf("decode daemon answer: %w", err)
	}
	// One pod: the status object; several: an array of them.
	var out []pod.Status
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(raw, &out)
	} else {
		var st pod.Status
		err = json.Unmarshal(raw, &st)
		out = []pod.Status{st}
	}
	if err != nil {
		return nil, warnings, fmt.Errorf("decode daemon answer: %w", err)
	}
	return out, warnings, nil
}

// Part names of a multipart/form-data create body.
const (
	PartFile      = "file"
	PartConfigMap = "configmap"
	PartSecret    = "secret"
)

// multipartBody is a create body of the pod file and its ConfigMap and
// Secret files, as parts named file, configmap and secret.
func multipartBody(spec []byte, configMaps, secrets [][]byte) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	add := func(name string, data []byte) error {
		w, err := mw.CreateFormField(name)
		if err == nil {
			_, err = w.Write(data)
		}
		return err
	}
	if err := add(PartFile, spec); err != nil {
		return nil, "", err
	}
	for _, d := range configMaps {
		if err := add(PartConfigMap, d); err != nil {
			return nil, "", err
		}
	}
	for _, d := range secrets {
		if err := add(PartSecret, d); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// Start starts a pod; with wait, it returns once the pod has started.
func (c *Client) Start(ctx context.Context, name string, wait bool) (pod.Status, error) {
	q := url.Values{}
	if wait {
		q.Set("wait", "true")
	}
	var st pod.Status
	return st, c.do(ctx, "POST", "/v1/pods/"+url.PathEscape(name)+"/start", q, nil, &st)
}

func timeoutQuery(timeout *int) url.Values {
	q := url.Values{}
	if timeout != nil {
		q.Set("timeout", strconv.Itoa(*timeout))
	}
	return q
}

// Stop stops a pod and returns once it is stopped; timeout (seconds)
// overrides the grace period when not nil.
func (c *Client) Stop(ctx context.Context, name string, timeout *int) (pod.Status, error) {
	var st pod.Status
	return st, c.do(ctx, "POST", "/v1/pods/"+url.PathEscape(name)+"/stop", timeoutQuery(timeout), nil, &st)
}

// Restart stops and starts a pod, and returns once it has started again.
func (c *Client) Restart(ctx context.Context, name string, timeout *int) (pod.Status, error) {
	q := timeoutQuery(timeout)
	q.Set("wait", "true")
	var st pod.Status
	return st, c.do(ctx, "POST", "/v1/pods/"+url.PathEscape(name)+"/restart", q, nil, &st)
}

// Remove deletes a pod; force stops a running one first.
func (c *Client) Remove(ctx context.Context, name string, force bool, timeout *int) error {
	q := timeoutQuery(timeout)
	if force {
		q.Set("force", "true")
	}
	return c.do(ctx, "DELETE", "/v1/pods/"+url.PathEscape(name), q, nil, nil)
}

// LogsOptions select log lines.
type LogsOptions struct {
	// Process limits the lines to one process; "" is all, merged in time.
	Process string
	// Tail keeps the last Tail lines of the history: 0 is all of it, a
	// negative value none (with Follow: only new lines).
	Tail int
	// Follow keeps streaming new lines, across restarts, until ctx ends.
	Follow bool
}

// Logs streams a pod's log lines to fn.
func (c *Client) Logs(ctx context.Context, name string, o LogsOptions, fn func(pod.LogEntry) error) error {
	q := url.Values{}
	if o.Process != "" {
		q.Set("process", o.Process)
	}
	switch {
	case o.Tail > 0:
		q.Set("tail", strconv.Itoa(o.Tail))
	case o.Tail < 0:
		q.Set("tail", "0")
	}
	if o.Follow {
		q.Set("follow", "true")
	}
	return stream(c, ctx, "/v1/pods/"+url.PathEscape(name)+"/logs", q, fn)
}

// Events streams recent events, then new ones with follow, to fn.
func (c *Client) Events(ctx context.Context, follow bool, fn func(pod.Event) error) error {
	return c.EventsSince(ctx, "", follow, fn)
}

// EventsSince is Events from a point of the history: since is a sequence
// number (the events after it: what a client that reconnects passes, the
// last Seq it saw), an RFC 3339 time or a duration before now; "" is the
// whole history.
func (c *Client) EventsSince(ctx context.Context, since string, follow bool, fn func(pod.Event) error) error {
	q := url.Values{}
	if follow {
		q.Set("follow", "true")
	}
	if since != "" {
		q.Set("since", since)
	}
	return stream(c, ctx, "/v1/events", q, fn)
}

// WatchPods calls fn with every pod's status, then with each change of a
// pod's status (GET /v1/pods?watch=true) until ctx ends (then it returns
// nil), fn returns an error, or the daemon closes the stream.
func (c *Client) WatchPods(ctx context.Context, fn func(PodChange) error) error {
	return stream(c, ctx, "/v1/pods", url.Values{"watch": {"true"}}, fn)
}

func stream[T any](c *Client, ctx context.Context, path string, q url.Values, fn func(T) error) error {
	resp, err := c.send(ctx, "GET", path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("decode daemon stream: %w", err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		if closedConn(err) {
			return &ClosedError{Socket: c.socket, Err: err}
		}
		return err
	}
	return nil
}

// Networks lists the networks: podvisor's bridge networks and the CNI
// networks of the daemon's configuration directory.
func (c *Client) Networks(ctx context.Context) ([]Network, error) {
	var out []Network
	return out, c.do(ctx, "GET", "/v1/networks", nil, nil, &out)
}

// Network returns one network.
func (c *Client) Network(ctx context.Context, name string) (Network, error) {
	var n Network
	return n, c.do(ctx, "GET", "/v1/networks/"+url.PathEscape(name), nil, nil, &n)
}

// CreateNetwork makes a bridge network from n's name, bridge, subnet,
// gateway, subnet6, gateway6 and internal (empty ones are chosen).
func (c *Client) CreateNetwork(ctx context.Context, n Network) (Network, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return Network{}, err
	}
	var out Network
	return out, c.do(ctx, "POST", "/v1/networks", nil, body, &out)
}

// RemoveNetwork removes a network made with CreateNetwork.
func (c *Client) RemoveNetwork(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/v1/networks/"+url.PathEscape(name), nil, nil, nil)
}

// Metrics returns the daemon's Prometheus metrics (GET /metrics), in the
// text exposition format.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	resp, err := c.send(ctx, "GET", "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// Stats returns the figures (CPU time, memory, pids, network bytes) of the
// pods named, or of every pod (GET /v1/stats).
func (c *Client) Stats(ctx context.Context, pods ...string) ([]pod.PodStats, error) {
	q := url.Values{}
	for _, p := range pods {
		q.Add("pod", p)
	}
	var out []pod.PodStats
	return out, c.do(ctx, "GET", "/v1/stats", q, nil, &out)
}

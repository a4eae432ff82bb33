package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/api"
)

// testServer serves the API of a new supervisor on a socket of the test's
// own; the supervisor is closed at the end of the test.
func testServer(t *testing.T) (*supervisor.Supervisor, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces and cgroups")
	}
	dir := t.TempDir()
	sv, err := supervisor.New(supervisor.Options{Root: filepath.Join(dir, "root"), CgroupParent: fmt.Sprintf("podvisor-apitest-%d-%s", os.Getpid(), t.Name()), Logger: zerolog.Nop(), Network: supervisor.NetworkOptions{Default: pod.NetworkNone}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Supervisor: sv, Log: zerolog.Nop()}
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ConnContext: ConnContext}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return sv, sock
}

// post sends a body to POST /v1/pods with a query, and returns the answer's
// status, Warning header values and body.
func post(t *testing.T, sock, query, contentType string, body []byte) (int, []string, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequest("POST", "http://podvisor/v1/pods"+query, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Values("Warning"), string(b)
}

func kubePod(name, extra string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: a, image: busybox, command: [sh, -c, 'echo $WORD'], env: [{name: WORD, value: hi}]}\n%s", name, extra)
}

// POST /v1/pods takes Kubernetes manifests: notices and warnings come as
// Warning headers; a body of several pods needs ?all=true and gets an
// array, created all or none; ConfigMap files come as multipart parts.
func TestCreateKubernetes(t *testing.T) {
	sv, sock := testServer(t)
	cl := api.NewClient(sock)
	ctx := context.Background()
	a, b := fmt.Sprintf("a-%d", os.Getpid()), fmt.Sprintf("b-%d", os.Getpid())
	two := []byte(kubePod(a, "") + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n" + kubePod(b, ""))

	// Several pods without ?all=true: 400 Invalid naming the count and the
	// flag, with the notices all the same; nothing made.
	status, warnings, body := post(t, sock, "", "", two)
	if status != http.StatusBadRequest || !strings.Contains(body, `"code":"Invalid"`) || !strings.Contains(body, "2 pods") || !strings.Contains(body, "?all=true") {
		t.Errorf("without all: %d %s", status, body)
	}
	if !slices.Contains(warnings, `299 - "notice: skipped Service \"web\": podvisor runs pods only"`) {
		t.Errorf("Warning headers: %q", warnings)
	}
	if _, err := cl.Create(ctx, two, false, false); !errors.Is(err, pod.ErrInvalid) {
		t.Errorf("Create of two pods: %v", err)
	}
	if n := len(sv.List()); n != 0 {
		t.Errorf("%d pods made by a refused request", n)
	}

	// With ?all=true: an array of statuses in the file's order.
	status, _, body = post(t, sock, "?all=true", "", two)
	if status != http.StatusCreated || !strings.HasPrefix(body, "[") || strings.Index(body, `"name":"`+a+`"`) > strings.Index(body, `"name":"`+b+`"`) {
		t.Errorf("with all: %d %s", status, body)
	}
	for _, n := range []string{a, b} {
		if err := sv.Remove(ctx, n, supervisor.RemoveOptions{}); err != nil {
			t.Error(err)
		}
	}
	sts, warnings, err := cl.CreateAll(ctx, two, api.CreateOptions{Start: true, Wait: true})
	if err != nil || len(sts) != 2 || sts[0].Name != a || sts[1].Name != b || !api.Started(&sts[0]) || !api.Started(&sts[1]) {
		t.Errorf("CreateAll: %v %+v", err, sts)
	}
	want := []string{
		`notice: pod "` + a + `": images are ignored, podvisor runs host programs: busybox (container a)`,
		`notice: pod "` + b + `": images are ignored, podvisor runs host programs: busybox (container a)`,
		`notice: skipped Service "web": podvisor runs pods only`,
	}
	slices.Sort(warnings)
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", warnings, want)
	}

	// All or none: the second name is taken, the first pod made is removed
	// again, and the error keeps its class.
	c := fmt.Sprintf("c-%d", os.Getpid())
	_, _, err = cl.CreateAll(ctx, []byte(kubePod(c, "")+"---\n"+kubePod(b, "")), api.CreateOptions{Start: true})
	if !errors.Is(err, pod.ErrAlreadyExists) {
		t.Errorf("a clash: %v", err)
	}
	if _, err := sv.Get(c); !errors.Is(err, pod.ErrNotFound) {
		t.Errorf("%s left after a failed create: %v", c, err)
	}

	// One pod: the answer is the status object, as it has always been.
	status, _, body = post(t, sock, "", "", []byte(kubePod(c, "")))
	if status != http.StatusCreated || !strings.HasPrefix(body, `{"name":"`+c+`","namespace":"default"`) {
		t.Errorf("one pod: %d %s", status, body)
	}
	if err := sv.Remove(ctx, c, supervisor.RemoveOptions{}); err != nil {
		t.Error(err)
	}

	// ConfigMap files as multipart parts, and ?ignoreUnsupported=true.
	d := fmt.Sprintf("d-%d", os.Getpid())
	withData := []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
  containers:
  - {name: a, command: [sh, -c, 'echo $WORD'], env: [{name: WORD, valueFrom: {configMapKeyRef: {name: words, key: word}}}], volumeMounts: [{name: data, mountPath: /data}]}
`, d))
	cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: words}\ndata: {word: bonjour}\n")
	if _, _, err := cl.CreateAll(ctx, withData, api.CreateOptions{ConfigMaps: [][]byte{cm}}); !errors.Is(err, pod.ErrInvalid) || !strings.Contains(err.Error(), "spec.volumes[0].persistentVolumeClaim: not supported on a single host") {
		t.Errorf("a refused field: %v", err)
	}
	if _, _, err := cl.CreateAll(ctx, withData, api.CreateOptions{IgnoreUnsupported: true}); !errors.Is(err, pod.ErrInvalid) || !strings.Contains(err.Error(), `configmap "words" not found`) {
		t.Errorf("no ConfigMap: %v", err)
	}
	sts, warnings, err = cl.CreateAll(ctx, withData, api.CreateOptions{Start: true, Wait: true, IgnoreUnsupported: true, ConfigMaps: [][]byte{cm}})
	if err != nil || len(sts) != 1 || sts[0].Name != d {
		t.Fatalf("multipart: %v %+v", err, sts)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], `warning: pod "`+d+`": spec.volumes[0].persistentVolumeClaim: not supported on a single host`) {
		t.Errorf("warnings: %q", warnings)
	}
	p, err := sv.Get(d)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if st, err := p.Wait(wctx); err != nil || st.Phase != pod.PhaseSucceeded {
		t.Errorf("%s: %v %s", d, err, st.Phase)
	}
	if logs, err := p.Logs("a", -1); err != nil || len(logs) != 1 || logs[0].Line != "bonjour" {
		t.Errorf("logs: %v %+v", err, logs)
	}

	// A multipart body with a part of another name, or without the file.
	for _, parts := range [][]string{{"file", "configmap", "extra"}, {"configmap"}} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, name := range parts {
			w, _ := mw.CreateFormField(name)
			w.Write(cm)
		}
		mw.Close()
		status, _, body := post(t, sock, "", mw.FormDataContentType(), buf.Bytes())
		if status != http.StatusBadRequest || !strings.Contains(body, `"code":"Invalid"`) || !strings.Contains(body, "multipart body") {
			t.Errorf("parts %v: %d %s", parts, status, body)
		}
	}
}

package pod_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// exampleYAML is the full example of the pod file format.
const exampleYAML = `apiVersion: podvisor/v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  restartPolicy: Always
  restartBackoff:
    initialDelay: 10s
    maxDelay: 5m
    resetAfter: 10m
  terminationGracePeriodSeconds: 30
  hostname: web
  network: pod
  resources:
    limits: {cpu: 500m, memory: 256Mi, pids: 100}
  initProcesses:
  - name: prep
    command: [sh, -c, "echo prep"]
  processes:
  - name: app
    command: [sh, -c, "echo hi"]
    args: []
    env: [{name: KEY, value: v}]
    workingDir: /srv
    user: "1000:1000"
    restartPolicy: OnFailure
    stopSignal: SIGTERM
    resources: {limits: {cpu: 250m, memory: 64Mi, pids: 20}}
`

// head is the part of a pod file before spec, for tests that vary only the spec.
const head = "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web}\n"

// mustLoad loads a pod file that must be valid.
func mustLoad(t *testing.T, doc string) *pod.Pod {
	t.Helper()
	p, err := pod.Load([]byte(doc))
	if err != nil {
		t.Fatalf("Load: unexpected error:\n%v\ndocument:\n%s", err, doc)
	}
	if p == nil {
		t.Fatalf("Load returned a nil pod and a nil error")
	}
	return p
}

// fieldErrors returns the individual field errors behind err, failing the
// test when err is not made of *pod.FieldError values.
func fieldErrors(t *testing.T, err error) []*pod.FieldError {
	t.Helper()
	var list pod.ErrorList
	if errors.As(err, &list) {
		return list
	}
	var fe *pod.FieldError
	if errors.As(err, &fe) {
		return []*pod.FieldError{fe}
	}
	t.Fatalf("error %v (%T) is neither an ErrorList nor a *FieldError", err, err)
	return nil
}

// lines splits an error message into its lines.
func lines(err error) []string { return strings.Split(err.Error(), "\n") }

package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// manyPods is a file of n Pods of the shape users write: two containers
// with env, resources, probes, a volume and a ConfigMap reference.
func manyPods(n int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {level: info, mode: prod}\n")
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Pod
metadata:
  name: web-%d
  labels: {app: web, index: "%d"}
spec:
  volumes:
  - name: cache
    emptyDir: {}
  - name: config
    configMap: {name: shared}
  containers:
  - name: server
    image: nginx:1.27
    command: ["nginx", "-g", "daemon off;"]
    ports: [{name: http, containerPort: 8080}]
    env:
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: LEVEL, valueFrom: {configMapKeyRef: {name: shared, key: level}}}
    - {name: URL, value: "http://$(POD):8080/"}
    resources:
      limits: {cpu: 500m, memory: 128Mi}
    readinessProbe:
      httpGet: {path: /healthz, port: http}
    volumeMounts:
    - {name: cache, mountPath: /var/cache/nginx}
    - {name: config, mountPath: /etc/app, readOnly: true}
  - name: sidecar
    image: busybox
    command: ["sh", "-c", "tail -F /var/cache/nginx/access.log"]
    volumeMounts:
    - {name: cache, mountPath: /var/cache/nginx}
`, i, i)
	}
	return []byte(b.String())
}

func BenchmarkLoad1000Pods(b *testing.B) {
	data := manyPods(1000)
	o := testOptions()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		r, err := Load(data, o)
		if err != nil || len(r.Pods) != 1000 {
			b.Fatalf("%v", err)
		}
	}
}

// TestLoad1000PodsFast: a file of 1,000 pods loads in under a second
// (generously: the benchmark says how much under).
func TestLoad1000PodsFast(t *testing.T) {
	data := manyPods(1000)
	start := time.Now()
	r, err := Load(data, testOptions())
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Pods) != 1000 {
		t.Fatalf("%d pods", len(r.Pods))
	}
	if elapsed > time.Second {
		t.Errorf("1,000 pods took %s, want under 1s", elapsed)
	}
}

package node_test

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkNode: one podvisor node in a real cluster. It reports a Pod's
// creation (kubectl apply returns) to Running and Ready as the API server
// sees it (median of 10 Pods made one after the other), a Deployment of
// 100 replicas from its creation to all Running, and the node agent's
// resident set and CPU with those 100 pods over 30 s. Run it with
// test/kube/run.sh -run '^$' -bench Node -benchtime 1x.
func BenchmarkNode(b *testing.B) {
	c := newCluster(b)
	n := c.addNode("pvb", "10.92.0.0/24")
	c.nodeReady("pvb")
	var lat []time.Duration
	for i := range 10 {
		name := fmt.Sprintf("one-%d", i)
		t0 := time.Now()
		c.apply(`apiVersion: v1
kind: Pod
metadata: {name: ` + name + `, labels: {app: ` + name + `}}
spec:
` + strings.ReplaceAll(tolerate, "      ", "  ") + `  terminationGracePeriodSeconds: 1
  containers: [{name: a, image: ignored, command: [sleep, "1000"]}]
`)
		for {
			p := c.pods("app=" + name)
			if len(p) == 1 && p[0].Status.Phase == "Running" && p[0].ready() {
				break
			}
			if time.Since(t0) > time.Minute {
				b.Fatalf("%s not running after a minute", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "create-to-running-ms")
	c.kubectl("delete", "pod", "-l", "app", "--wait=true")

	t0 := time.Now()
	c.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec:
  replicas: 100
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
` + tolerate + `      terminationGracePeriodSeconds: 1
      containers: [{name: a, image: ignored, command: [sleep, "1000"]}]
`)
	c.running("app=many", 100, 5*time.Minute)
	b.ReportMetric(time.Since(t0).Seconds(), "100-pods-running-s")
	pid := n.agent.Process.Pid
	ticks0 := cpuTicks(pid)
	time.Sleep(30 * time.Second)
	b.ReportMetric(float64(cpuTicks(pid)-ticks0)/30, "agent-cpu-%")
	b.ReportMetric(float64(rssKB(pid))/1024, "agent-rss-MB")
	b.ReportMetric(float64(rssKB(daemonPid(n)))/1024, "daemon-rss-MB")
	c.kubectl("delete", "deployment", "many", "--wait=true")
}

func daemonPid(n *node) int { return n.daemon.Process.Pid }

func rssKB(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n
		}
	}
	return 0
}

// cpuTicks is utime+stime in clock ticks (100 a second).
func cpuTicks(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/podvisor/podvisor/supervisor/api"
)

// The daemon serves its metrics on the API socket and, with
// --metrics-address, on TCP; both parse as Prometheus' text format.
func TestDaemonMetrics(t *testing.T) {
	c := newCLI(t, true)
	addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(20000))
	d := startDaemon(t, c, "--metrics-address", addr)
	defer func() {
		c.pv(t, "rm", "-f", "mx")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	c.mustPV(t, "run", specFile(t, "mx", "  terminationGracePeriodSeconds: 1\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	viaSocket, err := api.NewClient(c.socket()).Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	viaTCP, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for what, text := range map[string][]byte{"socket": viaSocket, "tcp": viaTCP} {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, text)
		}
		f := fams["podvisor_pod_phase"]
		found := false
		for _, m := range f.GetMetric() {
			var pod, phase string
			for _, l := range m.Label {
				switch l.GetName() {
				case "pod":
					pod = l.GetValue()
				case "phase":
					phase = l.GetValue()
				}
			}
			if pod == "mx" && phase == "Running" && m.Gauge.GetValue() == 1 {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no podvisor_pod_phase{pod=mx,phase=Running} 1", what)
		}
	}
	// Only /metrics on the TCP port.
	if resp, err := cl.Get("http://" + addr + "/v1/pods"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /v1/pods on the metrics port: %s", resp.Status)
		}
	}
}

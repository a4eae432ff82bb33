package supervisor

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics parses a text exposition with Prometheus' own parser.
func parseMetrics(t testing.TB, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return fams
}

// sampleOf returns the value of the family's sample whose labels include
// all of want (name, value pairs), and whether there is one.
func sampleOf(f *dto.MetricFamily, want ...string) (float64, bool) {
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestPromWriter(t *testing.T) {
	var b bytes.Buffer
	w := &promWriter{w: newBufWriter(&b)}
	w.family("t_total", "counter", "A test.")
	w.sample("t_total", 3, "pod", `we"b\`, "process", "a\nb")
	w.sample("t_total", 0.25, "pod", "x")
	w.family("t_hist", "histogram", "A histogram.")
	var h histogram
	h.observe(300 * time.Microsecond)
	h.observe(3 * time.Millisecond)
	h.observe(2 * time.Second)
	var cum uint64
	for i, le := range startBuckets {
		cum += h.counts[i].Load()
		w.sample("t_hist_bucket", float64(cum), "le", formatLE(le))
	}
	cum += h.counts[len(startBuckets)].Load()
	w.sample("t_hist_bucket", float64(cum), "le", "+Inf")
	w.sample("t_hist_sum", float64(h.sumNs.Load())/1e9)
	w.sample("t_hist_count", float64(cum))
	if err := w.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `t_total{pod="we\"b\\",process="a\nb"} 3`) {
		t.Errorf("escaping:\n%s", b.String())
	}
	fams := parseMetrics(t, b.Bytes())
	if v, ok := sampleOf(fams["t_total"], "pod", "x"); !ok || v != 0.25 {
		t.Errorf("t_total{pod=x} = %v, %v", v, ok)
	}
	hist := fams["t_hist"].Metric[0].Histogram
	if hist.GetSampleCount() != 3 || math.Abs(hist.GetSampleSum()-2.0033) > 1e-9 {
		t.Errorf("histogram count %d sum %v", hist.GetSampleCount(), hist.GetSampleSum())
	}
	if got := hist.Bucket[0].GetCumulativeCount(); got != 1 { // le 0.0005
		t.Errorf("first bucket %d, want 1", got)
	}
}

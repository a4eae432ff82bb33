package pod_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

func TestLoadExample(t *testing.T) {
	p := mustLoad(t, exampleYAML)
	if p.APIVersion != pod.APIVersion || p.Kind != pod.Kind {
		t.Errorf("apiVersion/kind = %q/%q", p.APIVersion, p.Kind)
	}
	if p.Metadata.Name != "web" || !reflect.DeepEqual(p.Metadata.Labels, map[string]string{"app": "web"}) {
		t.Errorf("metadata = %+v", p.Metadata)
	}
	s := p.Spec
	if s.RestartPolicy != pod.RestartAlways {
		t.Errorf("restartPolicy = %q", s.RestartPolicy)
	}
	b := s.RestartBackoff
	if b.InitialDelay.Duration != 10*time.Second || b.MaxDelay.Duration != 5*time.Minute || b.ResetAfter.Duration != 10*time.Minute {
		t.Errorf("backoff = %+v", b)
	}
	if g := s.TerminationGracePeriodSeconds; g == nil || *g != 30 {
		t.Errorf("grace = %v", g)
	}
	if s.Hostname != "web" || s.Network != pod.NetworkPod {
		t.Errorf("hostname/network = %q/%q", s.Hostname, s.Network)
	}
	l := s.Resources.Limits
	if l.Empty() || l.CPU.Milli() != 500 || l.CPU.String() != "500m" || l.Memory.Value() != 256<<20 || *l.Pids != 100 {
		t.Errorf("pod limits = cpu %v memory %v pids %v", l.CPU, l.Memory, l.Pids)
	}
	if len(s.InitProcesses) != 1 || len(s.Processes) != 1 {
		t.Fatalf("processes: %d init, %d app", len(s.InitProcesses), len(s.Processes))
	}
	ip := s.InitProcesses[0]
	if ip.Name != "prep" || !slices.Equal(ip.Argv(), []string{"sh", "-c", "echo prep"}) {
		t.Errorf("init process = %+v", ip)
	}
	if ip.WorkingDir != "/" || ip.StopSignal != "SIGTERM" || ip.RestartPolicy != "" || !ip.Resources.Limits.Empty() {
		t.Errorf("init process defaults = %+v", ip)
	}
	ap := s.Processes[0]
	want := pod.Process{
		Name:          "app",
		Command:       []string{"sh", "-c", "echo hi"},
		Args:          []string{},
		Env:           []pod.EnvVar{{Name: "KEY", Value: "v"}},
		WorkingDir:    "/srv",
		User:          "1000:1000",
		RestartPolicy: pod.RestartOnFailure,
		StopSignal:    "SIGTERM",
		Resources: pod.Resources{Limits: pod.Limits{
			CPU:    pod.MustParseQuantity("250m"),
			Memory: pod.MustParseQuantity("64Mi"),
			Pids:   ptr(int64(20)),
		}},
	}
	if !reflect.DeepEqual(ap, want) {
		t.Errorf("app process =\n%+v\nwant\n%+v", ap, want)
	}
	if got := s.PolicyFor(&ap); got != pod.RestartOnFailure {
		t.Errorf("PolicyFor(app) = %q", got)
	}
	if got := s.PolicyFor(&ip); got != pod.RestartAlways {
		t.Errorf("PolicyFor(prep) = %q", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadDefaults(t *testing.T) {
	p := mustLoad(t, "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  initProcesses: [{name: i, command: [x]}]\n  processes: [{name: a, command: [x]}, {name: b, command: [y]}]\n")
	s := p.Spec
	if s.RestartPolicy != pod.RestartAlways {
		t.Errorf("restartPolicy = %q, want Always", s.RestartPolicy)
	}
	if s.RestartBackoff.InitialDelay.Duration != 10*time.Second ||
		s.RestartBackoff.MaxDelay.Duration != 5*time.Minute ||
		s.RestartBackoff.ResetAfter.Duration != 10*time.Minute {
		t.Errorf("backoff = %+v, want 10s/5m/10m", s.RestartBackoff)
	}
	if g := s.TerminationGracePeriodSeconds; g == nil || *g != 30 {
		t.Errorf("grace = %v, want 30", g)
	}
	if s.Hostname != "db" {
		t.Errorf("hostname = %q, want the pod name", s.Hostname)
	}
	if s.Network != pod.NetworkDefault {
		t.Errorf("network = %q, want the supervisor's default (empty)", s.Network)
	}
	if !s.Resources.Limits.Empty() {
		t.Errorf("limits = %+v, want none", s.Resources.Limits)
	}
	for _, pr := range append(slices.Clone(s.InitProcesses), s.Processes...) {
		if pr.WorkingDir != "/" || pr.StopSignal != "SIGTERM" {
			t.Errorf("process %s: workingDir %q stopSignal %q", pr.Name, pr.WorkingDir, pr.StopSignal)
		}
		if pr.RestartPolicy != "" || pr.User != "" {
			t.Errorf("process %s: restartPolicy %q user %q set by defaults", pr.Name, pr.RestartPolicy, pr.User)
		}
		if got := s.PolicyFor(&pr); got != pod.RestartAlways {
			t.Errorf("PolicyFor(%s) = %q", pr.Name, got)
		}
	}
}

func TestSetDefaults(t *testing.T) {
	// Zero durations take the defaults.
	p := mustLoad(t, withSpec("  restartBackoff: {initialDelay: 0s, maxDelay: 0s, resetAfter: 0s}\n  processes: [{name: a, command: [x]}]\n"))
	if b := p.Spec.RestartBackoff; b.InitialDelay.Duration != pod.DefaultInitialDelay ||
		b.MaxDelay.Duration != pod.DefaultMaxDelay || b.ResetAfter.Duration != pod.DefaultResetAfter {
		t.Errorf("backoff = %+v", b)
	}

	// Set values are kept.
	p, err := pod.Decode([]byte(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Never
  restartBackoff: {initialDelay: 1s, maxDelay: 2s, resetAfter: 3s}
  terminationGracePeriodSeconds: 5
  hostname: box
  network: host
  privateTmp: false
  processes: [{name: a, command: [x], workingDir: /tmp, stopSignal: SIGINT}]
`))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(p)
	p.SetDefaults()
	after, _ := json.Marshal(p)
	if !bytes.Equal(before, after) {
		t.Errorf("SetDefaults changed set fields:\n%s\n%s", before, after)
	}

	// Decode leaves defaults alone; SetDefaults is idempotent.
	p, err = pod.Decode([]byte(withSpec("  processes: [{name: a, command: [x]}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.RestartPolicy != "" || p.Spec.Hostname != "" || p.Spec.TerminationGracePeriodSeconds != nil ||
		p.Spec.Network != "" || p.Spec.Processes[0].WorkingDir != "" || p.Spec.Processes[0].StopSignal != "" ||
		p.Spec.RestartBackoff.InitialDelay.Duration != 0 {
		t.Errorf("Decode applied defaults: %+v", p.Spec)
	}
	p.SetDefaults()
	once, _ := json.Marshal(p)
	p.SetDefaults()
	twice, _ := json.Marshal(p)
	if !bytes.Equal(once, twice) {
		t.Errorf("SetDefaults is not idempotent:\n%s\n%s", once, twice)
	}
}

const exampleJSON = `{
  "apiVersion": "podvisor/v1",
  "kind": "Pod",
  "metadata": {"name": "web", "labels": {"app": "web"}},
  "spec": {
    "restartPolicy": "OnFailure",
    "restartBackoff": {"initialDelay": "1s", "maxDelay": "1m", "resetAfter": "2m"},
    "terminationGracePeriodSeconds": 5,
    "network": "host",
    "resources": {"limits": {"cpu": "1.5", "memory": "1Gi", "pids": 50}},
    "processes": [
      {"name": "app", "command": ["/bin/app"], "args": ["--port", "80"],
       "env": [{"name": "A", "value": "1"}], "user": "nobody",
       "resources": {"limits": {"cpu": "100m"}}}
    ]
  }
}`

func TestLoadJSON(t *testing.T) {
	p := mustLoad(t, exampleJSON)
	s := p.Spec
	if s.RestartPolicy != pod.RestartOnFailure || s.Network != pod.NetworkHost || s.Hostname != "web" {
		t.Errorf("spec = %+v", s)
	}
	if s.RestartBackoff.InitialDelay.Duration != time.Second || s.RestartBackoff.MaxDelay.Duration != time.Minute ||
		s.RestartBackoff.ResetAfter.Duration != 2*time.Minute {
		t.Errorf("backoff = %+v", s.RestartBackoff)
	}
	if *s.TerminationGracePeriodSeconds != 5 {
		t.Errorf("grace = %d", *s.TerminationGracePeriodSeconds)
	}
	if l := s.Resources.Limits; l.CPU.Milli() != 1500 || l.Memory.Value() != 1<<30 || *l.Pids != 50 {
		t.Errorf("limits = %v %v %v", l.CPU, l.Memory, *l.Pids)
	}
	ap := s.Processes[0]
	if !slices.Equal(ap.Argv(), []string{"/bin/app", "--port", "80"}) || ap.User != "nobody" || ap.WorkingDir != "/" {
		t.Errorf("process = %+v", ap)
	}
	if l := ap.Resources.Limits; l.CPU.Milli() != 100 || l.Memory != nil || l.Pids != nil {
		t.Errorf("process limits = %+v", l)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for name, doc := range map[string]string{"yaml": exampleYAML, "json": exampleJSON} {
		t.Run(name, func(t *testing.T) {
			p1 := mustLoad(t, doc)
			j1, err := json.Marshal(p1)
			if err != nil {
				t.Fatal(err)
			}
			p2 := mustLoad(t, string(j1))
			j2, err := json.Marshal(p2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(j1, j2) {
				t.Errorf("JSON changed on a round trip:\n%s\n%s", j1, j2)
			}
			p3 := mustLoad(t, string(j2))
			if !reflect.DeepEqual(p2, p3) {
				t.Errorf("pods differ after a round trip:\n%+v\n%+v", p2, p3)
			}
		})
	}

	// Without empty lists (which omitempty drops) the loaded pods are equal.
	p1 := mustLoad(t, exampleJSON)
	j, err := json.Marshal(p1)
	if err != nil {
		t.Fatal(err)
	}
	if p2 := mustLoad(t, string(j)); !reflect.DeepEqual(p1, p2) {
		t.Errorf("pods differ after a round trip:\n%+v\n%+v", p1, p2)
	}
}

func TestJSONEncoding(t *testing.T) {
	p := mustLoad(t, exampleYAML)
	j, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	spec := m["spec"].(map[string]any)
	if got := spec["restartBackoff"]; !reflect.DeepEqual(got, map[string]any{"initialDelay": "10s", "maxDelay": "5m0s", "resetAfter": "10m0s"}) {
		t.Errorf("restartBackoff = %v", got)
	}
	if got := spec["resources"]; !reflect.DeepEqual(got, map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "256Mi", "pids": float64(100)}}) {
		t.Errorf("resources = %v", got)
	}
	if got := spec["terminationGracePeriodSeconds"]; got != float64(30) {
		t.Errorf("grace = %v", got)
	}
}

func TestDecodeNoDefaultsNoValidation(t *testing.T) {
	// Decode accepts a structurally sound file that Validate rejects.
	p, err := pod.Decode([]byte("apiVersion: v9\nkind: Pod\nmetadata: {name: BAD}\nspec: {processes: []}\n"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if p.APIVersion != "v9" || p.Metadata.Name != "BAD" || len(p.Spec.Processes) != 0 {
		t.Errorf("pod = %+v", p)
	}
}

func TestDuration(t *testing.T) {
	var d pod.Duration
	if err := d.UnmarshalText([]byte("1h2m3s")); err != nil || d.Duration != time.Hour+2*time.Minute+3*time.Second {
		t.Errorf("UnmarshalText = %v, %v", d, err)
	}
	if b, err := d.MarshalText(); err != nil || string(b) != "1h2m3s" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	for _, bad := range []string{"", "10", "ten", "1x", "s"} {
		var d pod.Duration
		err := d.UnmarshalText([]byte(bad))
		if err == nil || err.Error() != `invalid duration "`+bad+`"` {
			t.Errorf("UnmarshalText(%q) = %v", bad, err)
		}
	}
}

func TestArgvAndLimits(t *testing.T) {
	p := pod.Process{Command: []string{"a", "b"}, Args: []string{"c"}}
	argv := p.Argv()
	if !slices.Equal(argv, []string{"a", "b", "c"}) {
		t.Errorf("Argv = %q", argv)
	}
	argv[0] = "z"
	if p.Command[0] != "a" {
		t.Errorf("Argv shares memory with Command")
	}
	if got := (&pod.Process{}).Argv(); len(got) != 0 {
		t.Errorf("empty Argv = %q", got)
	}
	if !(pod.Limits{}).Empty() {
		t.Errorf("zero Limits not Empty")
	}
	for _, l := range []pod.Limits{
		{CPU: pod.MustParseQuantity("1")},
		{Memory: pod.MustParseQuantity("1Mi")},
		{Pids: ptr(int64(1))},
	} {
		if l.Empty() {
			t.Errorf("Limits %+v Empty", l)
		}
	}
}

func TestDecodeInt32(t *testing.T) {
	const doc = "  processes: [{name: a, command: [x], ports: [{containerPort: %s}]}]\n"
	for _, tc := range []struct {
		value string
		want  int32
		err   string
	}{
		{value: "8080", want: 8080},
		{value: "0x1F90", want: 8080},
		{value: "-2147483648", want: -2147483648},
		{value: "2147483647", want: 2147483647},
		{value: "2147483648", err: `must be an integer between -2147483648 and 2147483647, got "2147483648"`},
		{value: "-2147483649", err: `must be an integer between -2147483648 and 2147483647, got "-2147483649"`},
		{value: "99999999999999999999", err: `must be an integer between -2147483648 and 2147483647, got "99999999999999999999"`},
		{value: `"80"`, err: `must be an integer, got "80"`},
		{value: "80.0", err: `must be an integer, got "80.0"`},
		{value: "[80]", err: `must be an integer, got ""`},
	} {
		p, err := pod.Decode([]byte(withSpec(fmt.Sprintf(doc, tc.value))))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.value, err)
			} else if got := p.Spec.Processes[0].Ports[0].ContainerPort; got != tc.want {
				t.Errorf("%s: got %d, want %d", tc.value, got, tc.want)
			}
			continue
		}
		want := "spec.processes[0].ports[0].containerPort: " + tc.err
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", tc.value, err, want)
		}
	}
}

func TestDecodeIntOrString(t *testing.T) {
	const doc = "  processes: [{name: a, command: [x], livenessProbe: {tcpSocket: {port: %s}}}]\n"
	for _, tc := range []struct {
		value string
		want  pod.IntOrString
		err   string
	}{
		{value: "8080", want: pod.IntOrString{IntVal: 8080}},
		{value: "0x1F90", want: pod.IntOrString{IntVal: 8080}},
		{value: `"8080"`, want: pod.IntOrString{IntVal: 8080}},
		{value: "http", want: pod.IntOrString{StrVal: "http", IsString: true}},
		{value: `"web-1"`, want: pod.IntOrString{StrVal: "web-1", IsString: true}},
		{value: "-1", want: pod.IntOrString{IntVal: -1}},
		{value: "~", want: pod.IntOrString{}},
		{value: "4294967296", err: `must be an integer between -2147483648 and 2147483647, got "4294967296"`},
		{value: "{a: 1}", err: "must be a scalar value"},
	} {
		p, err := pod.Decode([]byte(withSpec(fmt.Sprintf(doc, tc.value))))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.value, err)
			} else if got := p.Spec.Processes[0].LivenessProbe.TCPSocket.Port; got != tc.want {
				t.Errorf("%s: got %+v, want %+v", tc.value, got, tc.want)
			}
			continue
		}
		want := "spec.processes[0].livenessProbe.tcpSocket.port: " + tc.err
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", tc.value, err, want)
		}
	}

	// JSON writes a number as a number and a name as a string, and Decode
	// reads them back the same.
	for _, v := range []pod.IntOrString{{IntVal: 8080}, {StrVal: "http", IsString: true}, {IntVal: -5}} {
		p := pod.Pod{APIVersion: pod.APIVersion, Kind: pod.Kind, Metadata: pod.Metadata{Name: "web"},
			Spec: pod.Spec{Processes: []pod.Process{{
				Name: "a", Command: []string{"x"},
				Ports:          []pod.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: "TCP"}},
				LivenessProbe:  &pod.Probe{HTTPGet: &pod.HTTPGetAction{Port: v, Path: "/"}, PeriodSeconds: 3},
				ReadinessProbe: &pod.Probe{TCPSocket: &pod.TCPSocketAction{Port: v}},
				StartupProbe:   &pod.Probe{GRPC: &pod.GRPCAction{Port: 9000, Service: ptr("")}},
				Lifecycle: &pod.Lifecycle{
					PostStart:  &pod.LifecycleHandler{Sleep: &pod.SleepAction{Seconds: 1}},
					PreStop:    &pod.LifecycleHandler{TCPSocket: &pod.TCPSocketAction{Port: v}},
					StopSignal: "SIGINT",
				},
				DependsOn:          []pod.Dependency{{Name: "b", Condition: pod.ConditionReady}},
				RestartPolicyRules: []pod.RestartRule{{Action: pod.RuleRestart, ExitCodes: &pod.ExitCodesRequirement{Operator: pod.OperatorIn, Values: []int32{1, 255}}}},
			}}},
		}
		j, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		want := `"port":` + v.String()
		if v.IsString {
			want = `"port":"` + v.StrVal + `"`
		}
		if !bytes.Contains(j, []byte(want)) {
			t.Errorf("%+v: JSON %s lacks %s", v, j, want)
		}
		got, err := pod.Decode(j)
		if err != nil {
			t.Fatalf("Decode of %s: %v", j, err)
		}
		if !reflect.DeepEqual(got, &p) {
			t.Errorf("JSON round trip of %+v:\n%+v\nwant\n%+v", v, got, &p)
		}
	}
}

package pod_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// fullFeaturesYAML sets every field of ports, probes, hooks, sidecars,
// dependsOn and restartPolicyRules.
const fullFeaturesYAML = `apiVersion: podvisor/v1
kind: Pod
metadata: {name: shop}
spec:
  terminationGracePeriodSeconds: 30
  initProcesses:
  - name: migrate
    command: [/bin/migrate]
    lifecycle:
      postStart: {exec: {command: [/bin/true]}}
  - name: log-shipper
    command: [/bin/shipper]
    restartPolicy: Always
    ports: [{name: metrics, containerPort: 9100}]
    startupProbe:
      tcpSocket: {port: metrics, host: 127.0.0.1}
      failureThreshold: 30
      periodSeconds: 1
    livenessProbe:
      exec: {command: [/bin/shipper, --check]}
      terminationGracePeriodSeconds: 5
    readinessProbe:
      grpc: {port: 9101, service: shipper}
    lifecycle:
      preStop: {sleep: {seconds: 2}}
  processes:
  - name: db
    command: [/bin/db]
    ports:
    - {name: sql, containerPort: 5432, protocol: TCP}
    - {containerPort: 5433, protocol: UDP}
    - {name: repl, containerPort: 5434, protocol: SCTP}
    readinessProbe:
      tcpSocket: {port: sql}
      initialDelaySeconds: 2
      periodSeconds: 5
      timeoutSeconds: 2
      successThreshold: 2
      failureThreshold: 4
    restartPolicyRules:
    - action: Restart
      exitCodes: {operator: In, values: [42, 43]}
    - action: RestartAllContainers
      exitCodes: {operator: NotIn, values: [0]}
  - name: web
    command: [/bin/web]
    stopSignal: SIGINT
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet:
        path: /healthz?full=1
        port: http
        host: localhost
        scheme: HTTPS
        httpHeaders: [{name: X-Probe, value: "live\tly"}]
      initialDelaySeconds: 10
      periodSeconds: 20
      timeoutSeconds: 3
      successThreshold: 1
      failureThreshold: 5
      terminationGracePeriodSeconds: 10
    readinessProbe:
      httpGet: {port: 8080}
    startupProbe:
      httpGet: {port: sql}
    lifecycle:
      postStart:
        httpGet: {path: /warm, port: http}
      preStop:
        exec: {command: [/bin/web, --drain]}
      stopSignal: INT
    dependsOn:
    - {name: db, condition: Ready}
    - {name: warm}
  - name: warm
    command: [/bin/warm]
    restartPolicy: OnFailure
    lifecycle:
      preStop: {tcpSocket: {port: 8080}}
    dependsOn: [{name: db, condition: Started}]
  - name: report
    command: [/bin/report]
    dependsOn: [{name: warm, condition: Succeeded}]
`

func TestFeaturesValid(t *testing.T) {
	p := mustLoad(t, fullFeaturesYAML)
	s := p.Spec
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate after Load: %v", err)
	}
	if !s.InitProcesses[1].IsSidecar() || s.InitProcesses[0].IsSidecar() {
		t.Errorf("sidecars: migrate %v, log-shipper %v", s.InitProcesses[0].IsSidecar(), s.InitProcesses[1].IsSidecar())
	}
	web := s.Processes[1]
	want := &pod.Probe{
		HTTPGet: &pod.HTTPGetAction{
			Path: "/healthz?full=1", Port: pod.IntOrString{StrVal: "http", IsString: true},
			Host: "localhost", Scheme: "HTTPS", HTTPHeaders: []pod.HTTPHeader{{Name: "X-Probe", Value: "live\tly"}},
		},
		InitialDelaySeconds: 10, PeriodSeconds: 20, TimeoutSeconds: 3, SuccessThreshold: 1, FailureThreshold: 5,
		TerminationGracePeriodSeconds: ptr(int64(10)),
	}
	if !reflect.DeepEqual(web.LivenessProbe, want) {
		t.Errorf("liveness probe =\n%+v\nwant\n%+v", web.LivenessProbe, want)
	}
	if got := web.ReadinessProbe.HTTPGet.Port; got.IsString || got.IntVal != 8080 {
		t.Errorf("readiness port = %+v", got)
	}
	if web.StopSignal != "SIGINT" || web.Lifecycle.StopSignal != "INT" {
		t.Errorf("stop signals = %q, %q", web.StopSignal, web.Lifecycle.StopSignal)
	}
	if got := s.Processes[0].RestartPolicyRules[1]; got.Action != pod.RuleRestartAllContainers ||
		got.ExitCodes.Operator != pod.OperatorNotIn || !reflect.DeepEqual(got.ExitCodes.Values, []int32{0}) {
		t.Errorf("rule = %+v", got)
	}
	if got := s.Processes[0].Ports[1].Protocol; got != pod.ProtocolUDP {
		t.Errorf("protocol = %q", got)
	}
	if got := web.DependsOn; !reflect.DeepEqual(got, []pod.Dependency{{Name: "db", Condition: "Ready"}, {Name: "warm", Condition: "Started"}}) {
		t.Errorf("dependsOn = %+v", got)
	}
}

func TestFeatureDefaults(t *testing.T) {
	p := mustLoad(t, withSpec(`  processes:
  - name: a
    command: [x]
    ports: [{name: http, containerPort: 80}]
    livenessProbe: {httpGet: {port: http}}
    readinessProbe: {tcpSocket: {port: 80}}
    startupProbe: {exec: {command: [x]}}
    lifecycle:
      postStart: {httpGet: {port: 80}}
      preStop: {httpGet: {port: 80, path: /stop, scheme: HTTPS}}
      stopSignal: SIGQUIT
    dependsOn: [{name: b}]
  - name: b
    command: [x]
    lifecycle: {stopSignal: SIGUSR1}
    stopSignal: USR1
`))
	a := p.Spec.Processes[0]
	for kind, pr := range map[string]*pod.Probe{"liveness": a.LivenessProbe, "readiness": a.ReadinessProbe, "startup": a.StartupProbe} {
		if pr.InitialDelaySeconds != 0 || pr.PeriodSeconds != 10 || pr.TimeoutSeconds != 1 ||
			pr.SuccessThreshold != 1 || pr.FailureThreshold != 3 || pr.TerminationGracePeriodSeconds != nil {
			t.Errorf("%s probe timing = %+v", kind, pr)
		}
	}
	if h := a.LivenessProbe.HTTPGet; h.Path != "/" || h.Scheme != "HTTP" || h.Host != "" {
		t.Errorf("httpGet = %+v", h)
	}
	if h := a.Lifecycle.PostStart.HTTPGet; h.Path != "/" || h.Scheme != "HTTP" {
		t.Errorf("postStart httpGet = %+v", h)
	}
	if h := a.Lifecycle.PreStop.HTTPGet; h.Path != "/stop" || h.Scheme != "HTTPS" {
		t.Errorf("preStop httpGet = %+v", h)
	}
	if a.Ports[0].Protocol != "TCP" {
		t.Errorf("protocol = %q", a.Ports[0].Protocol)
	}
	if a.DependsOn[0].Condition != pod.ConditionStarted {
		t.Errorf("condition = %q", a.DependsOn[0].Condition)
	}
	// lifecycle.stopSignal is taken before stopSignal's default.
	if a.StopSignal != "SIGQUIT" {
		t.Errorf("stopSignal = %q, want lifecycle.stopSignal's SIGQUIT", a.StopSignal)
	}
	if b := p.Spec.Processes[1]; b.StopSignal != "USR1" {
		t.Errorf("stopSignal = %q, want its own USR1", b.StopSignal)
	}

	// Set values are kept, and SetDefaults is idempotent.
	d, err := pod.Decode([]byte(fullFeaturesYAML))
	if err != nil {
		t.Fatal(err)
	}
	d.SetDefaults()
	once, _ := json.Marshal(d)
	d.SetDefaults()
	twice, _ := json.Marshal(d)
	if !bytes.Equal(once, twice) {
		t.Errorf("SetDefaults is not idempotent:\n%s\n%s", once, twice)
	}
	if got := d.Spec.Processes[0].ReadinessProbe; got.PeriodSeconds != 5 || got.TimeoutSeconds != 2 ||
		got.SuccessThreshold != 2 || got.FailureThreshold != 4 || got.InitialDelaySeconds != 2 {
		t.Errorf("SetDefaults changed set values: %+v", got)
	}
	d, err = pod.Decode([]byte(withSpec("  processes: [{name: a, command: [x], lifecycle: {stopSignal: HUP}, livenessProbe: {exec: {command: [x]}}}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	if pr := d.Spec.Processes[0]; pr.StopSignal != "" || pr.LivenessProbe.PeriodSeconds != 0 {
		t.Errorf("Decode applied defaults: %+v", pr)
	}
	d.SetDefaults()
	once, _ = json.Marshal(d)
	d.SetDefaults()
	twice, _ = json.Marshal(d)
	if !bytes.Equal(once, twice) || d.Spec.Processes[0].StopSignal != "HUP" {
		t.Errorf("SetDefaults is not idempotent:\n%s\n%s", once, twice)
	}
}

func TestResolvePort(t *testing.T) {
	p := mustLoad(t, withSpec(`  initProcesses:
  - {name: side, command: [x], restartPolicy: Always, ports: [{name: shared, containerPort: 1000}, {name: side, containerPort: 1001}]}
  processes:
  - {name: a, command: [x], ports: [{name: shared, containerPort: 2000}, {name: own, containerPort: 2001}]}
  - {name: b, command: [x], ports: [{name: own, containerPort: 3001}, {name: bonly, containerPort: 3002}]}
`))
	s := &p.Spec
	a, b := &s.Processes[0], &s.Processes[1]
	name := func(n string) pod.IntOrString { return pod.IntOrString{StrVal: n, IsString: true} }
	for _, tc := range []struct {
		p    *pod.Process
		v    pod.IntOrString
		want int
		ok   bool
	}{
		{a, name("shared"), 2000, true}, // its own first
		{b, name("shared"), 1000, true}, // then init processes before app processes
		{a, name("own"), 2001, true},
		{b, name("own"), 3001, true},
		{a, name("bonly"), 3002, true},
		{nil, name("own"), 2001, true},
		{a, name("side"), 1001, true},
		{a, name("nope"), 0, false},
		{a, pod.IntOrString{IntVal: 8080}, 8080, true},
		{a, pod.IntOrString{IntVal: 0}, 0, false},
		{a, pod.IntOrString{IntVal: 70000}, 70000, false},
	} {
		got, ok := s.ResolvePort(tc.p, tc.v)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ResolvePort(%v, %v) = %d, %v; want %d, %v", tc.p != nil, tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

// probe is a pod file whose app process "app" (with a port named http) has
// a livenessProbe of the given YAML flow mapping.
func probe(kind, body string) string {
	return withSpec("  processes:\n  - name: app\n    command: [sh]\n    ports: [{name: http, containerPort: 80}]\n    " + kind + ": " + body + "\n")
}

func TestFeaturesInvalid(t *testing.T) {
	const p0 = "spec.processes[0]"
	tests := []struct {
		name   string
		doc    string
		field  string
		detail string
	}{
		// Decoding.
		{"int32 too large", probe("livenessProbe", "{exec: {command: [x]}, periodSeconds: 2147483648}"),
			p0 + ".livenessProbe.periodSeconds", "must be an integer between -2147483648 and 2147483647, got \"2147483648\""},
		{"int32 not an integer", probe("livenessProbe", "{exec: {command: [x]}, periodSeconds: 1.5}"),
			p0 + ".livenessProbe.periodSeconds", `must be an integer, got "1.5"`},
		{"int32 quoted", probe("livenessProbe", `{exec: {command: [x]}, periodSeconds: "10"}`),
			p0 + ".livenessProbe.periodSeconds", `must be an integer, got "10"`},
		{"port too large for int32", probe("livenessProbe", "{tcpSocket: {port: 99999999999}}"),
			p0 + ".livenessProbe.tcpSocket.port", "must be an integer between -2147483648 and 2147483647"},
		{"port a list", probe("livenessProbe", "{tcpSocket: {port: [80]}}"),
			p0 + ".livenessProbe.tcpSocket.port", "must be a scalar value"},
		{"unknown probe field", probe("livenessProbe", "{exec: {command: [x]}, period: 1}"),
			p0 + ".livenessProbe.period", `unknown field "period"`},

		// Handlers.
		{"probe without handler", probe("livenessProbe", "{periodSeconds: 5}"),
			p0 + ".livenessProbe", "required: one of exec, httpGet, tcpSocket, grpc"},
		{"probe with two handlers", probe("readinessProbe", "{exec: {command: [x]}, httpGet: {port: 80}}"),
			p0 + ".readinessProbe", "must have exactly one handler, got exec and httpGet"},
		{"probe with three handlers", probe("startupProbe", "{exec: {command: [x]}, tcpSocket: {port: 80}, grpc: {port: 80}}"),
			p0 + ".startupProbe", "must have exactly one handler, got exec, tcpSocket and grpc"},
		{"hook without handler", oneProcess("    lifecycle: {postStart: {}}\n"),
			p0 + ".lifecycle.postStart", "required: one of exec, httpGet, tcpSocket, sleep"},
		{"hook with two handlers", oneProcess("    lifecycle: {preStop: {sleep: {seconds: 1}, exec: {command: [x]}}}\n"),
			p0 + ".lifecycle.preStop", "must have exactly one handler, got exec and sleep"},

		// Timing.
		{"negative initial delay", probe("livenessProbe", "{exec: {command: [x]}, initialDelaySeconds: -1}"),
			p0 + ".livenessProbe.initialDelaySeconds", "must be an integer >= 0, got -1"},
		{"initial delay too long", probe("livenessProbe", "{exec: {command: [x]}, initialDelaySeconds: 31536001}"),
			p0 + ".livenessProbe.initialDelaySeconds", "must be at most 31536000 (365 days), got 31536001"},
		{"negative period", probe("readinessProbe", "{exec: {command: [x]}, periodSeconds: -5}"),
			p0 + ".readinessProbe.periodSeconds", "must be at least 1, got -5"},
		{"period too long", probe("readinessProbe", "{exec: {command: [x]}, periodSeconds: 2147483647}"),
			p0 + ".readinessProbe.periodSeconds", "must be at most 31536000"},
		{"negative timeout", probe("readinessProbe", "{exec: {command: [x]}, timeoutSeconds: -1}"),
			p0 + ".readinessProbe.timeoutSeconds", "must be at least 1, got -1"},
		{"timeout too long", probe("readinessProbe", "{exec: {command: [x]}, timeoutSeconds: 40000000}"),
			p0 + ".readinessProbe.timeoutSeconds", "must be at most 31536000"},
		{"negative success threshold", probe("readinessProbe", "{exec: {command: [x]}, successThreshold: -1}"),
			p0 + ".readinessProbe.successThreshold", "must be at least 1, got -1"},
		{"negative failure threshold", probe("readinessProbe", "{exec: {command: [x]}, failureThreshold: -2}"),
			p0 + ".readinessProbe.failureThreshold", "must be at least 1, got -2"},
		{"liveness success threshold", probe("livenessProbe", "{exec: {command: [x]}, successThreshold: 2}"),
			p0 + ".livenessProbe.successThreshold", "must be 1 for a livenessProbe, got 2"},
		{"startup success threshold", probe("startupProbe", "{exec: {command: [x]}, successThreshold: 3}"),
			p0 + ".startupProbe.successThreshold", "must be 1 for a startupProbe, got 3"},
		{"probe grace zero", probe("livenessProbe", "{exec: {command: [x]}, terminationGracePeriodSeconds: 0}"),
			p0 + ".livenessProbe.terminationGracePeriodSeconds", "must be at least 1, got 0"},
		{"probe grace too long", probe("startupProbe", "{exec: {command: [x]}, terminationGracePeriodSeconds: 9223372037}"),
			p0 + ".startupProbe.terminationGracePeriodSeconds", "must be at most 9223372036 (about 292 years), got 9223372037"},
		{"probe grace on readiness", probe("readinessProbe", "{exec: {command: [x]}, terminationGracePeriodSeconds: 5}"),
			p0 + ".readinessProbe.terminationGracePeriodSeconds", "not allowed on a readinessProbe"},
		{"negative sleep", oneProcess("    lifecycle: {preStop: {sleep: {seconds: -1}}}\n"),
			p0 + ".lifecycle.preStop.sleep.seconds", "must be an integer >= 0, got -1"},
		{"sleep too long", oneProcess("    lifecycle: {preStop: {sleep: {seconds: 9223372037}}}\n"),
			p0 + ".lifecycle.preStop.sleep.seconds", "must be at most 9223372036"},

		// exec.
		{"exec without command", probe("livenessProbe", "{exec: {}}"),
			p0 + ".livenessProbe.exec.command", "required: at least the program"},
		{"exec with empty command", probe("livenessProbe", "{exec: {command: []}}"),
			p0 + ".livenessProbe.exec.command", "required: at least the program"},
		{"exec with empty program", oneProcess("    lifecycle: {postStart: {exec: {command: ['', x]}}}\n"),
			p0 + ".lifecycle.postStart.exec.command[0]", "must not be empty"},
		{"exec with NUL", probe("startupProbe", `{exec: {command: [x, "a\0b"]}}`),
			p0 + ".startupProbe.exec.command[1]", "must not contain a NUL byte"},

		// Ports.
		{"container port zero", oneProcess("    ports: [{name: http}]\n"),
			p0 + ".ports[0].containerPort", "required: a port number between 1 and 65535"},
		{"container port too large", oneProcess("    ports: [{containerPort: 65536}]\n"),
			p0 + ".ports[0].containerPort", "must be between 1 and 65535, got 65536"},
		{"container port negative", oneProcess("    ports: [{containerPort: -1}]\n"),
			p0 + ".ports[0].containerPort", "must be between 1 and 65535, got -1"},
		{"port name uppercase", oneProcess("    ports: [{name: HTTP, containerPort: 80}]\n"),
			p0 + ".ports[0].name", `invalid port name "HTTP": must contain only lowercase letters, digits and '-'`},
		{"port name too long", oneProcess("    ports: [{name: abcdefghijklmnop, containerPort: 80}]\n"),
			p0 + ".ports[0].name", "must be at most 15 characters"},
		{"port name digits only", oneProcess("    ports: [{name: '80', containerPort: 80}]\n"),
			p0 + ".ports[0].name", "must contain at least one letter"},
		{"port name hyphen end", oneProcess("    ports: [{name: web-, containerPort: 80}]\n"),
			p0 + ".ports[0].name", "must not start or end with '-'"},
		{"port name double hyphen", oneProcess("    ports: [{name: a--b, containerPort: 80}]\n"),
			p0 + ".ports[0].name", `must not contain "--"`},
		{"duplicate port name", oneProcess("    ports: [{name: http, containerPort: 80}, {name: http, containerPort: 81}]\n"),
			"spec.processes[0].ports[1].name", `duplicate port name "http"`},
		{"bad protocol", oneProcess("    ports: [{containerPort: 80, protocol: tcp}]\n"),
			p0 + ".ports[0].protocol", `unsupported value "tcp": must be TCP, UDP or SCTP`},
		{"httpGet port missing", probe("livenessProbe", "{httpGet: {path: /}}"),
			p0 + ".livenessProbe.httpGet.port", "required: a port number between 1 and 65535 or a port name"},
		{"httpGet port too large", probe("livenessProbe", "{httpGet: {port: 65536}}"),
			p0 + ".livenessProbe.httpGet.port", "must be between 1 and 65535, got 65536"},
		{"httpGet port quoted too large", probe("livenessProbe", `{httpGet: {port: "99999999999"}}`),
			p0 + ".livenessProbe.httpGet.port", `must be between 1 and 65535, got "99999999999"`},
		{"tcpSocket port negative", probe("readinessProbe", "{tcpSocket: {port: -80}}"),
			p0 + ".readinessProbe.tcpSocket.port", "must be between 1 and 65535, got -80"},
		{"grpc port missing", probe("readinessProbe", "{grpc: {}}"),
			p0 + ".readinessProbe.grpc.port", "required: a port number between 1 and 65535"},
		{"grpc port too large", probe("readinessProbe", "{grpc: {port: 100000}}"),
			p0 + ".readinessProbe.grpc.port", "must be between 1 and 65535, got 100000"},
		{"undeclared named port", probe("livenessProbe", "{httpGet: {port: https}}"),
			p0 + ".livenessProbe.httpGet.port", `named port "https" is not declared by any process of the pod`},
		{"undeclared named port in hook", oneProcess("    lifecycle: {preStop: {tcpSocket: {port: admin}}}\n"),
			p0 + ".lifecycle.preStop.tcpSocket.port", `named port "admin" is not declared by any process of the pod`},
		{"bad named port", probe("livenessProbe", "{tcpSocket: {port: Web_1}}"),
			p0 + ".livenessProbe.tcpSocket.port", `invalid port name "Web_1"`},

		// httpGet.
		{"bad scheme", probe("livenessProbe", "{httpGet: {port: 80, scheme: http}}"),
			p0 + ".livenessProbe.httpGet.scheme", `unsupported value "http": must be HTTP or HTTPS`},
		{"empty header name", probe("livenessProbe", "{httpGet: {port: 80, httpHeaders: [{value: x}]}}"),
			p0 + ".livenessProbe.httpGet.httpHeaders[0].name", "required"},
		{"bad header name", probe("livenessProbe", "{httpGet: {port: 80, httpHeaders: [{name: a, value: x}, {name: 'X Probe', value: x}]}}"),
			p0 + ".livenessProbe.httpGet.httpHeaders[1].name", `invalid header name "X Probe"`},
		{"bad header value", probe("livenessProbe", `{httpGet: {port: 80, httpHeaders: [{name: a, value: "x\r\ny: z"}]}}`),
			p0 + ".livenessProbe.httpGet.httpHeaders[0].value", "must not contain control characters"},
		{"host with space", probe("livenessProbe", "{httpGet: {port: 80, host: 'a b'}}"),
			p0 + ".livenessProbe.httpGet.host", `must not contain spaces or control characters, got "a b"`},
		{"host with NUL", probe("livenessProbe", `{tcpSocket: {port: 80, host: "a\0"}}`),
			p0 + ".livenessProbe.tcpSocket.host", "must not contain a NUL byte"},
		{"path with space", probe("livenessProbe", "{httpGet: {port: 80, path: '/a b'}}"),
			p0 + ".livenessProbe.httpGet.path", "must not contain spaces or control characters"},

		// Init processes.
		{"probe on a plain init process", withSpec("  initProcesses: [{name: i, command: [x], readinessProbe: {exec: {command: [x]}}}]\n  processes: [{name: a, command: [x]}]\n"),
			"spec.initProcesses[0].readinessProbe", "not allowed on an init process that is not a sidecar (restartPolicy: Always)"},
		{"liveness on an OnFailure init process", withSpec("  initProcesses: [{name: i, command: [x], restartPolicy: OnFailure, livenessProbe: {exec: {command: [x]}}}]\n  processes: [{name: a, command: [x]}]\n"),
			"spec.initProcesses[0].livenessProbe", "not allowed on an init process that is not a sidecar"},
		{"dependsOn on an init process", withSpec("  initProcesses: [{name: i, command: [x], dependsOn: [{name: a}]}]\n  processes: [{name: a, command: [x]}]\n"),
			"spec.initProcesses[0].dependsOn", "dependsOn is not allowed on init processes"},
		{"sidecar probe checked", withSpec("  initProcesses: [{name: i, command: [x], restartPolicy: Always, startupProbe: {exec: {command: [x]}, successThreshold: 2}}]\n  processes: [{name: a, command: [x]}]\n"),
			"spec.initProcesses[0].startupProbe.successThreshold", "must be 1 for a startupProbe"},

		// Stop signal alias.
		{"unknown lifecycle stop signal", oneProcess("    lifecycle: {stopSignal: SIGFOO}\n"),
			p0 + ".lifecycle.stopSignal", `unknown signal "SIGFOO"`},
		{"conflicting stop signals", oneProcess("    stopSignal: SIGINT\n    lifecycle: {stopSignal: SIGQUIT}\n"),
			p0 + ".lifecycle.stopSignal", `must be the same signal as stopSignal ("SIGINT") when both are set, got "SIGQUIT"`},

		// restartPolicyRules.
		{"unknown action", oneProcess("    restartPolicyRules: [{action: Foo, exitCodes: {operator: In, values: [1]}}]\n"),
			p0 + ".restartPolicyRules[0].action", `unsupported value "Foo": must be Restart or RestartAllContainers`},
		{"missing action", oneProcess("    restartPolicyRules: [{exitCodes: {operator: In, values: [1]}}]\n"),
			p0 + ".restartPolicyRules[0].action", "required: Restart or RestartAllContainers"},
		{"missing exitCodes", oneProcess("    restartPolicyRules: [{action: Restart}]\n"),
			p0 + ".restartPolicyRules[0].exitCodes", "required"},
		{"bad operator", oneProcess("    restartPolicyRules: [{action: Restart}, {action: Restart, exitCodes: {operator: in, values: [1]}}]\n"),
			p0 + ".restartPolicyRules[1].exitCodes.operator", `unsupported value "in": must be In or NotIn`},
		{"missing operator", oneProcess("    restartPolicyRules: [{action: Restart, exitCodes: {values: [1]}}]\n"),
			p0 + ".restartPolicyRules[0].exitCodes.operator", "required: In or NotIn"},
		{"empty values", oneProcess("    restartPolicyRules: [{action: Restart, exitCodes: {operator: NotIn, values: []}}]\n"),
			p0 + ".restartPolicyRules[0].exitCodes.values", "must not be empty"},
		{"missing values", oneProcess("    restartPolicyRules: [{action: Restart, exitCodes: {operator: NotIn}}]\n"),
			p0 + ".restartPolicyRules[0].exitCodes.values", "must not be empty"},
		{"value too large", oneProcess("    restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [1, 256]}}]\n"),
			p0 + ".restartPolicyRules[0].exitCodes.values[1]", "must be between 0 and 255, got 256"},
		{"value negative", oneProcess("    restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [-1]}}]\n"),
			p0 + ".restartPolicyRules[0].exitCodes.values[0]", "must be between 0 and 255, got -1"},
		{"duplicate value", oneProcess("    restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [3, 4, 3]}}]\n"),
			p0 + ".restartPolicyRules[0].exitCodes.values[2]", "duplicate value 3"},

		// dependsOn.
		{"dependency without name", oneProcess("    dependsOn: [{condition: Ready}]\n"),
			p0 + ".dependsOn[0].name", "required"},
		{"unknown dependency", oneProcess("    dependsOn: [{name: x}]\n"),
			p0 + ".dependsOn[0].name", `unknown process "x"`},
		{"self dependency", oneProcess("    dependsOn: [{name: app}]\n"),
			p0 + ".dependsOn[0].name", "a process cannot depend on itself"},
		{"dependency on init process", withSpec("  initProcesses: [{name: i, command: [x]}]\n  processes: [{name: a, command: [x], dependsOn: [{name: i}]}]\n"),
			p0 + ".dependsOn[0].name", `cannot depend on init process "i": init processes run before every app process`},
		{"dependency on sidecar", withSpec("  initProcesses: [{name: s, command: [x], restartPolicy: Always}]\n  processes: [{name: a, command: [x], dependsOn: [{name: s, condition: Ready}]}]\n"),
			p0 + ".dependsOn[0].name", `cannot depend on init process "s"`},
		{"bad condition", withSpec("  processes: [{name: a, command: [x], dependsOn: [{name: b, condition: Healthy}]}, {name: b, command: [x]}]\n"),
			p0 + ".dependsOn[0].condition", `unsupported value "Healthy": must be Started, Ready or Succeeded`},
		{"duplicate dependency", withSpec("  processes: [{name: a, command: [x], dependsOn: [{name: b}, {name: b, condition: Ready}]}, {name: b, command: [x]}]\n"),
			p0 + ".dependsOn[1].name", `duplicate name "b"`},
		{"two-process cycle", withSpec("  processes: [{name: a, command: [x], dependsOn: [{name: b}]}, {name: b, command: [x], dependsOn: [{name: a}]}]\n"),
			p0 + ".dependsOn", "dependency cycle: a -> b -> a"},
		{"three-process cycle", withSpec("  processes:\n  - {name: z, command: [x]}\n  - {name: c, command: [x], dependsOn: [{name: a}]}\n  - {name: a, command: [x], dependsOn: [{name: z}, {name: b}]}\n  - {name: b, command: [x], dependsOn: [{name: c}]}\n"),
			"spec.processes[1].dependsOn", "dependency cycle: c -> a -> b -> c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pod.Load([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Load accepted:\n%s", tc.doc)
			}
			found := false
			for _, fe := range fieldErrors(t, err) {
				if fe.Field == tc.field && strings.Contains(fe.Detail, tc.detail) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error %q containing %q; got:\n%v", tc.field, tc.detail, err)
			}
		})
	}
}

// TestFeatureErrorsExact pins whole error lines, and checks that a bad
// input gives no other error.
func TestFeatureErrorsExact(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want []string
	}{
		{
			probe("readinessProbe", "{httpGet: {port: http}, exec: {command: [x]}, periodSeconds: -1}"),
			[]string{
				"spec.processes[0].readinessProbe: must have exactly one handler, got exec and httpGet",
				"spec.processes[0].readinessProbe.periodSeconds: must be at least 1, got -1",
			},
		},
		{
			withSpec("  processes:\n  - {name: a, command: [x], dependsOn: [{name: b}]}\n  - {name: b, command: [x], dependsOn: [{name: c}]}\n  - {name: c, command: [x], dependsOn: [{name: a}, {name: d}]}\n  - {name: d, command: [x], dependsOn: [{name: c}]}\n"),
			// One cycle for the group a, b, c, d, on its first process.
			[]string{"spec.processes[0].dependsOn: dependency cycle: a -> b -> c -> a"},
		},
		{
			withSpec("  processes:\n  - {name: a, command: [x], dependsOn: [{name: b}]}\n  - {name: b, command: [x], dependsOn: [{name: a}]}\n  - {name: c, command: [x], dependsOn: [{name: d}]}\n  - {name: d, command: [x], dependsOn: [{name: c}]}\n"),
			[]string{
				"spec.processes[0].dependsOn: dependency cycle: a -> b -> a",
				"spec.processes[2].dependsOn: dependency cycle: c -> d -> c",
			},
		},
		{
			// A bad lifecycle.stopSignal, which SetDefaults copies to
			// stopSignal, is reported once.
			oneProcess("    lifecycle: {stopSignal: SIGFOO}\n"),
			[]string{`spec.processes[0].lifecycle.stopSignal: unknown signal "SIGFOO"`},
		},
		{
			oneProcess("    stopSignal: SIGBAR\n    lifecycle: {stopSignal: SIGFOO}\n"),
			[]string{
				`spec.processes[0].stopSignal: unknown signal "SIGBAR"`,
				`spec.processes[0].lifecycle.stopSignal: unknown signal "SIGFOO"`,
			},
		},
		{
			oneProcess("    restartPolicyRules: [{action: Foo, exitCodes: {operator: In, values: [1]}}]\n"),
			[]string{`spec.processes[0].restartPolicyRules[0].action: unsupported value "Foo": must be Restart or RestartAllContainers`},
		},
	} {
		_, err := pod.Load([]byte(tc.doc))
		if err == nil {
			t.Errorf("Load accepted:\n%s", tc.doc)
			continue
		}
		if got := lines(err); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestLongDependencyCycle(t *testing.T) {
	var b strings.Builder
	b.WriteString("  processes:\n")
	const n = 200
	for i := range n {
		fmt.Fprintf(&b, "  - {name: process-with-a-rather-long-name-%03d, command: [x], dependsOn: [{name: process-with-a-rather-long-name-%03d}]}\n", i, (i+1)%n)
	}
	_, err := pod.Load([]byte(withSpec(b.String())))
	if err == nil {
		t.Fatal("Load accepted a cycle")
	}
	list := fieldErrors(t, err)
	if len(list) != 1 || list[0].Field != "spec.processes[0].dependsOn" ||
		!strings.HasPrefix(list[0].Detail, "dependency cycle of 200 processes: process-with-a-rather-long-name-000 -> ") ||
		!strings.HasSuffix(list[0].Detail, " -> ... -> process-with-a-rather-long-name-000") || len(list[0].Detail) > 600 {
		t.Errorf("errors = %v", err)
	}
}

func TestFeaturesNamedPortFromOtherProcess(t *testing.T) {
	// A name declared by another process of the pod, even an init process,
	// is accepted.
	mustLoad(t, withSpec(`  initProcesses:
  - {name: i, command: [x], ports: [{name: admin, containerPort: 9000}]}
  processes:
  - {name: a, command: [x], readinessProbe: {httpGet: {port: admin}}, lifecycle: {preStop: {httpGet: {port: web}}}}
  - {name: b, command: [x], ports: [{name: web, containerPort: 80}]}
`))
}

func TestFeaturesJSONRoundTrip(t *testing.T) {
	p1 := mustLoad(t, fullFeaturesYAML)
	j1, err := json.Marshal(p1)
	if err != nil {
		t.Fatal(err)
	}
	p2 := mustLoad(t, string(j1))
	if !reflect.DeepEqual(p1, p2) {
		t.Errorf("pods differ after a JSON round trip:\n%+v\n%+v", p1, p2)
	}
	j2, _ := json.Marshal(p2)
	if !bytes.Equal(j1, j2) {
		t.Errorf("JSON changed on a round trip:\n%s\n%s", j1, j2)
	}
	// Ports are numbers or strings in JSON.
	if !bytes.Contains(j1, []byte(`"port":"http"`)) || !bytes.Contains(j1, []byte(`"port":8080`)) {
		t.Errorf("ports not encoded as a number and a name:\n%s", j1)
	}
}

package kube

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/pod"
)

func env(p *pod.Process) map[string]string {
	m := map[string]string{}
	for _, e := range p.Env {
		m[e.Name] = e.Value
	}
	return m
}

func q(s string) *pod.Quantity { return pod.MustParseQuantity(s) }

func eqQ(a *pod.Quantity, s string) bool { return a != nil && a.Cmp(*q(s)) == 0 }

// TestMappingFields checks the translation field by field: each case is a
// PodSpec (flow style) and what the pod.Pod must hold.
func TestMappingFields(t *testing.T) {
	const app = `{name: app, command: [run]}`
	cases := []struct {
		name  string
		spec  string
		check func(p *pod.Pod) string
	}{
		{"containers and initContainers", `{initContainers: [{name: i1, command: [a]}, {name: i2, command: [b]}], containers: [{name: c1, command: [c]}, {name: c2, command: [d]}]}`, func(p *pod.Pod) string {
			s := p.Spec
			if len(s.InitProcesses) != 2 || s.InitProcesses[1].Name != "i2" || len(s.Processes) != 2 || s.Processes[0].Name != "c1" || s.Processes[1].Command[0] != "d" {
				return fmt.Sprintf("%+v", s)
			}
			return ""
		}},
		{"sidecar", `{initContainers: [{name: log, command: [tail], restartPolicy: Always}], containers: [` + app + `]}`, func(p *pod.Pod) string {
			if !p.Spec.InitProcesses[0].IsSidecar() {
				return "init container with restartPolicy Always is not a sidecar"
			}
			return ""
		}},
		{"command and args", `{containers: [{name: a, command: [sh, -c], args: ['echo $(X) $$(X) $(NOPE)'], env: [{name: X, value: x}]}]}`, func(p *pod.Pod) string {
			c := p.Spec.Processes[0]
			if !reflect.DeepEqual(c.Command, []string{"sh", "-c"}) || !reflect.DeepEqual(c.Args, []string{"echo x $(X) $(NOPE)"}) {
				return fmt.Sprintf("command %q args %q", c.Command, c.Args)
			}
			return ""
		}},
		{"args alone are the command line", `{containers: [{name: a, image: busybox, args: [sleep, '$(T)'], env: [{name: T, value: "10"}]}]}`, func(p *pod.Pod) string {
			c := p.Spec.Processes[0]
			if !reflect.DeepEqual(c.Command, []string{"sleep", "10"}) || c.Args != nil {
				return fmt.Sprintf("command %q args %q", c.Command, c.Args)
			}
			return ""
		}},
		{"command sees env defined after it", `{containers: [{name: a, command: [echo, '$(LATE)'], env: [{name: EARLY, value: '$(LATE)'}, {name: LATE, value: late}]}]}`, func(p *pod.Pod) string {
			c := p.Spec.Processes[0]
			if c.Command[1] != "late" || env(&c)["EARLY"] != "$(LATE)" {
				return fmt.Sprintf("command %q env %v", c.Command, env(&c))
			}
			return ""
		}},
		{"dependent env vars", `{containers: [{name: a, command: [x], env: [{name: A, value: a}, {name: B, value: '$(A)-b'}, {name: C, value: '$(B)-c $$(A)'}, {name: A, value: again}]}]}`, func(p *pod.Pod) string {
			e := env(&p.Spec.Processes[0])
			if e["B"] != "a-b" || e["C"] != "a-b-c $(A)" || e["A"] != "again" || len(p.Spec.Processes[0].Env) != 3 {
				return fmt.Sprintf("%v", p.Spec.Processes[0].Env)
			}
			return ""
		}},
		{"workingDir, stdin, tty", `{containers: [{name: a, command: [x], workingDir: /srv, stdin: true, tty: true}]}`, func(p *pod.Pod) string {
			c := p.Spec.Processes[0]
			if c.WorkingDir != "/srv" || !c.Stdin || !c.TTY {
				return fmt.Sprintf("%+v", c)
			}
			return ""
		}},
		{"ports", `{hostNetwork: true, containers: [{name: a, command: [x], ports: [{name: http, containerPort: 8080, hostPort: 8080}, {containerPort: 53, protocol: UDP}]}]}`, func(p *pod.Pod) string {
			ps := p.Spec.Processes[0].Ports
			if len(ps) != 2 || ps[0].Name != "http" || ps[0].ContainerPort != 8080 || ps[1].Protocol != "UDP" || p.Spec.Network != pod.NetworkHost {
				return fmt.Sprintf("%+v", ps)
			}
			return ""
		}},
		{"fieldRef", `{serviceAccountName: builder, containers: [{name: a, command: [x], env: [
			{name: N, valueFrom: {fieldRef: {fieldPath: metadata.name}}},
			{name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}},
			{name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}},
			{name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}},
			{name: NONE, valueFrom: {fieldRef: {fieldPath: "metadata.labels['none']"}}},
			{name: NOTE, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: "metadata.annotations['note']"}}},
			{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}},
			{name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}},
			{name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}},
			{name: HOST_IPS, valueFrom: {fieldRef: {fieldPath: status.hostIPs}}},
			{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}},
			{name: POD_IPS, valueFrom: {fieldRef: {fieldPath: status.podIPs}}}]}]}`, func(p *pod.Pod) string {
			want := map[string]string{"N": "p", "NS": "default", "UID": "uid-1", "APP": "p", "NONE": "", "NOTE": "hello",
				"NODE": "node1", "SA": "builder", "HOST_IP": "192.0.2.10", "HOST_IPS": "192.0.2.10", "POD_IP": "", "POD_IPS": ""}
			if got := env(&p.Spec.Processes[0]); !reflect.DeepEqual(got, want) {
				return fmt.Sprintf("%v", got)
			}
			return ""
		}},
		{"podIP with hostNetwork, default service account", `{hostNetwork: true, containers: [{name: a, command: [x], env: [
			{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}},
			{name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}]}]}`, func(p *pod.Pod) string {
			if e := env(&p.Spec.Processes[0]); e["POD_IP"] != "192.0.2.10" || e["SA"] != "default" {
				return fmt.Sprintf("%v", e)
			}
			return ""
		}},
		{"resourceFieldRef", `{containers: [{name: a, command: [x], resources: {limits: {cpu: 1500m, memory: 64Mi}, requests: {cpu: 250m}}, env: [
			{name: LCPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}},
			{name: LCPU_M, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}},
			{name: RCPU, valueFrom: {resourceFieldRef: {resource: requests.cpu}}},
			{name: RMEM, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 1Mi}}},
			{name: LMEM, valueFrom: {resourceFieldRef: {resource: limits.memory}}},
			{name: LMEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}},
			{name: LSTORE, valueFrom: {resourceFieldRef: {resource: limits.ephemeral-storage, divisor: 1Gi}}},
			{name: RSTORE, valueFrom: {resourceFieldRef: {resource: requests.ephemeral-storage}}},
			{name: OTHER, valueFrom: {resourceFieldRef: {containerName: b, resource: limits.cpu}}}]},
			{name: b, command: [y]}]}`, func(p *pod.Pod) string {
			want := map[string]string{"LCPU": "2", "LCPU_M": "1500", "RCPU": "1", "RMEM": "64", "LMEM": "67108864", "LMEM_MI": "64",
				"LSTORE": "100", "RSTORE": "0", "OTHER": "4"}
			if got := env(&p.Spec.Processes[0]); !reflect.DeepEqual(got, want) {
				return fmt.Sprintf("%v", got)
			}
			return ""
		}},
		{"resourceFieldRef falls back to the pod's limits", `{resources: {limits: {cpu: "2", memory: 1Gi}}, containers: [{name: a, command: [x], env: [
			{name: LCPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}},
			{name: LMEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}]}]}`, func(p *pod.Pod) string {
			if e := env(&p.Spec.Processes[0]); e["LCPU"] != "2" || e["LMEM"] != "1024" {
				return fmt.Sprintf("%v", e)
			}
			return ""
		}},
		{"resources", `{containers: [{name: a, command: [x], resources: {limits: {cpu: 500m, memory: 128Mi, ephemeral-storage: 1Gi}, requests: {cpu: 100m}}}]}`, func(p *pod.Pod) string {
			r := p.Spec.Processes[0].Resources
			if !eqQ(r.Limits.CPU, "500m") || !eqQ(r.Limits.Memory, "128Mi") || !eqQ(r.Limits.EphemeralStorage, "1Gi") ||
				!eqQ(r.Requests.CPU, "100m") || !eqQ(r.Requests.Memory, "128Mi") || !eqQ(r.Requests.EphemeralStorage, "1Gi") {
				return fmt.Sprintf("%+v", r)
			}
			return ""
		}},
		{"pod-level resources", `{resources: {limits: {cpu: "1", memory: 256Mi}, requests: {cpu: 500m}}, containers: [` + app + `]}`, func(p *pod.Pod) string {
			r := p.Spec.Resources
			if !eqQ(r.Limits.CPU, "1") || !eqQ(r.Limits.Memory, "256Mi") || !eqQ(r.Requests.CPU, "500m") || !eqQ(r.Requests.Memory, "256Mi") {
				return fmt.Sprintf("%+v", r)
			}
			return ""
		}},
		{"pod fields", `{restartPolicy: OnFailure, terminationGracePeriodSeconds: 5, activeDeadlineSeconds: 60, enableServiceLinks: false, os: {name: linux}, hostUsers: true, containers: [` + app + `]}`, func(p *pod.Pod) string {
			s := p.Spec
			if s.RestartPolicy != pod.RestartOnFailure || *s.TerminationGracePeriodSeconds != 5 || *s.ActiveDeadlineSeconds != 60 {
				return fmt.Sprintf("%+v", s)
			}
			return ""
		}},
		{"restart policy and rules", `{containers: [{name: a, command: [x], restartPolicy: Never, restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [42]}}]}]}`, func(p *pod.Pod) string {
			c := p.Spec.Processes[0]
			if c.RestartPolicy != pod.RestartNever || len(c.RestartPolicyRules) != 1 || c.RestartPolicyRules[0].ExitCodes.Values[0] != 42 {
				return fmt.Sprintf("%+v", c)
			}
			return ""
		}},
		{"probes", `{containers: [{name: a, command: [x], ports: [{name: http, containerPort: 8080}],
			livenessProbe: {httpGet: {path: /healthz, port: http, httpHeaders: [{name: X-Probe, value: "1"}]}, initialDelaySeconds: 3, periodSeconds: 5, failureThreshold: 2, terminationGracePeriodSeconds: 7},
			readinessProbe: {tcpSocket: {port: 8080}, timeoutSeconds: 2, successThreshold: 2},
			startupProbe: {exec: {command: [cat, /tmp/ready]}}},
			{name: b, command: [y], livenessProbe: {grpc: {port: 9000, service: health}}}]}`, func(p *pod.Pod) string {
			a, b := p.Spec.Processes[0], p.Spec.Processes[1]
			l := a.LivenessProbe
			if l == nil || l.HTTPGet.Path != "/healthz" || l.HTTPGet.Port.StrVal != "http" || l.HTTPGet.HTTPHeaders[0].Name != "X-Probe" ||
				l.InitialDelaySeconds != 3 || l.PeriodSeconds != 5 || l.FailureThreshold != 2 || *l.TerminationGracePeriodSeconds != 7 {
				return fmt.Sprintf("liveness %+v", l)
			}
			if r := a.ReadinessProbe; r.TCPSocket.Port.IntVal != 8080 || r.TimeoutSeconds != 2 || r.SuccessThreshold != 2 {
				return fmt.Sprintf("readiness %+v", r)
			}
			if s := a.StartupProbe; s.Exec.Command[1] != "/tmp/ready" {
				return fmt.Sprintf("startup %+v", s)
			}
			if g := b.LivenessProbe.GRPC; g.Port != 9000 || *g.Service != "health" {
				return fmt.Sprintf("grpc %+v", g)
			}
			return ""
		}},
		{"lifecycle", `{containers: [{name: a, command: [x], lifecycle: {postStart: {exec: {command: [touch, /tmp/started]}}, preStop: {sleep: {seconds: 5}}, stopSignal: SIGINT}},
			{name: b, command: [y], ports: [{containerPort: 80}], lifecycle: {preStop: {httpGet: {path: /quit, port: 80}}, postStart: {tcpSocket: {port: 80}}}}]}`, func(p *pod.Pod) string {
			a, b := p.Spec.Processes[0], p.Spec.Processes[1]
			if a.Lifecycle.PostStart.Exec.Command[0] != "touch" || a.Lifecycle.PreStop.Sleep.Seconds != 5 || a.StopSignal != "SIGINT" {
				return fmt.Sprintf("%+v", a.Lifecycle)
			}
			if b.Lifecycle.PreStop.HTTPGet.Path != "/quit" || b.Lifecycle.PostStart.TCPSocket.Port.IntVal != 80 {
				return fmt.Sprintf("%+v", b.Lifecycle)
			}
			return ""
		}},
		{"every process has a security context", `{containers: [` + app + `], initContainers: [{name: i, command: [x]}]}`, func(p *pod.Pod) string {
			if p.Spec.Processes[0].SecurityContext == nil || p.Spec.InitProcesses[0].SecurityContext == nil {
				return "a process without a security context"
			}
			return ""
		}},
		{"security contexts", `{securityContext: {runAsUser: 1000, runAsGroup: 3000, runAsNonRoot: true, fsGroup: 2000, supplementalGroups: [4000], supplementalGroupsPolicy: Merge,
			sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}, {name: kernel.shm_rmid_forced, value: "1"}], seccompProfile: {type: RuntimeDefault}, appArmorProfile: {type: Unconfined}},
			containers: [{name: a, command: [x], securityContext: {runAsUser: 2000, runAsGroup: 2001, runAsNonRoot: false, privileged: false, allowPrivilegeEscalation: false,
			readOnlyRootFilesystem: true, procMount: Default, capabilities: {add: [NET_ADMIN, SYS_TIME], drop: [ALL]}, seccompProfile: {type: Unconfined}}}]}`, func(p *pod.Pod) string {
			ps := p.Spec.SecurityContext
			if *ps.RunAsUser != 1000 || *ps.RunAsGroup != 3000 || !*ps.RunAsNonRoot || *ps.FSGroup != 2000 || ps.SupplementalGroups[0] != 4000 ||
				len(ps.Sysctls) != 2 || ps.SeccompProfile.Type != "RuntimeDefault" {
				return fmt.Sprintf("pod %+v", ps)
			}
			cs := p.Spec.Processes[0].SecurityContext
			if *cs.RunAsUser != 2000 || *cs.RunAsGroup != 2001 || *cs.RunAsNonRoot || *cs.Privileged || *cs.AllowPrivilegeEscalation ||
				!*cs.ReadOnlyRootFilesystem || cs.ProcMount != "Default" || !reflect.DeepEqual(cs.Capabilities.Add, []string{"NET_ADMIN", "SYS_TIME"}) ||
				cs.Capabilities.Drop[0] != "ALL" || cs.SeccompProfile.Type != "Unconfined" {
				return fmt.Sprintf("container %+v", cs)
			}
			return ""
		}},
		{"namespaces", `{hostIPC: true, hostPID: true, containers: [` + app + `]}`, func(p *pod.Pod) string {
			if !p.Spec.HostIPC || !p.Spec.HostPID || p.Spec.Network != pod.NetworkDefault {
				return fmt.Sprintf("%+v", p.Spec)
			}
			return ""
		}},
		{"shareProcessNamespace", `{shareProcessNamespace: true, containers: [` + app + `]}`, func(p *pod.Pod) string {
			if !*p.Spec.ShareProcessNamespace {
				return "not shared"
			}
			return ""
		}},
		{"host name, DNS, hosts", `{hostname: web-0, subdomain: web, setHostnameAsFQDN: true, dnsPolicy: None, dnsConfig: {nameservers: [192.0.2.53], searches: [example.com], options: [{name: ndots, value: "2"}, {name: edns0}]},
			hostAliases: [{ip: 127.0.0.1, hostnames: [foo.local, bar.local]}], containers: [` + app + `]}`, func(p *pod.Pod) string {
			s := p.Spec
			if s.Hostname != "web-0" || s.Subdomain != "web" || !*s.SetHostnameAsFQDN || s.DNSPolicy != "None" || s.DNSConfig.Nameservers[0] != "192.0.2.53" ||
				s.DNSConfig.Searches[0] != "example.com" || *s.DNSConfig.Options[0].Value != "2" || s.DNSConfig.Options[1].Value != nil ||
				s.HostAliases[0].IP != "127.0.0.1" || s.HostAliases[0].Hostnames[1] != "bar.local" {
				return fmt.Sprintf("%+v", s)
			}
			return ""
		}},
		{"hostnameOverride", `{hostnameOverride: my-host, hostname: other, containers: [` + app + `]}`, func(p *pod.Pod) string {
			if p.Spec.Hostname != "my-host" {
				return p.Spec.Hostname
			}
			return ""
		}},
		{"emptyDir and hostPath", `{volumes: [{name: cache, emptyDir: {}}, {name: mem, emptyDir: {medium: Memory, sizeLimit: 64Mi}}, {name: logs, hostPath: {path: /var/log, type: Directory}}, {name: plain}],
			containers: [{name: a, command: [x], volumeMounts: [{name: cache, mountPath: /cache}, {name: mem, mountPath: /mem, readOnly: true}, {name: logs, mountPath: /logs, subPath: app}, {name: plain, mountPath: /plain, subPathExpr: '$(POD_NAME)'}]}]}`, func(p *pod.Pod) string {
			v := p.Spec.Volumes
			if v[0].EmptyDir == nil || v[1].EmptyDir.Medium != "Memory" || !eqQ(v[1].EmptyDir.SizeLimit, "64Mi") || v[2].HostPath.Path != "/var/log" || v[2].HostPath.Type != "Directory" || v[3].EmptyDir == nil {
				return fmt.Sprintf("%+v", v)
			}
			m := p.Spec.Processes[0].VolumeMounts
			if len(m) != 4 || !m[1].ReadOnly || m[2].SubPath != "app" || m[3].SubPathExpr != "$(POD_NAME)" || m[0].MountPath != "/cache" {
				return fmt.Sprintf("%+v", m)
			}
			return ""
		}},
		{"downwardAPI volume", `{volumes: [{name: info, downwardAPI: {defaultMode: 0400, items: [
			{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: annotations, fieldRef: {fieldPath: metadata.annotations}},
			{path: name, fieldRef: {fieldPath: metadata.name}}, {path: app, fieldRef: {fieldPath: "metadata.labels['app']"}, mode: 0444},
			{path: cpu_limit, resourceFieldRef: {containerName: a, resource: limits.cpu, divisor: 1m}}]}}],
			containers: [{name: a, command: [x], resources: {limits: {cpu: 250m}}, volumeMounts: [{name: info, mountPath: /etc/podinfo}]}]}`, func(p *pod.Pod) string {
			f := p.Spec.Volumes[0].Files
			got := map[string]string{}
			for _, it := range f.Items {
				got[it.Path] = fmt.Sprintf("%s %o", it.Data, *it.Mode)
			}
			want := map[string]string{"labels": "app=\"p\"\ntier=\"web\" 400", "annotations": "note=\"hello\" 400", "name": "p 400", "app": "p 444", "cpu_limit": "250 400"}
			if !reflect.DeepEqual(got, want) || f.Medium != "" {
				return fmt.Sprintf("%q medium %q", got, f.Medium)
			}
			return ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := onePod(t, podSpec(tc.spec))
			if msg := tc.check(p); msg != "" {
				t.Error(msg)
			}
		})
	}
}

const dataDocs = `
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {log_level: debug, port: "8080", "1st": x, config.json: '{"a": 1}'}
binaryData: {logo.png: iVBORw0KGgo=}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
data: {username: YWRtaW4=, password: czNjcjN0}
stringData: {password: plain-wins}
`

func TestConfigMapsAndSecrets(t *testing.T) {
	p := onePod(t, podSpec(`{volumes: [
		{name: cfg, configMap: {name: app-config}},
		{name: some, configMap: {name: app-config, defaultMode: 0600, items: [{key: log_level, path: conf/level}, {key: port, path: port, mode: 0640}]}},
		{name: sec, secret: {secretName: creds}},
		{name: proj, projected: {defaultMode: 0440, sources: [{configMap: {name: app-config, items: [{key: port, path: port}]}}, {secret: {name: creds, items: [{key: username, path: user}]}}, {downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}}]}},
		{name: opt, configMap: {name: missing, optional: true}}],
		containers: [{name: a, command: [x],
		envFrom: [{configMapRef: {name: app-config}, prefix: CFG_}, {secretRef: {name: creds}}, {configMapRef: {name: nothing, optional: true}}],
		env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: app-config, key: log_level}}}, {name: PASS, valueFrom: {secretKeyRef: {name: creds, key: password}}},
		      {name: OPT, valueFrom: {configMapKeyRef: {name: app-config, key: nope, optional: true}}}, {name: OPT2, valueFrom: {secretKeyRef: {name: nope, key: x, optional: true}}}]}]}`)+dataDocs)
	files := func(i int) map[string]string {
		m := map[string]string{}
		for _, it := range p.Spec.Volumes[i].Files.Items {
			d := it.Data
			if it.BinaryData != nil {
				d = fmt.Sprintf("%x", it.BinaryData)
			}
			mode := ""
			if it.Mode != nil {
				mode = fmt.Sprintf(" %o", *it.Mode)
			}
			m[it.Path] = d + mode
		}
		return m
	}
	if got, want := files(0), map[string]string{"log_level": "debug", "port": "8080", "1st": "x", "config.json": `{"a": 1}`, "logo.png": "89504e470d0a1a0a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("configMap files %q", got)
	}
	if got := files(1); !reflect.DeepEqual(got, map[string]string{"conf/level": "debug 600", "port": "8080 640"}) {
		t.Errorf("items %q", got)
	}
	if got := files(2); !reflect.DeepEqual(got, map[string]string{"username": "admin", "password": "plain-wins"}) || p.Spec.Volumes[2].Files.Medium != "Memory" {
		t.Errorf("secret files %q medium %q", got, p.Spec.Volumes[2].Files.Medium)
	}
	if got := files(3); !reflect.DeepEqual(got, map[string]string{"port": "8080 440", "user": "admin 440", "ns": "default 440"}) || p.Spec.Volumes[3].Files.Medium != "Memory" {
		t.Errorf("projected files %q medium %q", got, p.Spec.Volumes[3].Files.Medium)
	}
	if len(p.Spec.Volumes[4].Files.Items) != 0 {
		t.Errorf("optional missing configMap: %+v", p.Spec.Volumes[4].Files)
	}
	e := env(&p.Spec.Processes[0])
	want := map[string]string{"CFG_1st": "x", "CFG_log_level": "debug", "CFG_port": "8080", "CFG_config.json": `{"a": 1}`, "username": "admin", "password": "plain-wins", "LEVEL": "debug", "PASS": "plain-wins"}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("env %v", e)
	}
}

func TestEnvFromInvalidKeysNotice(t *testing.T) {
	r := load(t, podSpec(`{containers: [{name: a, command: [x], envFrom: [{configMapRef: {name: app-config}}]}]}`)+dataDocs)
	found := false
	for _, n := range r.Notices {
		if strings.Contains(n, `spec.containers[0].envFrom[0]: keys of configmap "app-config" skipped, not valid environment variable names: "1st"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("notices %q", r.Notices)
	}
}

func TestDataFromOptions(t *testing.T) {
	cm := `apiVersion: v1
kind: ConfigMap
metadata: {name: extra, namespace: prod}
data: {k: from-file}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: any-ns}, data: {k: v}}
`
	sec := `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tok"}, "data": {"t": "dG9rZW4="}}`
	src := `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: prod}
spec:
  containers:
  - name: a
    command: [x]
    env:
    - {name: K, valueFrom: {configMapKeyRef: {name: extra, key: k}}}
    - {name: K2, valueFrom: {configMapKeyRef: {name: any-ns, key: k}}}
    - {name: T, valueFrom: {secretKeyRef: {name: tok, key: t}}}
`
	p := onePod(t, src, func(o *Options) { o.ConfigMaps = [][]byte{[]byte(cm)}; o.Secrets = [][]byte{[]byte(sec)} })
	if e := env(&p.Spec.Processes[0]); e["K"] != "from-file" || e["K2"] != "v" || e["T"] != "token" {
		t.Errorf("env %v", e)
	}
	// A ConfigMap of another namespace is not found.
	lines := loadErr(t, strings.Replace(src, "namespace: prod", "namespace: dev", 1), func(o *Options) { o.ConfigMaps = [][]byte{[]byte(cm)} })
	if !hasLine(lines, "spec.containers[0].env[0].valueFrom.configMapKeyRef", `configmap "extra" not found in namespace "dev"`) {
		t.Errorf("%q", lines)
	}
	// A --configmap file holds ConfigMaps only.
	lines = loadErr(t, src, func(o *Options) { o.ConfigMaps = [][]byte{[]byte(sec)} })
	if !hasLine(lines, "configmap file 1: kind", `Secret "tok" in a configmap file`) {
		t.Errorf("%q", lines)
	}
}

func TestMetadata(t *testing.T) {
	src := `apiVersion: v1
kind: Pod
metadata:
  generateName: batch-
  namespace: jobs
  labels: {app: batch}
  annotations: {example.com/owner: me}
spec:
  containers: [{name: a, command: [x]}]
`
	p := onePod(t, src)
	if !strings.HasPrefix(p.Metadata.Name, "batch-") || len(p.Metadata.Name) != len("batch-")+5 || p.Metadata.Namespace != "jobs" ||
		p.Metadata.UID != "uid-1" || p.Metadata.Labels["app"] != "batch" || p.Metadata.Annotations["example.com/owner"] != "me" {
		t.Errorf("%+v", p.Metadata)
	}
	if p.APIVersion != pod.APIVersion || p.Kind != pod.Kind {
		t.Errorf("%s %s", p.APIVersion, p.Kind)
	}
	var kp corev1.Pod
	if err := json.Unmarshal(p.Kubernetes, &kp); err != nil {
		t.Fatal(err)
	}
	if kp.APIVersion != "v1" || kp.Kind != "Pod" || kp.Name != p.Metadata.Name || kp.GenerateName != "batch-" || kp.Namespace != "jobs" ||
		string(kp.UID) != "uid-1" || kp.Spec.Containers[0].Command[0] != "x" {
		t.Errorf("kubernetes object %+v", kp)
	}
	// The default namespace, a dotted name.
	p = onePod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: web.example}\nspec: {containers: [{name: a, command: [x]}]}\n")
	if p.Metadata.Namespace != "default" || p.Metadata.Name != "web.example" {
		t.Errorf("%+v", p.Metadata)
	}
	// Random suffixes and uids from crypto/rand when none are given.
	r, err := Load([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Pods[0].Metadata.UID; len(u) != 36 || u[14] != '4' {
		t.Errorf("uid %q is not a version 4 UUID", u)
	}
}

func TestWorkloads(t *testing.T) {
	src := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {owner: me}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {}
  template:
    metadata: {labels: {app: web}, annotations: {a: b}}
    spec:
      containers: [{name: nginx, image: nginx, command: [nginx, -g, daemon off;]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db-headless
  replicas: 1
  selector: {matchExpressions: [{key: app, operator: In, values: [db]}, {key: tier, operator: DoesNotExist}]}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, command: [postgres]}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, command: [agent]}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec: {containers: [{name: a, command: [a]}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  backoffLimit: 4
  activeDeadlineSeconds: 100
  template:
    spec:
      restartPolicy: Never
      activeDeadlineSeconds: 200
      containers: [{name: pi, command: [perl, -e, print 1]}]
`
	r := load(t, src)
	if len(r.Pods) != 5 {
		t.Fatalf("%d pods", len(r.Pods))
	}
	web, db, _, _, pi := r.Pods[0], r.Pods[1], r.Pods[2], r.Pods[3], r.Pods[4]
	if web.Metadata.Name != "web" || web.Metadata.Labels["app"] != "web" || web.Metadata.Labels["owner"] != "" || web.Metadata.Annotations["a"] != "b" {
		t.Errorf("web %+v", web.Metadata)
	}
	if db.Spec.Subdomain != "db-headless" {
		t.Errorf("db subdomain %q", db.Spec.Subdomain)
	}
	if *pi.Spec.ActiveDeadlineSeconds != 100 || pi.Spec.RestartPolicy != pod.RestartNever {
		t.Errorf("pi %+v", pi.Spec)
	}
	var kp corev1.Pod
	if err := json.Unmarshal(web.Kubernetes, &kp); err != nil || kp.Kind != "Pod" || kp.Name != "web" || kp.Labels["app"] != "web" {
		t.Errorf("web's Kubernetes object %+v %v", kp, err)
	}
	want := []string{
		`pod "web": spec.replicas: 3 has no effect (podvisor runs one pod per workload, whatever the count)`,
		`pod "web": images are ignored, podvisor runs host programs: nginx (container nginx)`,
		`pod "pi": spec.backoffLimit: 4 has no effect`,
	}
	for _, w := range want {
		found := false
		for _, n := range r.Notices {
			if strings.HasPrefix(n, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no notice %q in\n%s", w, strings.Join(r.Notices, "\n"))
		}
	}
	for _, n := range r.Notices {
		if strings.Contains(n, `"db": spec.replicas`) || strings.Contains(n, "strategy") {
			t.Errorf("notice for a default value: %s", n)
		}
	}
}

func TestLists(t *testing.T) {
	src := `apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec: {containers: [{name: a, command: [a]}]}
- apiVersion: v1
  kind: List
  items:
  - {apiVersion: v1, kind: Pod, metadata: {name: b}, spec: {containers: [{name: b, command: [b]}]}}
  - {apiVersion: v1, kind: Service, metadata: {name: svc}}
---
apiVersion: v1
kind: PodList
items:
- {metadata: {name: c}, spec: {containers: [{name: c, command: [c]}]}}
`
	r := load(t, src)
	var names []string
	for _, p := range r.Pods {
		names = append(names, p.Metadata.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("pods %q", names)
	}
	if !reflect.DeepEqual(r.Notices, []string{`skipped Service "svc": podvisor runs pods only`}) {
		t.Errorf("notices %q", r.Notices)
	}
	lines := loadErr(t, `{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "x", "image": "nginx"}]}}]}`)
	if !hasLine(lines, "items[0].spec.containers[0].command", `required: podvisor runs host programs and ignores the image "nginx"`) {
		t.Errorf("%q", lines)
	}
}

func TestPodvisorDocuments(t *testing.T) {
	src := `apiVersion: podvisor/v1
kind: Pod
metadata: {name: native}
spec:
  processes: [{name: a, command: [a]}]
---
apiVersion: v1
kind: Pod
metadata: {name: kube}
spec: {containers: [{name: a, command: [a]}]}
`
	r := load(t, src)
	if len(r.Pods) != 2 || r.Pods[0].Metadata.Name != "native" || r.Pods[0].Kubernetes != nil || r.Pods[1].Kubernetes == nil {
		t.Errorf("%+v", r.Pods)
	}
	lines := loadErr(t, strings.Replace(src, "command: [a]}]\n---", "comand: [a]}]\n---", 1))
	if !hasLine(lines, "document 1: spec.processes[0].comand", "unknown field") {
		t.Errorf("%q", lines)
	}
	// One podvisor/v1 document alone: pod.Load's errors, unchanged.
	lines = loadErr(t, "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x}\nspec: {processes: []}\n")
	if !reflect.DeepEqual(lines, []string{"spec.processes: required: at least one process"}) {
		t.Errorf("%q", lines)
	}
}

func TestNotices(t *testing.T) {
	r := load(t, podSpec(`{nodeSelector: {disk: ssd}, schedulerName: default-scheduler, priority: 0, tolerations: [{key: k, operator: Exists}],
		affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In, values: [b]}]}]}}},
		imagePullSecrets: [{name: regcred}], automountServiceAccountToken: false,
		containers: [{name: a, image: "registry.example/app:1.0", imagePullPolicy: Always, command: [x], terminationMessagePath: /dev/termination-log, terminationMessagePolicy: FallbackToLogsOnError}],
		initContainers: [{name: i, image: busybox, command: [y]}]}`))
	want := []string{
		`pod "p": spec.nodeSelector has no effect (scheduling: the pod runs on this host)`,
		`pod "p": spec.tolerations has no effect (scheduling: the pod runs on this host)`,
		`pod "p": spec.affinity has no effect (scheduling: the pod runs on this host)`,
		`pod "p": spec.automountServiceAccountToken: false has no effect (there is no API server: no token is ever mounted)`,
		`pod "p": spec.containers[0].terminationMessagePolicy: FallbackToLogsOnError has no effect (no termination message is read from a file)`,
		`pod "p": images are ignored, podvisor runs host programs: busybox (init container i), registry.example/app:1.0 (container a); so are imagePullSecrets and imagePullPolicy`,
	}
	if !reflect.DeepEqual(r.Notices, want) {
		t.Errorf("notices:\n%s\nwant:\n%s", strings.Join(r.Notices, "\n"), strings.Join(want, "\n"))
	}
}

func TestIgnoreUnsupported(t *testing.T) {
	src := podSpec(`{runtimeClassName: gvisor, os: {name: windows}, volumes: [{name: data, persistentVolumeClaim: {claimName: pvc}}, {name: cfg, configMap: {name: c, items: [{key: a, path: a, user: 5}]}}],
		securityContext: {seLinuxOptions: {level: "s0:c123,c456"}, sysctls: [{name: vm.swappiness, value: "10"}]},
		containers: [{name: a, command: [x], resources: {limits: {nvidia.com/gpu: 1, cpu: "1"}}, ports: [{containerPort: 80, hostPort: 8080}],
		securityContext: {procMount: Unmasked, appArmorProfile: {type: RuntimeDefault}},
		volumeMounts: [{name: data, mountPath: /data, mountPropagation: Bidirectional}]}]}`) + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {a: "1"}
`
	lines := loadErr(t, src)
	want := []string{
		"document 1: spec.volumes[0].persistentVolumeClaim",
		"document 1: spec.volumes[1].configMap.items[0].user",
		"document 1: spec.securityContext.seLinuxOptions",
		"document 1: spec.runtimeClassName",
		"document 1: spec.os.name",
		"document 1: spec.securityContext.sysctls[0].name",
		"document 1: spec.containers[0].resources.limits[nvidia.com/gpu]",
		"document 1: spec.containers[0].volumeMounts[0].mountPropagation",
		"document 1: spec.containers[0].securityContext.procMount",
		"document 1: spec.containers[0].securityContext.appArmorProfile.type",
	}
	got := fields(lines)
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("no error at %s in\n%s", w, strings.Join(lines, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(got), len(want), strings.Join(lines, "\n"))
	}
	r := load(t, src, ignoreUnsupported)
	if len(r.Warnings) != len(want) {
		t.Errorf("%d warnings, want %d:\n%s", len(r.Warnings), len(want), strings.Join(r.Warnings, "\n"))
	}
	p := r.Pods[0]
	if p.Spec.Volumes[0].EmptyDir == nil || p.Spec.Processes[0].Resources.Limits.CPU == nil || len(p.Spec.SecurityContext.Sysctls) != 0 {
		t.Errorf("%+v", p.Spec)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "spec.volumes[0].persistentVolumeClaim: not supported on a single host: PersistentVolumeClaims are bound by a cluster; use hostPath or emptyDir; an empty directory stands in for the volume (--ignore-unsupported)") {
		t.Errorf("%s", strings.Join(r.Warnings, "\n"))
	}
}

func TestIsKubernetes(t *testing.T) {
	cases := []struct {
		src  string
		want bool
	}{
		{"apiVersion: v1\nkind: Pod\n", true},
		{"apiVersion: podvisor/v1\nkind: Pod\n", false},
		{"apiVersion: podvisor/v1\nkind: Pod\n---\napiVersion: apps/v1\nkind: Deployment\n", true},
		{`{"apiVersion": "batch/v1", "kind": "Job"}`, true},
		{"kind: Pod\n", false},
		{"not: [valid", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := IsKubernetes([]byte(tc.src)); got != tc.want {
			t.Errorf("IsKubernetes(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func TestSuspendedJobWarning(t *testing.T) {
	r := load(t, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  suspend: true\n  template:\n    spec: {restartPolicy: Never, containers: [{name: a, command: [x]}]}\n", ignoreUnsupported)
	if len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], `pod "j": spec.suspend: a suspended Job runs no pod`) {
		t.Errorf("%q", r.Warnings)
	}
}

// TestIsKubernetesHalfWritten: a document that means to be a Kubernetes
// object, though its apiVersion or kind is missing, goes to Load, which
// names what is missing, not to the podvisor/v1 reader.
func TestIsKubernetesHalfWritten(t *testing.T) {
	cases := []struct {
		src  string
		want bool
	}{
		{"apiVersion: v1\nmetadata: {name: p}\n", true},
		{"kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, command: [x]}]}\n", true},
		{"metadata: {name: p}\nspec: {containers: [{name: a, command: [x]}]}\n", true},
		{"metadata: {name: p}\nspec: {initContainers: [{name: a, command: [x]}]}\n", true},
		{"kind: Deployment\nmetadata: {name: d}\nspec: {template: {}}\n", true},
		{"kind: Deployment\nmetadata: {name: d}\n", true},
		{"apiVersion: apps/v1\nkind: Deploymnet\n", true},
		{"apiVersion: v1\nkind: pod\n", true},
		// podvisor/v1, or what means to be.
		{"kind: Pod\nmetadata: {name: p}\nspec: {processes: [{name: a, command: [x]}]}\n", false},
		{"metadata: {name: p}\nspec: {processes: [{name: a, command: [x]}]}\n", false},
		{"apiVersion: podvisor/v1\nkind: Pod\nspec: {containers: []}\n", false},
		{"apiVersion: podvisor/v1\nkind: Deployment\n", false},
		{"kind: Pod\n", false},
		{"metadata: {name: p}\n", false},
		{"[a, b]\n", false},
	}
	for _, tc := range cases {
		if got := IsKubernetes([]byte(tc.src)); got != tc.want {
			t.Errorf("IsKubernetes(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

// TestSuggestKind: near misses of the kinds Load reads get a "did you
// mean"; the real kinds of the same API groups do not.
func TestSuggestKind(t *testing.T) {
	for kind, want := range map[string]string{"pod": "Pod", "POD": "Pod", "Pods": "Pod", "Deploymnet": "Deployment", "deployment": "Deployment", "Statefulset": "StatefulSet", "Daemonset": "DaemonSet", "Confgmap": "ConfigMap", "Secrets": "Secret", "Jobs": "Job", "podlist": "PodList"} {
		if got := suggestKind(kind, ""); got != want {
			t.Errorf("suggestKind(%q) = %q, want %q", kind, got, want)
		}
	}
	real := []string{"Service", "Namespace", "Node", "Event", "Endpoints", "ServiceAccount", "Binding", "LimitRange", "ResourceQuota",
		"PersistentVolume", "PersistentVolumeClaim", "ReplicationController", "PodTemplate", "ComponentStatus", "ControllerRevision", "CronJob",
		"Ingress", "Role", "Lease", "NetworkPolicy", "PodDisruptionBudget", "Eviction", "StorageClass", "RoleBinding", "PriorityClass"}
	for _, k := range real {
		if got := suggestKind(k, ""); got != "" {
			t.Errorf("suggestKind(%q) = %q, want none: it is a kind of its own", k, got)
		}
	}
	if got := suggestKind("Deploymnet", "example.com/v1"); got != "" {
		t.Errorf("a kind of another group got a suggestion: %q", got)
	}
	// Such a kind is skipped, as any kind podvisor does not run.
	r := load(t, "apiVersion: example.com/v1\nkind: Pods\nmetadata: {name: x}\n---\n"+podSpec(`{containers: [{name: a, command: [x]}]}`))
	if !strings.Contains(strings.Join(r.Notices, "\n"), `skipped Pods "x"`) {
		t.Errorf("notices %q", r.Notices)
	}
}

// TestPodPidsLimit: a pod-level pids limit is podvisor's pod limit.
func TestPodPidsLimit(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want int64
	}{{"100", 100}, {`"64"`, 64}, {"1k", 1000}, {"2000m", 2}} {
		p := onePod(t, podSpec(`{resources: {limits: {cpu: "1", pids: `+tc.q+`}}, containers: [{name: a, command: [x]}]}`))
		l := p.Spec.Resources.Limits
		if l.Pids == nil || *l.Pids != tc.want || !eqQ(l.CPU, "1") {
			t.Errorf("pids %s: limits %+v", tc.q, l)
		}
	}
	// A workload's template too.
	r := load(t, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec: {restartPolicy: Never, resources: {limits: {pids: 32}}, containers: [{name: a, command: [x]}]}\n")
	if l := r.Pods[0].Spec.Resources.Limits; l.Pids == nil || *l.Pids != 32 {
		t.Errorf("Job: limits %+v", l)
	}
}

// TestHostNetworkHostname: a hostNetwork pod has the host's name, as
// kubelet gives it, unless spec.hostname sets one.
func TestHostNetworkHostname(t *testing.T) {
	const app = `{name: a, command: [x]}`
	cases := []struct {
		name, spec, node, want, notice string
	}{
		{"hostNetwork", `{hostNetwork: true, containers: [` + app + `]}`, "node1", "node1", ""},
		{"lowercased", `{hostNetwork: true, containers: [` + app + `]}`, "Build-Host.Example.COM", "build-host.example.com", ""},
		{"spec.hostname wins", `{hostNetwork: true, hostname: web-0, containers: [` + app + `]}`, "node1", "web-0", ""},
		{"without hostNetwork", `{containers: [` + app + `]}`, "node1", "p", ""},
		{"not a host name", `{hostNetwork: true, containers: [` + app + `]}`, "my_host", "p",
			`pod "p": spec.hostNetwork: the host's name "my_host" is not a pod's host name: lowercase RFC 1123 labels joined by dots, at most 63 characters; the pod's host name is "p", as without hostNetwork`},
		{"too long", `{hostNetwork: true, containers: [` + app + `]}`, strings.Repeat("h", 64), "p", "is not a pod's host name"},
		{"unknown", `{hostNetwork: true, containers: [` + app + `]}`, "", "p", `pod "p": spec.hostNetwork: the host's name is unknown; the pod's host name is "p", as without hostNetwork`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := load(t, podSpec(tc.spec), func(o *Options) { o.NodeName = tc.node })
			if got := r.Pods[0].Spec.Hostname; got != tc.want {
				t.Errorf("hostname %q, want %q", got, tc.want)
			}
			notices := strings.Join(r.Notices, "\n")
			if tc.notice == "" && strings.Contains(notices, "hostNetwork") || tc.notice != "" && !strings.Contains(notices, tc.notice) {
				t.Errorf("notices:\n%s\nwant one with %q", notices, tc.notice)
			}
		})
	}
}

// A node agent's Pod: named by podvisor.io/name, its metadata.name kept for
// the downward API and the host name, its uid and spec.nodeName kept.
func TestNodeAgentPod(t *testing.T) {
	p := onePod(t, `apiVersion: v1
kind: Pod
metadata:
  name: web-7d4b9
  namespace: shop
  uid: 6a1f0c2e-1111-4222-8333-444455556666
  annotations: {podvisor.io/name: shop.web-7d4b9, podvisor.io/node: node-a, team: blue}
spec:
  nodeName: node-a
  containers:
  - name: a
    command: [x]
    env:
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
    - {name: TEAM, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['team']"}}}
    - {name: MARK, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['podvisor.io/node']"}}}
`)
	if p.Metadata.Name != "shop.web-7d4b9" || p.Metadata.Namespace != "shop" || p.Metadata.UID != "6a1f0c2e-1111-4222-8333-444455556666" {
		t.Errorf("metadata %+v", p.Metadata)
	}
	if p.Spec.Hostname != "web-7d4b9" {
		t.Errorf("hostname %q, want the Kubernetes name", p.Spec.Hostname)
	}
	env := map[string]string{}
	for _, e := range p.Spec.Processes[0].Env {
		env[e.Name] = e.Value
	}
	if env["NAME"] != "web-7d4b9" || env["NODE"] != "node-a" || env["UID"] != "6a1f0c2e-1111-4222-8333-444455556666" || env["TEAM"] != "blue" || env["MARK"] != "" {
		t.Errorf("env %v", env)
	}
	var kp corev1.Pod
	if err := json.Unmarshal(p.Kubernetes, &kp); err != nil || kp.Name != "web-7d4b9" {
		t.Errorf("kubernetes object name %q (%v)", kp.Name, err)
	}
	// A bad name is refused at the annotation.
	errs := loadErr(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: w, annotations: {podvisor.io/name: Bad_Name}}\nspec: {containers: [{name: a, command: [x]}]}\n")
	if len(errs) == 0 || !strings.Contains(errs[0], "metadata.annotations[podvisor.io/name]") {
		t.Errorf("errors %q", errs)
	}
}

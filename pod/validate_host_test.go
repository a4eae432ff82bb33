package pod_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// TestLoadHostViewInvalid: each bad volume, mount, DNS, namespace or
// security field is refused with its path, alone.
func TestLoadHostViewInvalid(t *testing.T) {
	vol := func(v string) string {
		return withSpec("  volumes: [" + v + "]\n  processes: [{name: a, command: [x]}]\n")
	}
	mount := func(m string) string {
		return withSpec("  volumes: [{name: data, emptyDir: {}}]\n  processes: [{name: a, command: [x], volumeMounts: [" + m + "]}]\n")
	}
	sc := func(c string) string {
		return withSpec("  processes: [{name: a, command: [x], securityContext: " + c + "}]\n")
	}
	psc := func(c string) string {
		return withSpec("  securityContext: " + c + "\n  processes: [{name: a, command: [x]}]\n")
	}
	tests := []struct{ name, doc, want string }{
		{"volume without source", vol("{name: v}"), "spec.volumes[0]: must set one volume source: emptyDir, hostPath or files"},
		{"volume with two sources", vol("{name: v, emptyDir: {}, hostPath: {path: /x}}"), "spec.volumes[0]: must set one volume source, got emptyDir and hostPath"},
		{"bad volume name", vol("{name: V_1, emptyDir: {}}"), `spec.volumes[0].name: "V_1" is not a lowercase RFC 1123 label`},
		{"duplicate volume", withSpec("  volumes: [{name: v, emptyDir: {}}, {name: v, emptyDir: {}}]\n  processes: [{name: a, command: [x]}]\n"), `spec.volumes[1].name: duplicate name "v"`},
		{"relative hostPath", vol("{name: v, hostPath: {path: data}}"), `spec.volumes[0].hostPath.path: must be an absolute path, got "data"`},
		{"bad hostPath type", vol("{name: v, hostPath: {path: /x, type: Dir}}"), `spec.volumes[0].hostPath.type: unsupported value "Dir": must be DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice or BlockDevice`},
		{"bad medium", vol("{name: v, emptyDir: {medium: Disk}}"), `spec.volumes[0].emptyDir.medium: unsupported value "Disk": must be "" or Memory`},
		{"zero sizeLimit", vol("{name: v, emptyDir: {sizeLimit: 0}}"), `spec.volumes[0].emptyDir.sizeLimit: must be positive, got "0"`},
		{"file path escapes", vol("{name: v, files: {items: [{path: ../x, binaryData: eA==}]}}"), `spec.volumes[0].files.items[0].path: must not contain '..', got "../x"`},
		{"absolute file path", vol("{name: v, files: {items: [{path: /x, binaryData: eA==}]}}"), `spec.volumes[0].files.items[0].path: must be a relative path, got "/x"`},
		{"bad file mode", vol("{name: v, files: {items: [{path: x, binaryData: eA==, mode: 4096}]}}"), `spec.volumes[0].files.items[0].mode: must be between 0 and 0777 (511), got 4096`},
		{"file and directory", vol("{name: v, files: {items: [{path: a, binaryData: eA==}, {path: a/b, binaryData: eA==}]}}"), `spec.volumes[0].files.items: "a" is both a file and a directory`},
		{"mount of no volume", mount("{name: nope, mountPath: /data}"), `spec.processes[0].volumeMounts[0].name: no volume named "nope" in spec.volumes`},
		{"relative mountPath", mount("{name: data, mountPath: data}"), `spec.processes[0].volumeMounts[0].mountPath: must be an absolute path, got "data"`},
		{"mount on /", mount("{name: data, mountPath: /}"), `spec.processes[0].volumeMounts[0].mountPath: must not be /`},
		{"mounted twice", mount("{name: data, mountPath: /d}, {name: data, mountPath: /d/}"), `spec.processes[0].volumeMounts[1].mountPath: "/d/" is mounted twice`},
		{"subPath with ..", mount("{name: data, mountPath: /d, subPath: a/../../etc}"), `spec.processes[0].volumeMounts[0].subPath: must not contain '..', got "a/../../etc"`},
		{"absolute subPath", mount("{name: data, mountPath: /d, subPath: /etc}"), `spec.processes[0].volumeMounts[0].subPath: must be a relative path, got "/etc"`},
		{"subPath and subPathExpr", mount("{name: data, mountPath: /d, subPath: a, subPathExpr: b}"), `spec.processes[0].volumeMounts[0].subPathExpr: may not be set together with subPath`},
		{"bad host alias ip", withSpec("  hostAliases: [{ip: x, hostnames: [a]}]\n  processes: [{name: a, command: [x]}]\n"), `spec.hostAliases[0].ip: must be an IP address, got "x"`},
		{"dnsPolicy None without servers", withSpec("  dnsPolicy: None\n  processes: [{name: a, command: [x]}]\n"), `spec.dnsConfig.nameservers: required: at least one nameserver with dnsPolicy None`},
		{"bad dnsPolicy", withSpec("  dnsPolicy: Cluster\n  processes: [{name: a, command: [x]}]\n"), `spec.dnsPolicy: unsupported value "Cluster": must be Default, ClusterFirst, ClusterFirstWithHostNet or None`},
		{"bad nameserver", withSpec("  dnsConfig: {nameservers: [dns.example]}\n  processes: [{name: a, command: [x]}]\n"), `spec.dnsConfig.nameservers[0]: must be an IP address, got "dns.example"`},
		{"hostPID with shared pid ns", withSpec("  hostPID: true\n  shareProcessNamespace: true\n  processes: [{name: a, command: [x]}]\n"), `spec.shareProcessNamespace: may not be set together with hostPID`},
		{"zero deadline", withSpec("  activeDeadlineSeconds: 0\n  processes: [{name: a, command: [x]}]\n"), `spec.activeDeadlineSeconds: must be at least 1, got 0`},
		{"unknown capability", sc("{capabilities: {add: [NET_FOO]}}"), `spec.processes[0].securityContext.capabilities.add[0]: unknown capability "NET_FOO"`},
		{"negative uid", sc("{runAsUser: -1}"), `spec.processes[0].securityContext.runAsUser: must be between 0 and 4294967294, got -1`},
		{"privileged without escalation", sc("{privileged: true, allowPrivilegeEscalation: false}"), `spec.processes[0].securityContext.allowPrivilegeEscalation: may not be false with privileged`},
		{"unmasked proc", sc("{procMount: Unmasked}"), `spec.processes[0].securityContext.procMount: Unmasked is not supported: a process sees the /proc of its PID namespace as it is`},
		{"localhost seccomp", sc("{seccompProfile: {type: Localhost, localhostProfile: my.json}}"), `spec.processes[0].securityContext.seccompProfile.type: Localhost is not supported: podvisor applies RuntimeDefault (the container runtimes' default filter) or Unconfined`},
		{"bad seccomp type", sc("{seccompProfile: {type: Strict}}"), `spec.processes[0].securityContext.seccompProfile.type: unsupported value "Strict": must be Unconfined, RuntimeDefault or Localhost`},
		{"host sysctl", psc("{sysctls: [{name: vm.swappiness, value: '1'}]}"), `spec.securityContext.sysctls[0].name: "vm.swappiness" is not a namespaced sysctl: only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set for one pod`},
		{"net sysctl on host network", withSpec("  network: host\n  securityContext: {sysctls: [{name: net.ipv4.ip_forward, value: '1'}]}\n  processes: [{name: a, command: [x]}]\n"), `spec.securityContext.sysctls[0].name: "net.ipv4.ip_forward" needs a network namespace of the pod's own (not hostNetwork)`},
		{"request above limit", oneProcess("    resources: {limits: {memory: 64Mi}, requests: {memory: 128Mi}}\n"), `spec.processes[0].resources.requests.memory: must be less than or equal to the memory limit (64Mi), got "128Mi"`},
		{"bad namespace", withSpec("  processes: [{name: a, command: [x]}]\n") + "", ""},
	}
	tests[len(tests)-1].doc = strings.Replace(tests[len(tests)-1].doc, "{name: web}", "{name: web, namespace: Prod}", 1)
	tests[len(tests)-1].want = `metadata.namespace: "Prod" is not a lowercase RFC 1123 label`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pod.Load([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Load succeeded, want %s\n%s", tt.want, tt.doc)
			}
			if !errors.Is(err, pod.ErrInvalid) {
				t.Errorf("not ErrInvalid: %v", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestLoadHostViewValid: the new fields in the shapes users write.
func TestLoadHostViewValid(t *testing.T) {
	doc := withSpec(`  subdomain: api
  hostAliases: [{ip: 10.1.2.3, hostnames: [db.local, db]}]
  dnsPolicy: None
  dnsConfig: {nameservers: [1.1.1.1, "2606:4700::1111"], searches: [example.com], options: [{name: ndots, value: "2"}, {name: edns0}]}
  shareProcessNamespace: true
  activeDeadlineSeconds: 60
  securityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, supplementalGroups: [3000], sysctls: [{name: net.ipv4.ping_group_range, value: "0 2147483647"}, {name: kernel.shm_rmid_forced, value: "1"}], seccompProfile: {type: RuntimeDefault}}
  resources: {limits: {memory: 1Gi}, requests: {cpu: 250m}}
  volumes:
  - {name: cache, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
  - {name: logs, hostPath: {path: /var/log, type: Directory}}
  - {name: conf, files: {items: [{path: app/config.yaml, binaryData: a2V5OiB2YWx1ZQ==, mode: 0400}, {path: app/motd, data: hello}]}}
  processes:
  - name: a
    command: [x]
    stdin: true
    tty: true
    volumeMounts: [{name: cache, mountPath: /cache}, {name: logs, mountPath: /host/log, readOnly: true}, {name: conf, mountPath: /etc/app, subPath: app}, {name: cache, mountPath: /per, subPathExpr: $(POD_NAME)}]
    securityContext: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, cap_chown]}, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, procMount: Default, seccompProfile: {type: Unconfined}}
    resources: {limits: {cpu: "1", memory: 256Mi, ephemeral-storage: 1Gi}, requests: {cpu: 500m, memory: 128Mi, ephemeral-storage: 512Mi}}
`)
	p, err := pod.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !*p.Spec.PrivateTmp {
		t.Error("privateTmp is not on by default")
	}
	if got := string(p.Spec.Volumes[2].Files.Items[0].BinaryData); got != "key: value" {
		t.Errorf("files data = %q", got)
	}
	if *p.Spec.Volumes[2].Files.Items[0].Mode != 0o400 {
		t.Errorf("mode = %o", *p.Spec.Volumes[2].Files.Items[0].Mode)
	}
}

func TestCapabilityNumbers(t *testing.T) {
	for name, want := range map[string]int{"CHOWN": 0, "cap_net_admin": 12, "CAP_SYS_ADMIN": 21, "CHECKPOINT_RESTORE": 40} {
		if n, ok := pod.CapabilityNumber(name); !ok || n != want {
			t.Errorf("CapabilityNumber(%q) = %d, %v; want %d", name, n, ok, want)
		}
	}
	for _, c := range pod.DefaultCapabilities {
		if n, ok := pod.CapabilityNumber(c); !ok || pod.CapabilityName(n) != c {
			t.Errorf("default capability %s does not round-trip", c)
		}
	}
}

func TestDefaultHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + ".b" + strings.Repeat("c", 20)
	for name, want := range map[string]string{"web": "web", "web.example": "web.example", long: strings.Repeat("a", 62)} {
		if got := pod.DefaultHostname(name); got != want {
			t.Errorf("DefaultHostname(%q) = %q, want %q", name, got, want)
		}
	}
}

// A pod as podvisor stores it keeps the Kubernetes object it came from,
// which a pod file may not set.
func TestStoredKeepsKubernetes(t *testing.T) {
	p, err := pod.Load([]byte(oneProcess("")))
	if err != nil {
		t.Fatal(err)
	}
	p.Kubernetes = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}`)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pod.Load(b); err == nil || !strings.Contains(err.Error(), "kubernetes: set by podvisor") {
		t.Errorf("a pod file with kubernetes: %v", err)
	}
	for name, load := range map[string]func([]byte) (*pod.Pod, error){"LoadStored": pod.LoadStored, "DecodeStored": pod.DecodeStored} {
		q, err := load(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(q.Kubernetes) != string(p.Kubernetes) || q.Metadata.Name != "web" {
			t.Errorf("%s: %+v", name, q)
		}
	}
}

func TestQOSClass(t *testing.T) {
	q := func(s string) *pod.Quantity { v, _ := pod.ParseQuantity(s); return &v }
	proc := func(r pod.Resources) pod.Process { return pod.Process{Name: "a", Command: []string{"x"}, Resources: r} }
	for _, tc := range []struct {
		want string
		spec pod.Spec
	}{
		{pod.QOSBestEffort, pod.Spec{Processes: []pod.Process{proc(pod.Resources{})}}},
		{pod.QOSGuaranteed, pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: pod.Limits{CPU: q("1"), Memory: q("1Gi")}})}}},
		{pod.QOSGuaranteed, pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: pod.Limits{CPU: q("1"), Memory: q("1Gi")}, Requests: pod.Requests{CPU: q("1000m"), Memory: q("1Gi")}})}}},
		{pod.QOSBurstable, pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: pod.Limits{CPU: q("1"), Memory: q("1Gi")}, Requests: pod.Requests{CPU: q("500m")}})}}},
		{pod.QOSBurstable, pod.Spec{Processes: []pod.Process{proc(pod.Resources{Requests: pod.Requests{Memory: q("64Mi")}})}}},
		{pod.QOSBurstable, pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: pod.Limits{CPU: q("1"), Memory: q("1Gi")}}), proc(pod.Resources{})}}},
		{pod.QOSGuaranteed, pod.Spec{Resources: pod.Resources{Limits: pod.Limits{CPU: q("2"), Memory: q("2Gi")}}, Processes: []pod.Process{proc(pod.Resources{})}}},
	} {
		if got := pod.QOSClass(&tc.spec); got != tc.want {
			t.Errorf("QOSClass(%+v) = %s, want %s", tc.spec.Processes, got, tc.want)
		}
	}
}

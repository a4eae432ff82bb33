package kube

import (
	"strings"
	"testing"
)

// TestBadInput: each manifest is refused, with a problem at the field.
func TestBadInput(t *testing.T) {
	const app = `{name: app, command: [run]}`
	cases := []struct {
		name, src, field, detail string
	}{
		// Decoding.
		{"unknown field, did you mean", podSpec(`{containers: [{name: a, comand: [x]}]}`), "spec.containers[0].comand", `unknown field "comand", did you mean "command"? (line 4)`},
		{"unknown field, another case", podSpec(`{hostnetwork: true, containers: [` + app + `]}`), "spec.hostnetwork", `did you mean "hostNetwork"?`},
		{"unknown field, transposed letters", podSpec(`{containers: [{name: a, command: [x], volumeMonuts: []}]}`), "spec.containers[0].volumeMonuts", `did you mean "volumeMounts"?`},
		{"unknown field, far from any", podSpec(`{containers: [{name: a, command: [x], whatever: 1}]}`), "spec.containers[0].whatever", `unknown field "whatever" (line 4)`},
		{"podvisor/v1 vocabulary", podSpec(`{processes: [` + app + `]}`), "spec.processes", `podvisor/v1's "processes" are "containers" in a Kubernetes manifest`},
		{"duplicate key", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, command: [x]}]\n  containers: [{name: b, command: [y]}]\n", "spec.containers", `duplicate key "containers" (line 6)`},
		{"duplicate label", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: x, a: y}}\nspec: {containers: [" + app + "]}\n", "metadata.labels.a", `duplicate key "a"`},
		{"number for a string", podSpec(`{containers: [{name: a, command: [x], env: [{name: PORT, value: 8080}]}]}`), "spec.containers[0].env[0].value", `must be a string, got the number 8080 (quote it: "8080")`},
		{"boolean label value", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {enabled: true}}\nspec: {containers: [" + app + "]}\n", "metadata.labels[enabled]", "must be a string, got the boolean true"},
		{"scalar for a list", podSpec(`{containers: [{name: a, command: run}]}`), "spec.containers[0].command", `must be a list, got "run"`},
		{"string for an integer", podSpec(`{terminationGracePeriodSeconds: "30", containers: [` + app + `]}`), "spec.terminationGracePeriodSeconds", `must be an integer, got "30"`},
		{"int32 out of range", podSpec(`{containers: [{name: a, command: [x], ports: [{containerPort: 4294967296}]}]}`), "spec.containers[0].ports[0].containerPort", "must be an integer between -2147483648 and 2147483647"},
		{"bad quantity", podSpec(`{containers: [{name: a, command: [x], resources: {limits: {memory: lots}}}]}`), "spec.containers[0].resources.limits[memory]", `invalid quantity "lots"`},
		{"bad base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '!!!'}\n---\n" + podSpec(`{containers: [`+app+`]}`), "document 1: data[k]", "invalid base64 data"},
		{"bad time", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, creationTimestamp: yesterday}\nspec: {containers: [" + app + "]}\n", "metadata.creationTimestamp", "invalid time"},
		{"not a mapping", "- a\n- b\n", "", "must be a mapping (a Kubernetes object), got a list"},
		{"YAML syntax", "apiVersion: v1\nkind: Pod\nmetadata: {name: p\n", "", "line"},
		// Objects.
		{"missing kind", "apiVersion: v1\nmetadata: {name: p}\n", "kind", "required (for example Pod)"},
		{"missing kind of apps/v1", "apiVersion: apps/v1\nmetadata: {name: d}\n", "kind", "required (for example Deployment)"},
		{"missing apiVersion", "kind: Pod\nmetadata: {name: p}\n", "apiVersion", "required: v1 for a Pod"},
		{"missing apiVersion, the pod read on", "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx}]}\n", "spec.containers[0].command", "required"},
		{"missing apiVersion of a Deployment", "kind: Deployment\nmetadata: {name: d}\n", "apiVersion", "required: apps/v1 for a Deployment"},
		{"missing apiVersion and kind", "metadata: {name: p}\nspec: {containers: [" + app + "]}\n", "kind", "required (for example Pod)"},
		{"missing apiVersion of a podvisor pod", "kind: Pod\nmetadata: {name: p}\nspec: {processes: [" + app + "]}\n---\n" + podSpec(`{containers: [`+app+`]}`), "document 1: apiVersion", "required: podvisor/v1 for a podvisor pod file"},
		{"kind in the wrong case", "apiVersion: v1\nkind: pod\nmetadata: {name: p}\nspec: {containers: [" + app + "]}\n", "kind", `unsupported value "pod": did you mean "Pod"?`},
		{"kind misspelt", "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d}\n", "kind", `unsupported value "Deploymnet": did you mean "Deployment"?`},
		{"kind misspelt, no apiVersion", "kind: Deploymnet\nmetadata: {name: d}\n", "apiVersion", "required: apps/v1 for a Deployment"},
		{"typed list kind in the wrong case", "apiVersion: v1\nkind: Podlist\nitems: []\n", "kind", `did you mean "PodList"?`},
		{"wrong apiVersion", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n", "apiVersion", `unsupported value "extensions/v1beta1" for kind Deployment: must be "apps/v1"`},
		{"only other kinds", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "", `no pod in the file (it holds Service "web", ConfigMap "c")`},
		{"empty file", "# nothing\n", "", "no pod in the file (it holds nothing)"},
		{"duplicate pod names", podSpec(`{containers: [`+app+`]}`) + "---\n" + podSpec(`{containers: [`+app+`]}`), "document 2: metadata.name", `duplicate pod name "p": document 1 has a pod of that name already`},
		// Pods.
		{"no containers", podSpec(`{containers: []}`), "spec.containers", "required: at least one container"},
		{"no command, an image", podSpec(`{containers: [` + app + `, {name: web, image: nginx}]}`), "spec.containers[1].command", `required: podvisor runs host programs and ignores the image "nginx"`},
		{"no command, no image", podSpec(`{containers: [{name: web}]}`), "spec.containers[0].command", "required: podvisor runs host programs, and the container names neither a command, args nor an image"},
		{"duplicate container names", podSpec(`{initContainers: [{name: a, command: [x]}], containers: [{name: a, command: [y]}]}`), "spec.containers[0].name", `duplicate name "a" (also spec.initContainers[0].name)`},
		{"duplicate container names in containers", podSpec(`{containers: [{name: a, command: [x]}, {name: a, command: [y]}]}`), "spec.containers[1].name", `duplicate name "a" (also spec.containers[0].name)`},
		{"duplicate Secret with no namespace", "apiVersion: v1\nkind: Secret\nmetadata: {name: user}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: user}\n---\n" + podSpec(`{containers: [`+app+`]}`), "document 2: metadata.name", `duplicate Secret "user" with no namespace`},
		{"duplicate Secret in a namespace", "apiVersion: v1\nkind: Secret\nmetadata: {name: user, namespace: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: user, namespace: a}\n---\n" + podSpec(`{containers: [`+app+`]}`), "document 2: metadata.name", `duplicate Secret "user" in namespace "a"`},
		{"bad name", "apiVersion: v1\nkind: Pod\nmetadata: {name: Web_Server}\nspec: {containers: [" + app + "]}\n", "metadata.name", `"Web_Server" is not a lowercase RFC 1123 subdomain`},
		{"no name", "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: [" + app + "]}\n", "metadata.name", "required (or metadata.generateName)"},
		{"bad namespace", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: My.NS}\nspec: {containers: [" + app + "]}\n", "metadata.namespace", `"My.NS" is not a lowercase RFC 1123 label`},
		{"bad volume name", podSpec(`{volumes: [{name: V, emptyDir: {}}], containers: [` + app + `]}`), "spec.volumes[0].name", `"V" is not a lowercase RFC 1123 label`},
		{"bad host name", podSpec(`{hostname: Web, containers: [` + app + `]}`), "spec.hostname", `"Web" is not a lowercase RFC 1123 label`},
		{"bad label", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: -bad}}\nspec: {containers: [" + app + "]}\n", "metadata.labels[app]", `invalid label value "-bad"`},
		{"bad annotation key", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {'a b': x}}\nspec: {containers: [" + app + "]}\n", "metadata.annotations[a b]", "invalid annotation key"},
		{"bad container name", podSpec(`{containers: [{name: Web, command: [x]}]}`), "spec.containers[0].name", `"Web" is not a lowercase RFC 1123 label`},
		{"relative workingDir", podSpec(`{containers: [{name: a, command: [x], workingDir: srv}]}`), "spec.containers[0].workingDir", "must be an absolute path"},
		{"empty program from args", podSpec(`{containers: [{name: a, args: ["", x]}]}`), "spec.containers[0].args[0]", "must not be empty"},
		{"bad env name", podSpec(`{containers: [{name: a, command: [x], env: [{name: "1A", value: x}]}]}`), "spec.containers[0].env[0].name", `invalid environment variable name "1A"`},
		{"value and valueFrom", podSpec(`{containers: [{name: a, command: [x], env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}]}`), "spec.containers[0].env[0].valueFrom", "must not be set when value is not empty"},
		{"bad fieldPath", podSpec(`{containers: [{name: a, command: [x], env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.labels}}}]}]}`), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", `unsupported value "metadata.labels"`},
		{"bad divisor", podSpec(`{containers: [{name: a, command: [x], env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1Mi}}}]}]}`), "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor", `unsupported value "1Mi": must be one of 1m, 1 for cpu`},
		{"resource of no container", podSpec(`{containers: [{name: a, command: [x], env: [{name: A, valueFrom: {resourceFieldRef: {containerName: b, resource: limits.cpu}}}]}]}`), "spec.containers[0].env[0].valueFrom.resourceFieldRef.containerName", `container "b" not found in the pod`},
		{"configmap not found", podSpec(`{containers: [{name: a, command: [x], env: [{name: A, value: a}, {name: B, value: b}, {name: C, valueFrom: {configMapKeyRef: {name: app-config, key: k}}}]}]}`), "spec.containers[0].env[2].valueFrom.configMapKeyRef", `configmap "app-config" not found`},
		{"secret not found", podSpec(`{containers: [{name: a, command: [x], envFrom: [{secretRef: {name: creds}}]}]}`), "spec.containers[0].envFrom[0].secretRef", `secret "creds" not found`},
		{"configmap key not found", podSpec(`{containers: [{name: a, command: [x], env: [{name: C, valueFrom: {configMapKeyRef: {name: app-config, key: nope}}}]}]}`) + dataDocs, "document 1: spec.containers[0].env[0].valueFrom.configMapKeyRef.key", `key "nope" not found in configmap "app-config"`},
		{"binary key in env", podSpec(`{containers: [{name: a, command: [x], env: [{name: C, valueFrom: {configMapKeyRef: {name: app-config, key: logo.png}}}]}]}`) + dataDocs, "document 1: spec.containers[0].env[0].valueFrom.configMapKeyRef.key", "a binaryData key cannot be an environment variable"},
		{"volume item key not found", podSpec(`{volumes: [{name: v, configMap: {name: app-config, items: [{key: nope, path: x}]}}], containers: [`+app+`]}`) + dataDocs, "document 1: spec.volumes[0].configMap.items[0].key", `key "nope" not found in configmap "app-config"`},
		{"volume configmap not found", podSpec(`{volumes: [{name: v, configMap: {name: nope}}], containers: [` + app + `]}`), "spec.volumes[0].configMap", `configmap "nope" not found`},
		{"item path with ..", podSpec(`{volumes: [{name: v, configMap: {name: app-config, items: [{key: port, path: ../x}]}}], containers: [`+app+`]}`) + dataDocs, "document 1: spec.volumes[0].configMap.items[0].path", `must not contain ".."`},
		{"bad mode", podSpec(`{volumes: [{name: v, secret: {secretName: creds, defaultMode: 01000}}], containers: [`+app+`]}`) + dataDocs, "document 1: spec.volumes[0].secret.defaultMode", "must be a number between 0 and 0777"},
		{"two files at one path", podSpec(`{volumes: [{name: v, projected: {sources: [{configMap: {name: app-config, items: [{key: port, path: x}]}}, {secret: {name: creds, items: [{key: username, path: x}]}}]}}], containers: [`+app+`]}`) + dataDocs, "document 1: spec.volumes[0].projected.sources[1].secret.items[0]", `two files at path "x"`},
		{"volumeMount of no volume", podSpec(`{containers: [{name: a, command: [x], volumeMounts: [{name: data, mountPath: /data}]}]}`), "spec.containers[0].volumeMounts[0].name", `no volume named "data" in spec.volumes`},
		{"subPath with ..", podSpec(`{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: /v, subPath: ../etc}]}]}`), "spec.containers[0].volumeMounts[0].subPath", `must not contain ".."`},
		{"absolute subPath", podSpec(`{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: /v, subPath: /etc}]}]}`), "spec.containers[0].volumeMounts[0].subPath", "must be a relative path"},
		{"subPath and subPathExpr", podSpec(`{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: /v, subPath: a, subPathExpr: b}]}]}`), "spec.containers[0].volumeMounts[0].subPathExpr", "mutually exclusive"},
		{"relative mountPath", podSpec(`{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: data}]}]}`), "spec.containers[0].volumeMounts[0].mountPath", "must be an absolute path"},
		{"mountPath twice", podSpec(`{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: /v}, {name: v, mountPath: /v/}]}]}`), "spec.containers[0].volumeMounts[1].mountPath", "must be unique in the container"},
		{"relative hostPath", podSpec(`{volumes: [{name: v, hostPath: {path: var/log}}], containers: [` + app + `]}`), "spec.volumes[0].hostPath.path", "must be an absolute path"},
		{"hostPath with ..", podSpec(`{volumes: [{name: v, hostPath: {path: /var/../etc}}], containers: [` + app + `]}`), "spec.volumes[0].hostPath.path", `must not contain ".."`},
		{"bad hostPath type", podSpec(`{volumes: [{name: v, hostPath: {path: /x, type: Dir}}], containers: [` + app + `]}`), "spec.volumes[0].hostPath.type", `unsupported value "Dir"`},
		{"two volume sources", podSpec(`{volumes: [{name: v, emptyDir: {}, hostPath: {path: /x}}], containers: [` + app + `]}`), "spec.volumes[0]", "must have exactly one volume source, got hostPath and emptyDir"},
		{"duplicate volume", podSpec(`{volumes: [{name: v, emptyDir: {}}, {name: v, emptyDir: {}}], containers: [` + app + `]}`), "spec.volumes[1].name", `duplicate volume name "v"`},
		{"request above limit", podSpec(`{containers: [{name: a, command: [x], resources: {limits: {cpu: 500m}, requests: {cpu: "1"}}}]}`), "spec.containers[0].resources.requests[cpu]", "must be less than or equal to cpu limit of 500m"},
		{"negative request", podSpec(`{containers: [{name: a, command: [x], resources: {requests: {memory: -1Mi}}}]}`), "spec.containers[0].resources.requests[memory]", "must be greater than or equal to 0"},
		{"memory limit too small", podSpec(`{containers: [{name: a, command: [x], resources: {limits: {memory: 128m}}}]}`), "spec.containers[0].resources.limits[memory]", "must be at least 1Mi"},
		{"probe on an init container", podSpec(`{initContainers: [{name: i, command: [x], livenessProbe: {exec: {command: [y]}}}], containers: [` + app + `]}`), "spec.initContainers[0].livenessProbe", "not allowed on an init process that is not a sidecar"},
		{"undeclared named port", podSpec(`{containers: [{name: a, command: [x], readinessProbe: {httpGet: {port: http}}}]}`), "spec.containers[0].readinessProbe.httpGet.port", `named port "http" is not declared`},
		{"unknown capability", podSpec(`{containers: [{name: a, command: [x], securityContext: {capabilities: {add: [NET_FLY]}}}]}`), "spec.containers[0].securityContext.capabilities.add[0]", `unknown capability "NET_FLY"`},
		{"bad restart policy", podSpec(`{restartPolicy: always, containers: [` + app + `]}`), "spec.restartPolicy", `unsupported value "always"`},
		{"bad stop signal", podSpec(`{containers: [{name: a, command: [x], lifecycle: {stopSignal: SIGNOPE}}]}`), "spec.containers[0].lifecycle.stopSignal", `unknown signal "SIGNOPE"`},
		{"hostPID with shareProcessNamespace", podSpec(`{hostPID: true, shareProcessNamespace: true, containers: [` + app + `]}`), "spec.shareProcessNamespace", "not with hostPID"},
		{"dnsPolicy None without nameservers", podSpec(`{dnsPolicy: None, containers: [` + app + `]}`), "spec.dnsConfig.nameservers", "required with dnsPolicy None"},
		{"hostPort with hostNetwork must equal", podSpec(`{hostNetwork: true, containers: [{name: a, command: [x], ports: [{containerPort: 80, hostPort: 8080}]}]}`), "spec.containers[0].ports[0].hostPort", "must equal containerPort (80) with hostNetwork"},
		{"bad deadline", podSpec(`{activeDeadlineSeconds: 0, containers: [` + app + `]}`), "spec.activeDeadlineSeconds", "must be at least 1"},
		{"seccomp Localhost", podSpec(`{securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/audit.json}}, containers: [` + app + `]}`), "spec.securityContext.seccompProfile.type", "Localhost is not supported"},
		{"seccomp profile without Localhost", podSpec(`{securityContext: {seccompProfile: {type: RuntimeDefault, localhostProfile: x.json}}, containers: [` + app + `]}`), "spec.securityContext.seccompProfile.localhostProfile", "only with type Localhost"},
		// Refused fields.
		{"persistentVolumeClaim", podSpec(`{volumes: [{name: v, persistentVolumeClaim: {claimName: c}}], containers: [` + app + `]}`), "spec.volumes[0].persistentVolumeClaim", "not supported on a single host"},
		{"ephemeralContainers", podSpec(`{ephemeralContainers: [{name: debug, image: busybox}], containers: [` + app + `]}`), "spec.ephemeralContainers", "ephemeral containers are added to a running pod"},
		{"extended resource", podSpec(`{containers: [{name: a, command: [x], resources: {limits: {nvidia.com/gpu: 1}}}]}`), "spec.containers[0].resources.limits[nvidia.com/gpu]", "extended resources are not supported"},
		{"huge pages", podSpec(`{containers: [{name: a, command: [x], resources: {limits: {hugepages-2Mi: 1Gi}}}]}`), "spec.containers[0].resources.limits[hugepages-2Mi]", "huge pages are not supported"},
		{"pids is no container resource", podSpec(`{containers: [{name: a, command: [x], resources: {limits: {pids: 100}}}]}`), "spec.containers[0].resources.limits[pids]", "pids is not a container resource: podvisor's pids limit is the pod's, under spec.resources.limits"},
		{"pids of a workload's container", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: a, command: [x], resources: {limits: {pids: 100}}}]}\n", "spec.template.spec.containers[0].resources.limits[pids]", "under spec.template.spec.resources.limits"},
		{"pod pids a fraction", podSpec(`{resources: {limits: {pids: 1.5}}, containers: [` + app + `]}`), "spec.resources.limits[pids]", "must be a whole number of processes, at least 1, got 1500m"},
		{"pod pids in milli", podSpec(`{resources: {limits: {pids: 500m}}, containers: [` + app + `]}`), "spec.resources.limits[pids]", "must be a whole number of processes, at least 1, got 500m"},
		{"pod pids too large", podSpec(`{resources: {limits: {pids: 1e30}}, containers: [` + app + `]}`), "spec.resources.limits[pids]", "must be a whole number of processes, at least 1, got 1e30"},
		{"pod pids zero", podSpec(`{resources: {limits: {pids: 0}}, containers: [` + app + `]}`), "spec.resources.limits[pids]", "must be a whole number of processes, at least 1, got 0"},
		{"pod pids negative", podSpec(`{resources: {limits: {pids: -1}}, containers: [` + app + `]}`), "spec.resources.limits[pids]", "must be greater than or equal to 0"},
		{"pod pids request", podSpec(`{resources: {requests: {pids: 10}}, containers: [` + app + `]}`), "spec.resources.requests[pids]", "pids is a limit only"},
		{"pod ephemeral-storage", podSpec(`{resources: {limits: {ephemeral-storage: 1Gi}}, containers: [` + app + `]}`), "spec.resources.limits[ephemeral-storage]", "not a pod-level resource: set it per container"},
		{"pod-level unknown resource", podSpec(`{resources: {limits: {pods: 1}}, containers: [` + app + `]}`), "spec.resources.limits[pods]", `"pods" is not a pod-level resource: podvisor limits the pod's cpu, memory and pids`},
		{"pods is no container resource", podSpec(`{containers: [{name: a, command: [x], resources: {requests: {pods: 1}}}]}`), "spec.containers[0].resources.requests[pods]", `"pods" is not a container resource`},
		{"os windows", podSpec(`{os: {name: windows}, containers: [` + app + `]}`), "spec.os.name", `unsupported value "windows": podvisor runs Linux processes`},
		{"hostUsers false", podSpec(`{hostUsers: false, containers: [` + app + `]}`), "spec.hostUsers", "false is not supported"},
		{"emptyDir mode", podSpec(`{volumes: [{name: v, emptyDir: {mode: 0700}}], containers: [` + app + `]}`), "spec.volumes[0].emptyDir.mode", "an emptyDir's mode other than 0777 is not supported, got 0700"},
		{"non-namespaced sysctl", podSpec(`{securityContext: {sysctls: [{name: vm.swappiness, value: "10"}]}, containers: [` + app + `]}`), "spec.securityContext.sysctls[0].name", `"vm.swappiness" is not a namespaced sysctl`},
		{"net sysctl with hostNetwork", podSpec(`{hostNetwork: true, securityContext: {sysctls: [{name: net.core.somaxconn, value: "1024"}]}, containers: [` + app + `]}`), "spec.securityContext.sysctls[0].name", "would change the host's network namespace"},
		{"Bidirectional propagation", podSpec(`{volumes: [{name: v, hostPath: {path: /mnt}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: /mnt, mountPropagation: Bidirectional}]}]}`), "spec.containers[0].volumeMounts[0].mountPropagation", "no mount propagates from a pod to the host"},
		{"recursiveReadOnly Enabled", podSpec(`{volumes: [{name: v, hostPath: {path: /mnt}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: /mnt, readOnly: true, recursiveReadOnly: Enabled}]}]}`), "spec.containers[0].volumeMounts[0].recursiveReadOnly", "Enabled is not supported"},
		{"recursiveReadOnly without readOnly", podSpec(`{volumes: [{name: v, hostPath: {path: /mnt}}], containers: [{name: a, command: [x], volumeMounts: [{name: v, mountPath: /mnt, recursiveReadOnly: IfPossible}]}]}`), "spec.containers[0].volumeMounts[0].recursiveReadOnly", "IfPossible needs readOnly: true"},
		{"hostIP without hostPort", podSpec(`{containers: [{name: a, command: [x], ports: [{containerPort: 80, hostIP: 127.0.0.1}]}]}`), "spec.containers[0].ports[0].hostIP", "only with hostPort"},
		{"same hostPort twice", podSpec(`{containers: [{name: a, command: [x], ports: [{containerPort: 80, hostPort: 8080}]}, {name: b, command: [x], ports: [{containerPort: 81, hostPort: 8080}]}]}`), "spec.containers[1].ports[0].hostPort", "8080/tcp is published already by process \"a\""},
		{"appArmor", podSpec(`{containers: [{name: a, command: [x], securityContext: {appArmorProfile: {type: Localhost, localhostProfile: k8s-apparmor-example-deny-write}}}]}`), "spec.containers[0].securityContext.appArmorProfile.type", "Localhost is not supported"},
		{"seLinuxOptions", podSpec(`{containers: [{name: a, command: [x], securityContext: {seLinuxOptions: {level: "s0:c123,c456"}}}]}`), "spec.containers[0].securityContext.seLinuxOptions", "SELinux labels are not applied"},
		{"procMount Unmasked", podSpec(`{containers: [{name: a, command: [x], securityContext: {procMount: Unmasked}}]}`), "spec.containers[0].securityContext.procMount", "Unmasked is not supported"},
		{"runtimeClassName", podSpec(`{runtimeClassName: kata, containers: [` + app + `]}`), "spec.runtimeClassName", "no other runtime or sandbox"},
		{"serviceAccountToken projection", podSpec(`{volumes: [{name: t, projected: {sources: [{serviceAccountToken: {path: token}}]}}], containers: [` + app + `]}`), "spec.volumes[0].projected.sources[0].serviceAccountToken", "no API server to issue service account tokens"},
		{"fileKeyRef", podSpec(`{containers: [{name: a, command: [x], env: [{name: A, valueFrom: {fileKeyRef: {volumeName: v, path: p, key: k}}}]}]}`), "spec.containers[0].env[0].valueFrom.fileKeyRef", "not supported"},
		{"h2c probe", podSpec(`{containers: [{name: a, command: [x], livenessProbe: {httpGet: {port: 80, protocol: HTTP2}}}]}`), "spec.containers[0].livenessProbe.httpGet.protocol", "HTTP/2 (h2c) probes are not supported, got HTTP2"},
		{"volumeDevices", podSpec(`{containers: [{name: a, command: [x], volumeDevices: [{name: d, devicePath: /dev/xvda}]}]}`), "spec.containers[0].volumeDevices", "raw block devices"},
		// Workloads.
		{"Deployment paths", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: a, command: [x]}, {name: b, image: nginx}]}\n", "spec.template.spec.containers[1].command", `ignores the image "nginx"`},
		{"Deployment bad label", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web, v: -x}}\n    spec: {containers: [{name: a, command: [x]}]}\n", "spec.template.metadata.labels[v]", "invalid label value"},
		{"selector mismatch", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: a, command: [x]}]}\n", "spec.template.metadata.labels", "must match spec.selector"},
		{"no selector", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  template:\n    metadata: {labels: {app: d}}\n    spec: {containers: [{name: a, command: [x]}]}\n", "spec.selector", "required: a DaemonSet selects its pods by label"},
		{"bad selector operator", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec:\n  selector: {matchExpressions: [{key: app, operator: Equals, values: [r]}]}\n  template:\n    metadata: {labels: {app: r}}\n    spec: {containers: [{name: a, command: [x]}]}\n", "spec.selector.matchExpressions[0].operator", `unsupported value "Equals"`},
		{"Deployment restartPolicy", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {restartPolicy: Never, containers: [{name: a, command: [x]}]}\n", "spec.template.spec.restartPolicy", `unsupported value "Never": a Deployment's pod has restartPolicy Always`},
		{"Job restartPolicy", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec: {containers: [{name: a, command: [x]}]}\n", "spec.template.spec.restartPolicy", "required: OnFailure or Never for a Job's pod"},
		{"Job suspended", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  suspend: true\n  template:\n    spec: {restartPolicy: Never, containers: [{name: a, command: [x]}]}\n", "spec.suspend", "a suspended Job runs no pod"},
		{"volumeClaimTemplates", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  selector: {matchLabels: {app: s}}\n  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce]}}]\n  template:\n    metadata: {labels: {app: s}}\n    spec: {containers: [{name: a, command: [x]}]}\n", "spec.volumeClaimTemplates", "PersistentVolumeClaims: not supported on a single host"},
		{"List item path", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, command: [x], volumeMounts: [{name: nope, mountPath: /x}]}]}}\n", "items[0].spec.containers[0].volumeMounts[0].name", `no volume named "nope"`},
		{"document prefix", podSpec(`{containers: [`+app+`]}`) + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: a, image: nginx}]}\n", "document 2: spec.containers[0].command", "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines := loadErr(t, tc.src)
			if tc.field == "" {
				for _, l := range lines {
					if strings.Contains(l, tc.detail) {
						return
					}
				}
				t.Errorf("no problem with %q in\n%s", tc.detail, strings.Join(lines, "\n"))
				return
			}
			if !hasLine(lines, tc.field, tc.detail) {
				t.Errorf("no problem %q at %s in\n%s", tc.detail, tc.field, strings.Join(lines, "\n"))
			}
		})
	}
}

// TestOneProblemOncePerField: a problem reported by the translator is not
// repeated by pod.Validate at the same place.
func TestOneProblemOncePerField(t *testing.T) {
	lines := loadErr(t, podSpec(`{containers: [{name: a, image: nginx}, {name: b, command: [x], volumeMounts: [{name: v, mountPath: /v}]}]}`))
	if len(lines) != 2 {
		t.Errorf("%d problems, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

func TestHostSizeUnknown(t *testing.T) {
	lines := loadErr(t, podSpec(`{containers: [{name: a, command: [x], env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]}]}`), func(o *Options) { o.NodeMemory = 0 })
	if !hasLine(lines, "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource", "the container sets no limit and the host's memory is unknown") {
		t.Errorf("%q", lines)
	}
}

func TestMergeKeysAndAnchors(t *testing.T) {
	src := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - &base
    name: a
    command: [run]
    env: [{name: X, value: "1"}]
  - <<: *base
    name: b
`
	p := onePod(t, src)
	if p.Spec.Processes[1].Name != "b" || p.Spec.Processes[1].Command[0] != "run" || p.Spec.Processes[1].Env[0].Value != "1" {
		t.Errorf("%+v", p.Spec.Processes[1])
	}
}

func TestAliasBomb(t *testing.T) {
	// 200 volumes of 200 projected sources of 200 items: 8 million values
	// from a few kilobytes.
	list := func(alias string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("*"+alias+", ", 200), ", ") + "]"
	}
	src := "x0: &i {key: k, path: p}\n" +
		"x1: &items " + list("i") + "\n" +
		"x2: &src {configMap: {name: c, items: *items}}\n" +
		"x3: &srcs " + list("src") + "\n" +
		"x4: &vol {name: v, projected: {sources: *srcs}}\n" +
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {volumes: " + list("vol") + ", containers: [{name: a, command: [x]}]}\n"
	lines := loadErr(t, src)
	if !strings.Contains(strings.Join(lines, "\n"), "document too complex") {
		t.Errorf("%q", lines)
	}
}

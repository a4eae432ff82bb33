package pod_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// withSpec returns a pod file whose spec block is the given YAML, indented
// by two spaces.
func withSpec(spec string) string { return head + "spec:\n" + spec }

// oneProcess is a pod file with one app process whose extra fields are the
// given YAML (indented by four spaces).
func oneProcess(extra string) string {
	return withSpec("  processes:\n  - name: app\n    command: [sh]\n" + extra)
}

func TestLoadInvalid(t *testing.T) {
	long := strings.Repeat("a", 64)
	tooLong := strings.Repeat("a.", 126) + "ab"
	tests := []struct {
		name string
		doc  string
		// field must start one of the error lines ("field: ..."); "" means
		// the error has no field (the whole file is bad).
		field string
		// detail, when set, must appear in that line.
		detail string
		// exact, when set, must be one of the lines exactly.
		exact string
	}{
		// Strict decoding.
		{
			name:  "unknown field",
			doc:   withSpec("  processes:\n  - name: app\n    comand: [sh]\n"),
			field: "spec.processes[0].comand",
			exact: `spec.processes[0].comand: unknown field "comand"`,
		},
		{
			name:  "unknown top-level field",
			doc:   head + "spec: {processes: [{name: a, command: [x]}]}\nstatus: {}\n",
			field: "status",
			exact: `status: unknown field "status"`,
		},
		{
			name:  "unknown metadata field",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, generation: 3}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "metadata.generation",
			exact: `metadata.generation: unknown field "generation"`,
		},
		{
			name:  "unknown limits field",
			doc:   withSpec("  resources: {limits: {cpu: 1, gpu: 1}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.gpu",
			exact: `spec.resources.limits.gpu: unknown field "gpu"`,
		},
		{
			name:  "field names are case sensitive",
			doc:   withSpec("  Processes: [{name: a, command: [x]}]\n"),
			field: "spec.Processes",
			exact: `spec.Processes: unknown field "Processes"`,
		},
		{
			name:  "duplicate top-level key",
			doc:   head + "kind: Pod\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "kind",
			exact: `kind: duplicate key "kind"`,
		},
		{
			name:  "duplicate metadata key",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, name: db}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "metadata.name",
			exact: `metadata.name: duplicate key "name"`,
		},
		{
			name:  "duplicate label key",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {app: a, app: b}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: `metadata.labels["app"]`,
			exact: `metadata.labels["app"]: duplicate key "app"`,
		},
		{
			name:  "duplicate process key",
			doc:   oneProcess("    command: [bash]\n"),
			field: "spec.processes[0].command",
			exact: `spec.processes[0].command: duplicate key "command"`,
		},
		{
			name:  "string where a list is expected",
			doc:   withSpec("  processes:\n  - name: app\n    command: sh -c 'echo hi'\n"),
			field: "spec.processes[0].command",
			exact: "spec.processes[0].command: must be a list",
		},
		{
			name:  "mapping where a list is expected",
			doc:   withSpec("  processes: {name: app, command: [sh]}\n"),
			field: "spec.processes",
			exact: "spec.processes: must be a list",
		},
		{
			name:  "list where a mapping is expected",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: [web]\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "metadata",
			exact: "metadata: must be a mapping",
		},
		{
			name:  "list where resources mapping is expected",
			doc:   withSpec("  resources: [cpu]\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources",
			exact: "spec.resources: must be a mapping",
		},
		{
			name:  "list where labels mapping is expected",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: [app]}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "metadata.labels",
			exact: "metadata.labels: must be a mapping",
		},
		{
			name:  "scalar where a process is expected",
			doc:   withSpec("  processes: [app]\n"),
			field: "spec.processes[0]",
			exact: "spec.processes[0]: must be a mapping",
		},
		{
			name:  "list where a string is expected",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: [web]}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "metadata.name",
			exact: "metadata.name: must be a string",
		},
		{
			name:  "mapping where a command item is expected",
			doc:   oneProcess("    args: [{a: b}]\n"),
			field: "spec.processes[0].args[0]",
			exact: "spec.processes[0].args[0]: must be a string",
		},
		{
			name:  "list where a label value is expected",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {app: [a]}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: `metadata.labels["app"]`,
			exact: `metadata.labels["app"]: must be a string`,
		},
		{
			name:  "list where a quantity is expected",
			doc:   withSpec("  resources: {limits: {cpu: [1]}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.cpu",
			exact: "spec.resources.limits.cpu: must be a scalar value",
		},
		{
			name:  "list where a duration is expected",
			doc:   withSpec("  restartBackoff: {initialDelay: [10s]}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.restartBackoff.initialDelay",
			exact: "spec.restartBackoff.initialDelay: must be a scalar value",
		},

		// Whole-file problems carry no field.
		{name: "empty document", doc: "", field: "", exact: "empty pod file"},
		{name: "comment-only document", doc: "# nothing here\n", field: "", exact: "empty pod file"},
		{name: "YAML syntax error", doc: "apiVersion: [podvisor/v1\n", field: "", detail: "line"},
		{name: "YAML tab indentation", doc: "apiVersion: podvisor/v1\nmetadata:\n\tname: web\n", field: "", detail: "line"},
		{name: "top-level list", doc: "- apiVersion: podvisor/v1\n", field: "", exact: "a pod file must be a mapping"},
		{name: "top-level scalar", doc: "hello\n", field: "", exact: "a pod file must be a mapping"},
		{name: "null document", doc: "null\n", field: "apiVersion", exact: `apiVersion: required (must be "podvisor/v1")`},

		// apiVersion and kind.
		{
			name:  "missing apiVersion",
			doc:   "kind: Pod\nmetadata: {name: web}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "apiVersion",
			exact: `apiVersion: required (must be "podvisor/v1")`,
		},
		{
			name:  "wrong apiVersion",
			doc:   "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "apiVersion",
			exact: `apiVersion: unsupported value "v1": must be "podvisor/v1"`,
		},
		{
			name:  "missing kind",
			doc:   "apiVersion: podvisor/v1\nmetadata: {name: web}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "kind",
			exact: `kind: required (must be "Pod")`,
		},
		{
			name:  "wrong kind",
			doc:   "apiVersion: podvisor/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "kind",
			exact: `kind: unsupported value "Deployment": must be "Pod"`,
		},
		{
			name:   "kind is case sensitive",
			doc:    "apiVersion: podvisor/v1\nkind: pod\nmetadata: {name: web}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field:  "kind",
			detail: `unsupported value "pod"`,
		},

		// Pod name and labels.
		{
			name:  "bad pod name",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: Web_Server}\nspec: {hostname: web, processes: [{name: a, command: [x]}]}\n",
			field: "metadata.name",
			exact: `metadata.name: "Web_Server" is not a lowercase RFC 1123 subdomain`,
		},
		{
			name:  "pod name longer than 253",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: " + tooLong + "}\nspec: {hostname: web, processes: [{name: a, command: [x]}]}\n",
			field: "metadata.name",
			exact: `metadata.name: must be at most 253 characters, got 254`,
		},
		{
			name:   "pod name ending in a dash",
			doc:    "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web-}\nspec: {hostname: web, processes: [{name: a, command: [x]}]}\n",
			field:  "metadata.name",
			detail: "is not a lowercase RFC 1123 subdomain",
		},
		{
			name:  "missing pod name",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {labels: {app: web}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "metadata.name",
			exact: "metadata.name: required",
		},
		{
			name:  "missing metadata",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: "metadata.name",
			exact: "metadata.name: required",
		},
		{
			name:  "label key starting with a dash",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {-app: web}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: `metadata.labels["-app"]`,
			exact: `metadata.labels["-app"]: invalid label key "-app"`,
		},
		{
			name:  "label key with a space",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {\"my app\": web}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: `metadata.labels["my app"]`,
			exact: `metadata.labels["my app"]: invalid label key "my app"`,
		},
		{
			name:   "label key with an uppercase prefix",
			doc:    "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {Example.com/app: web}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field:  `metadata.labels["Example.com/app"]`,
			detail: "invalid label key",
		},
		{
			name:   "label key with two slashes",
			doc:    "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {a/b/c: web}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field:  `metadata.labels["a/b/c"]`,
			detail: "invalid label key",
		},
		{
			name:   "label key with an empty prefix",
			doc:    "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {/app: web}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field:  `metadata.labels["/app"]`,
			detail: "invalid label key",
		},
		{
			name:   "label key name longer than 63",
			doc:    "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {example.com/" + long + ": web}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field:  `metadata.labels["example.com/` + long + `"]`,
			detail: "invalid label key",
		},
		{
			name:  "label value with a space",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {app: \"my web\"}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: `metadata.labels["app"]`,
			exact: `metadata.labels["app"]: invalid label value "my web"`,
		},
		{
			name:   "label value ending in a dot",
			doc:    "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {app: web.}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field:  `metadata.labels["app"]`,
			detail: "invalid label value",
		},
		{
			name:  "label value longer than 63",
			doc:   "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {app: " + long + "}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			field: `metadata.labels["app"]`,
			exact: `metadata.labels["app"]: invalid label value "` + long + `"`,
		},

		// Pod-level spec fields.
		{
			name:  "bad pod restartPolicy",
			doc:   withSpec("  restartPolicy: Sometimes\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.restartPolicy",
			exact: `spec.restartPolicy: unsupported value "Sometimes": must be Always, OnFailure or Never`,
		},
		{
			name:   "restartPolicy is case sensitive",
			doc:    withSpec("  restartPolicy: always\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.restartPolicy",
			detail: `unsupported value "always"`,
		},
		{
			name:  "bad duration",
			doc:   withSpec("  restartBackoff: {initialDelay: ten}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.restartBackoff.initialDelay",
			exact: `spec.restartBackoff.initialDelay: invalid duration "ten"`,
		},
		{
			name:  "duration without a unit",
			doc:   withSpec("  restartBackoff: {maxDelay: 10}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.restartBackoff.maxDelay",
			exact: `spec.restartBackoff.maxDelay: invalid duration "10"`,
		},
		{
			name:  "negative resetAfter",
			doc:   withSpec("  restartBackoff: {resetAfter: -1s}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.restartBackoff.resetAfter",
			exact: "spec.restartBackoff.resetAfter: must be positive, got -1s",
		},
		{
			name:   "negative initialDelay",
			doc:    withSpec("  restartBackoff: {initialDelay: -10s}\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.restartBackoff.initialDelay",
			detail: "must be positive",
		},
		{
			name:   "negative maxDelay",
			doc:    withSpec("  restartBackoff: {maxDelay: -5m}\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.restartBackoff.maxDelay",
			detail: "must be positive",
		},
		{
			name:  "maxDelay less than initialDelay",
			doc:   withSpec("  restartBackoff: {initialDelay: 1m, maxDelay: 10s}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.restartBackoff.maxDelay",
			exact: "spec.restartBackoff.maxDelay: must not be less than initialDelay (1m0s), got 10s",
		},
		{
			name:   "maxDelay less than the default initialDelay",
			doc:    withSpec("  restartBackoff: {maxDelay: 5s}\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.restartBackoff.maxDelay",
			detail: "must not be less than initialDelay (10s)",
		},
		{
			name:  "negative grace period",
			doc:   withSpec("  terminationGracePeriodSeconds: -1\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.terminationGracePeriodSeconds",
			exact: "spec.terminationGracePeriodSeconds: must be an integer >= 0",
		},
		{
			name:  "grace period as a duration string",
			doc:   withSpec("  terminationGracePeriodSeconds: 30s\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.terminationGracePeriodSeconds",
			exact: `spec.terminationGracePeriodSeconds: must be an integer, got "30s"`,
		},
		{
			name:  "grace period as a float",
			doc:   withSpec("  terminationGracePeriodSeconds: 1.5\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.terminationGracePeriodSeconds",
			exact: `spec.terminationGracePeriodSeconds: must be an integer, got "1.5"`,
		},
		{
			name:   "grace period as a quoted number",
			doc:    withSpec("  terminationGracePeriodSeconds: \"30\"\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.terminationGracePeriodSeconds",
			detail: "must be an integer",
		},
		{
			name:   "grace period out of range",
			doc:    withSpec("  terminationGracePeriodSeconds: 99999999999999999999\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.terminationGracePeriodSeconds",
			detail: "must be an integer",
		},
		{
			name:  "bad hostname",
			doc:   withSpec("  hostname: Web.Server\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.hostname",
			exact: `spec.hostname: "Web.Server" is not a host name: lowercase RFC 1123 labels joined by dots, at most 63 characters`,
		},
		{
			name:   "hostname longer than 63",
			doc:    withSpec("  hostname: " + long + "\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.hostname",
			detail: "is not a host name",
		},
		{
			name:  "bad network",
			doc:   withSpec("  network: -bridge\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.network",
			exact: `spec.network: unsupported value "-bridge": must be bridge, none, host or the name of a network (letters, digits, '_', '.', '-', starting with a letter or digit, at most 64 characters)`,
		},

		// Quantities and limits.
		{
			name:  "invalid quantity",
			doc:   withSpec("  resources: {limits: {memory: lots}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.memory",
			exact: `spec.resources.limits.memory: invalid quantity "lots"`,
		},
		{
			name:  "invalid process cpu quantity",
			doc:   oneProcess("    resources: {limits: {cpu: 1.2.3}}\n"),
			field: "spec.processes[0].resources.limits.cpu",
			exact: `spec.processes[0].resources.limits.cpu: invalid quantity "1.2.3"`,
		},
		{
			name:  "empty quantity",
			doc:   withSpec("  resources: {limits: {cpu: \"\"}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.cpu",
			exact: `spec.resources.limits.cpu: invalid quantity ""`,
		},
		{
			name:  "zero cpu",
			doc:   withSpec("  resources: {limits: {cpu: 0}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.cpu",
			exact: `spec.resources.limits.cpu: must be positive, got "0"`,
		},
		{
			name:  "negative cpu",
			doc:   oneProcess("    resources: {limits: {cpu: -500m}}\n"),
			field: "spec.processes[0].resources.limits.cpu",
			exact: `spec.processes[0].resources.limits.cpu: must be positive, got "-500m"`,
		},
		{
			name:  "memory below 1Mi",
			doc:   withSpec("  resources: {limits: {memory: 1Ki}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.memory",
			exact: `spec.resources.limits.memory: must be at least 1Mi, got "1Ki"`,
		},
		{
			name:   "memory one byte below 1Mi",
			doc:    oneProcess("    resources: {limits: {memory: 1048575}}\n"),
			field:  "spec.processes[0].resources.limits.memory",
			detail: "must be at least 1Mi",
		},
		{
			name:  "zero memory",
			doc:   withSpec("  resources: {limits: {memory: 0}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.memory",
			exact: `spec.resources.limits.memory: must be positive, got "0"`,
		},
		{
			name:   "negative memory",
			doc:    withSpec("  resources: {limits: {memory: -1Gi}}\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.resources.limits.memory",
			detail: "must be positive",
		},
		{
			name:  "zero pids",
			doc:   withSpec("  resources: {limits: {pids: 0}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.pids",
			exact: "spec.resources.limits.pids: must be at least 1, got 0",
		},
		{
			name:  "negative process pids",
			doc:   oneProcess("    resources: {limits: {pids: -5}}\n"),
			field: "spec.processes[0].resources.limits.pids",
			exact: "spec.processes[0].resources.limits.pids: must be at least 1, got -5",
		},
		{
			name:  "explicit int tag on a non-integer",
			doc:   withSpec("  resources: {limits: {pids: !!int many}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.pids",
			exact: `spec.resources.limits.pids: must be an integer, got "many"`,
		},
		{
			name:  "pids not an integer",
			doc:   withSpec("  resources: {limits: {pids: many}}\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.resources.limits.pids",
			exact: `spec.resources.limits.pids: must be an integer, got "many"`,
		},

		// Processes.
		{
			name:  "missing processes",
			doc:   withSpec("  network: host\n"),
			field: "spec.processes",
			exact: "spec.processes: required: at least one process",
		},
		{
			name:  "missing spec",
			doc:   head,
			field: "spec.processes",
			exact: "spec.processes: required: at least one process",
		},
		{
			name:  "empty processes",
			doc:   withSpec("  processes: []\n"),
			field: "spec.processes",
			exact: "spec.processes: required: at least one process",
		},
		{
			name:  "only init processes",
			doc:   withSpec("  initProcesses: [{name: a, command: [x]}]\n"),
			field: "spec.processes",
			exact: "spec.processes: required: at least one process",
		},
		{
			name:  "duplicate name across init and app processes",
			doc:   withSpec("  initProcesses: [{name: a, command: [x]}]\n  processes: [{name: b, command: [x]}, {name: a, command: [x]}]\n"),
			field: "spec.processes[1].name",
			exact: `spec.processes[1].name: duplicate name "a"`,
		},
		{
			name:  "duplicate app process name",
			doc:   withSpec("  processes: [{name: a, command: [x]}, {name: a, command: [y]}]\n"),
			field: "spec.processes[1].name",
			exact: `spec.processes[1].name: duplicate name "a"`,
		},
		{
			name:  "duplicate init process name",
			doc:   withSpec("  initProcesses: [{name: i, command: [x]}, {name: i, command: [x]}]\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.initProcesses[1].name",
			exact: `spec.initProcesses[1].name: duplicate name "i"`,
		},
		{
			name:  "bad process name",
			doc:   withSpec("  processes: [{name: App, command: [x]}]\n"),
			field: "spec.processes[0].name",
			exact: `spec.processes[0].name: "App" is not a lowercase RFC 1123 label`,
		},
		{
			name:  "missing process name",
			doc:   withSpec("  processes: [{command: [x]}]\n"),
			field: "spec.processes[0].name",
			exact: "spec.processes[0].name: required",
		},
		{
			name:   "bad init process name",
			doc:    withSpec("  initProcesses: [{name: pre_p, command: [x]}]\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.initProcesses[0].name",
			detail: "is not a lowercase RFC 1123 label",
		},
		{
			name:  "empty command",
			doc:   withSpec("  processes: [{name: a, command: []}]\n"),
			field: "spec.processes[0].command",
			exact: "spec.processes[0].command: required: at least the program",
		},
		{
			name:  "missing command",
			doc:   withSpec("  processes: [{name: a, args: [x]}]\n"),
			field: "spec.processes[0].command",
			exact: "spec.processes[0].command: required: at least the program",
		},
		{
			name:  "missing init command",
			doc:   withSpec("  initProcesses: [{name: i}]\n  processes: [{name: a, command: [x]}]\n"),
			field: "spec.initProcesses[0].command",
			exact: "spec.initProcesses[0].command: required: at least the program",
		},
		{
			name:  "empty program",
			doc:   withSpec("  processes: [{name: a, command: [\"\"]}]\n"),
			field: "spec.processes[0].command[0]",
			exact: "spec.processes[0].command[0]: must not be empty",
		},
		{
			name:  "NUL byte in command",
			doc:   withSpec("  processes: [{name: a, command: [sh, \"a\\0b\"]}]\n"),
			field: "spec.processes[0].command[1]",
			exact: "spec.processes[0].command[1]: must not contain a NUL byte",
		},
		{
			name:  "NUL byte in args",
			doc:   oneProcess("    args: [ok, \"a\\0b\"]\n"),
			field: "spec.processes[0].args[1]",
			exact: "spec.processes[0].args[1]: must not contain a NUL byte",
		},
		{
			name:  "bad process restartPolicy",
			doc:   oneProcess("    restartPolicy: Sometimes\n"),
			field: "spec.processes[0].restartPolicy",
			exact: `spec.processes[0].restartPolicy: unsupported value "Sometimes": must be Always, OnFailure or Never`,
		},
		{
			name:   "bad init process restartPolicy",
			doc:    withSpec("  initProcesses: [{name: i, command: [x], restartPolicy: Maybe}]\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.initProcesses[0].restartPolicy",
			detail: `unsupported value "Maybe"`,
		},
		{
			name:  "bad env name",
			doc:   oneProcess("    env: [{name: 1BAD, value: x}]\n"),
			field: "spec.processes[0].env[0].name",
			exact: `spec.processes[0].env[0].name: invalid environment variable name "1BAD"`,
		},
		{
			name:   "env name with an equals sign",
			doc:    oneProcess("    env: [{name: OK, value: x}, {name: A=B, value: x}]\n"),
			field:  "spec.processes[0].env[1].name",
			detail: "invalid environment variable name",
		},
		{
			name:  "missing env name",
			doc:   oneProcess("    env: [{value: x}]\n"),
			field: "spec.processes[0].env[0].name",
			exact: "spec.processes[0].env[0].name: required",
		},
		{
			name:  "NUL byte in env value",
			doc:   oneProcess("    env: [{name: K, value: \"a\\0b\"}]\n"),
			field: "spec.processes[0].env[0].value",
			exact: "spec.processes[0].env[0].value: must not contain a NUL byte",
		},
		{
			name:  "unknown env field",
			doc:   oneProcess("    env: [{name: K, valueRef: x}]\n"),
			field: "spec.processes[0].env[0].valueRef",
			exact: `spec.processes[0].env[0].valueRef: unknown field "valueRef"`,
		},
		{
			name:  "env valueFrom of a field not known at start",
			doc:   oneProcess("    env: [{name: K, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n"),
			field: "spec.processes[0].env[0].valueFrom.fieldRef.fieldPath",
			exact: `spec.processes[0].env[0].valueFrom.fieldRef.fieldPath: unsupported value "metadata.name": must be one of status.podIP, status.podIPs, status.hostIP, status.hostIPs`,
		},
		{
			name:  "env value and valueFrom",
			doc:   oneProcess("    env: [{name: K, value: v, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]\n"),
			field: "spec.processes[0].env[0].valueFrom",
			exact: `spec.processes[0].env[0].valueFrom: not with value`,
		},
		{
			name:  "relative workingDir",
			doc:   oneProcess("    workingDir: srv\n"),
			field: "spec.processes[0].workingDir",
			exact: `spec.processes[0].workingDir: must be an absolute path, got "srv"`,
		},
		{
			name:   "dot-relative workingDir",
			doc:    oneProcess("    workingDir: ./srv\n"),
			field:  "spec.processes[0].workingDir",
			detail: "must be an absolute path",
		},
		{
			name:  "user with three parts",
			doc:   oneProcess("    user: \"a:b:c\"\n"),
			field: "spec.processes[0].user",
			exact: `spec.processes[0].user: invalid user "a:b:c": must be uid[:gid] or name[:group]`,
		},
		{
			name:   "user with an empty name",
			doc:    oneProcess("    user: \":1000\"\n"),
			field:  "spec.processes[0].user",
			detail: "invalid user",
		},
		{
			name:   "user with an empty group",
			doc:    oneProcess("    user: \"1000:\"\n"),
			field:  "spec.processes[0].user",
			detail: "invalid user",
		},
		{
			name:   "user with a space",
			doc:    oneProcess("    user: bob smith\n"),
			field:  "spec.processes[0].user",
			detail: "invalid user",
		},
		{
			name:   "user starting with a dash",
			doc:    oneProcess("    user: -bob\n"),
			field:  "spec.processes[0].user",
			detail: "invalid user",
		},
		{
			name:  "unknown stopSignal",
			doc:   oneProcess("    stopSignal: SIGFOO\n"),
			field: "spec.processes[0].stopSignal",
			exact: `spec.processes[0].stopSignal: unknown signal "SIGFOO"`,
		},
		{
			name:   "stopSignal zero",
			doc:    oneProcess("    stopSignal: \"0\"\n"),
			field:  "spec.processes[0].stopSignal",
			detail: "unknown signal",
		},
		{
			name:   "stopSignal out of range",
			doc:    oneProcess("    stopSignal: 65\n"),
			field:  "spec.processes[0].stopSignal",
			detail: "unknown signal",
		},
		{
			name:   "init process stopSignal",
			doc:    withSpec("  initProcesses: [{name: i, command: [x], stopSignal: SIGRTMIN+31}]\n  processes: [{name: a, command: [x]}]\n"),
			field:  "spec.initProcesses[0].stopSignal",
			detail: "unknown signal",
		},

		// JSON documents are decoded just as strictly.
		{
			name:  "JSON unknown field",
			doc:   `{"apiVersion": "podvisor/v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"processes": [{"name": "a", "comand": ["x"]}]}}`,
			field: "spec.processes[0].comand",
			exact: `spec.processes[0].comand: unknown field "comand"`,
		},
		{
			name:  "JSON duplicate key",
			doc:   `{"apiVersion": "podvisor/v1", "apiVersion": "podvisor/v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"processes": [{"name": "a", "command": ["x"]}]}}`,
			field: "apiVersion",
			exact: `apiVersion: duplicate key "apiVersion"`,
		},
		{
			name:  "JSON string grace period",
			doc:   `{"apiVersion": "podvisor/v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"terminationGracePeriodSeconds": "30", "processes": [{"name": "a", "command": ["x"]}]}}`,
			field: "spec.terminationGracePeriodSeconds",
			exact: `spec.terminationGracePeriodSeconds: must be an integer, got "30"`,
		},
		{
			name:  "JSON syntax error",
			doc:   `{"apiVersion": "podvisor/v1",`,
			field: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pod.Load([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Load succeeded, want an error for %q\ndocument:\n%s", tt.field, tt.doc)
			}
			if p != nil {
				t.Errorf("Load returned a pod along with error %v", err)
			}
			if !errors.Is(err, pod.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			for _, other := range []error{pod.ErrNotFound, pod.ErrAlreadyExists, pod.ErrConflict} {
				if errors.Is(err, other) {
					t.Errorf("errors.Is(err, %v) = true", other)
				}
			}
			msgs := lines(err)
			var match string
			found := false
			for _, l := range msgs {
				if tt.field == "" || strings.HasPrefix(l, tt.field+": ") {
					match, found = l, true
					if tt.exact == "" || l == tt.exact {
						break
					}
				}
			}
			if !found {
				t.Fatalf("no error line starts with %q; got:\n%v", tt.field+": ", err)
			}
			if tt.exact != "" && !contains(msgs, tt.exact) {
				t.Errorf("no error line is exactly\n%s\ngot:\n%v", tt.exact, err)
			}
			if tt.detail != "" && !strings.Contains(match, tt.detail) {
				t.Errorf("error line %q does not contain %q", match, tt.detail)
			}
			// The structured errors agree with the text.
			fes := fieldErrors(t, err)
			if len(fes) != len(msgs) {
				t.Errorf("%d field errors but %d lines:\n%v", len(fes), len(msgs), err)
			}
			fieldFound := false
			for _, fe := range fes {
				if fe.Field == tt.field {
					fieldFound = true
				}
				if !errors.Is(fe, pod.ErrInvalid) {
					t.Errorf("field error %v does not match ErrInvalid", fe)
				}
			}
			if !fieldFound {
				t.Errorf("no FieldError has Field %q: %#v", tt.field, fes)
			}
		})
	}
	if len(tests) < 30 {
		t.Errorf("only %d bad specs, want at least 30", len(tests))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLoadReportsEveryError checks that validation does not stop at the
// first problem and keeps a stable order.
func TestLoadReportsEveryError(t *testing.T) {
	doc := `apiVersion: v2
kind: Pod
metadata: {name: Bad, labels: {b: "x y", a: "-"}}
spec:
  restartPolicy: Often
  network: "no/such"
  resources: {limits: {pids: 0}}
  initProcesses: [{name: a, command: [x]}]
  processes:
  - {name: a, command: []}
  - {name: b, command: [x], workingDir: rel, stopSignal: NOPE}
`
	_, err := pod.Load([]byte(doc))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	want := []string{
		`apiVersion: unsupported value "v2": must be "podvisor/v1"`,
		`metadata.name: "Bad" is not a lowercase RFC 1123 subdomain`,
		`metadata.labels["a"]: invalid label value "-"`,
		`metadata.labels["b"]: invalid label value "x y"`,
		`spec.restartPolicy: unsupported value "Often": must be Always, OnFailure or Never`,
		`spec.network: unsupported value "no/such": must be bridge, none, host or the name of a network (letters, digits, '_', '.', '-', starting with a letter or digit, at most 64 characters)`,
		`spec.resources.limits.pids: must be at least 1, got 0`,
		`spec.processes[0].name: duplicate name "a"`,
		`spec.processes[0].command: required: at least the program`,
		`spec.processes[1].workingDir: must be an absolute path, got "rel"`,
		`spec.processes[1].stopSignal: unknown signal "NOPE"`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	var list pod.ErrorList
	if !errors.As(err, &list) || len(list) != len(want) {
		t.Fatalf("errors.As ErrorList: %v, len %d", errors.As(err, &list), len(list))
	}
	var fe *pod.FieldError
	if !errors.As(err, &fe) || fe.Field != "apiVersion" {
		t.Errorf("errors.As FieldError: first field %v", fe)
	}
}

// TestDecodeReportsEveryError checks that decoding collects every problem.
func TestDecodeReportsEveryError(t *testing.T) {
	doc := `apiVersion: podvisor/v1
kind: Pod
extra: 1
metadata: {name: web, name: web}
spec:
  terminationGracePeriodSeconds: soon
  restartBackoff: {initialDelay: never}
  resources: {limits: {cpu: lots, memory: [1]}}
  processes: [{name: a, command: x, args: [ok]}]
`
	_, err := pod.Decode([]byte(doc))
	want := []string{
		`extra: unknown field "extra"`,
		`metadata.name: duplicate key "name"`,
		`spec.terminationGracePeriodSeconds: must be an integer, got "soon"`,
		`spec.restartBackoff.initialDelay: invalid duration "never"`,
		`spec.resources.limits.cpu: invalid quantity "lots"`,
		`spec.resources.limits.memory: must be a scalar value`,
		`spec.processes[0].command: must be a list`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Decode error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if !errors.Is(err, pod.ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false")
	}
}

func TestValidSpecs(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, p *pod.Pod)
	}{
		{
			name: "minimal",
			doc:  withSpec("  processes: [{name: a, command: [x]}]\n"),
		},
		{
			name: "name of 63 characters",
			doc:  "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: " + strings.Repeat("a", 63) + "}\nspec: {processes: [{name: " + strings.Repeat("b", 63) + ", command: [x]}]}\n",
		},
		{
			name: "digits and dashes in names",
			doc:  "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: 0-web-1}\nspec: {processes: [{name: 9, command: [x]}]}\n",
		},
		{
			name: "labels",
			doc:  "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web, labels: {example.com/app: web, App_Name.x: V-1.2_b, empty: \"\", n: 1, " + strings.Repeat("k", 63) + ": " + strings.Repeat("v", 63) + "}}\nspec: {processes: [{name: a, command: [x]}]}\n",
			check: func(t *testing.T, p *pod.Pod) {
				if got := p.Metadata.Labels["n"]; got != "1" {
					t.Errorf("label n = %q, want %q", got, "1")
				}
				if len(p.Metadata.Labels) != 5 {
					t.Errorf("labels = %v", p.Metadata.Labels)
				}
			},
		},
		{
			name: "host network and zero grace period",
			doc:  withSpec("  network: host\n  terminationGracePeriodSeconds: 0\n  processes: [{name: a, command: [x]}]\n"),
			check: func(t *testing.T, p *pod.Pod) {
				if p.Spec.Network != pod.NetworkHost {
					t.Errorf("network = %q", p.Spec.Network)
				}
				if g := p.Spec.TerminationGracePeriodSeconds; g == nil || *g != 0 {
					t.Errorf("grace = %v, want 0", g)
				}
			},
		},
		{
			name: "env, users and signals",
			doc: withSpec(`  processes:
  - {name: a, command: [x], user: "1000", stopSignal: TERM, env: [{name: _X, value: ""}, {name: a.b-c, value: "x=y"}]}
  - {name: b, command: [x], user: "bob:staff", stopSignal: "9"}
  - {name: c, command: [x], user: "_apt", stopSignal: sigint}
  - {name: d, command: [x], user: "machine$:0", stopSignal: SIGRTMIN+2}
  - {name: e, command: [x], user: "www-data", stopSignal: winch}
`),
			check: func(t *testing.T, p *pod.Pod) {
				if got := p.Spec.Processes[0].Env[1]; got.Name != "a.b-c" || got.Value != "x=y" {
					t.Errorf("env = %+v", got)
				}
			},
		},
		{
			name: "limits at their minimum",
			doc:  withSpec("  resources: {limits: {cpu: 1n, memory: 1Mi, pids: 1}}\n  processes: [{name: a, command: [x]}]\n"),
			check: func(t *testing.T, p *pod.Pod) {
				l := p.Spec.Resources.Limits
				if l.CPU.Milli() != 1 || l.Memory.Value() != 1<<20 || *l.Pids != 1 {
					t.Errorf("limits = %v %v %v", l.CPU, l.Memory, *l.Pids)
				}
			},
		},
		{
			name: "numeric quantities",
			doc:  withSpec("  resources: {limits: {cpu: 2, memory: 1e9}}\n  processes: [{name: a, command: [x], resources: {limits: {cpu: 0.5, memory: 1048576}}}]\n"),
			check: func(t *testing.T, p *pod.Pod) {
				if got := p.Spec.Resources.Limits.CPU.Milli(); got != 2000 {
					t.Errorf("cpu = %d", got)
				}
				if got := p.Spec.Processes[0].Resources.Limits.CPU.Milli(); got != 500 {
					t.Errorf("process cpu = %d", got)
				}
				if got := p.Spec.Resources.Limits.Memory.Value(); got != 1e9 {
					t.Errorf("memory = %d", got)
				}
			},
		},
		{
			name: "nulls mean unset",
			doc:  withSpec("  restartPolicy: ~\n  hostname: null\n  terminationGracePeriodSeconds: null\n  resources: {limits: {cpu: null, memory: ~, pids: null}}\n  processes: [{name: a, command: [x], env: null, workingDir: null}]\n"),
			check: func(t *testing.T, p *pod.Pod) {
				if !p.Spec.Resources.Limits.Empty() {
					t.Errorf("limits not empty: %+v", p.Spec.Resources.Limits)
				}
				if p.Spec.RestartPolicy != pod.RestartAlways || p.Spec.Hostname != "web" ||
					*p.Spec.TerminationGracePeriodSeconds != 30 || p.Spec.Processes[0].WorkingDir != "/" {
					t.Errorf("defaults not applied: %+v", p.Spec)
				}
			},
		},
		{
			name: "anchors and aliases",
			doc: withSpec(`  initProcesses:
  - &base {name: a, command: &cmd [sh, -c, "true"]}
  processes:
  - {name: b, command: *cmd, env: &env [{name: K, value: v}]}
  - {name: c, command: *cmd, env: *env}
`),
			check: func(t *testing.T, p *pod.Pod) {
				if got := p.Spec.Processes[1].Argv(); strings.Join(got, " ") != "sh -c true" {
					t.Errorf("argv = %q", got)
				}
				if got := p.Spec.Processes[1].Env; len(got) != 1 || got[0].Name != "K" {
					t.Errorf("env = %+v", got)
				}
			},
		},
		{
			name: "integer forms",
			doc:  withSpec("  terminationGracePeriodSeconds: 1_000\n  resources: {limits: {pids: 0x10}}\n  processes: [{name: a, command: [x]}]\n"),
			check: func(t *testing.T, p *pod.Pod) {
				if got := *p.Spec.TerminationGracePeriodSeconds; got != 1000 {
					t.Errorf("grace = %d, want 1000", got)
				}
				if got := *p.Spec.Resources.Limits.Pids; got != 16 {
					t.Errorf("pids = %d, want 16", got)
				}
			},
		},
		{
			name: "process restart policies",
			doc:  withSpec("  restartPolicy: Never\n  processes: [{name: a, command: [x], restartPolicy: Always}, {name: b, command: [x], restartPolicy: OnFailure}, {name: c, command: [x], restartPolicy: Never}]\n"),
		},
		{
			name: "leading document marker",
			doc:  "---\n" + withSpec("  processes: [{name: a, command: [x]}]\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustLoad(t, tt.doc)
			if err := p.Validate(); err != nil {
				t.Errorf("Validate of a loaded pod: %v", err)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	for _, name := range []string{"a", "web", "web-1", "1", "a-b-c", strings.Repeat("x", 63), "web.server", strings.Repeat("x", 64), strings.Repeat("a.", 126) + "a"} {
		if err := pod.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
		if !pod.IsName(name) {
			t.Errorf("IsName(%q) = false", name)
		}
	}
	for _, name := range []string{"Web", "web_server", "-web", "web-", "web.", ".web", "web..server", "a b", "é", strings.Repeat("x", 254)} {
		err := pod.ValidateName(name)
		if err == nil {
			t.Errorf("ValidateName(%q) = nil", name)
			continue
		}
		want := `metadata.name: "` + name + `" is not a lowercase RFC 1123 subdomain`
		if len(name) > 253 {
			want = "metadata.name: must be at most 253 characters, got 254"
		}
		if err.Error() != want {
			t.Errorf("ValidateName(%q) = %q, want %q", name, err, want)
		}
		if !errors.Is(err, pod.ErrInvalid) {
			t.Errorf("ValidateName(%q) does not match ErrInvalid", name)
		}
		if pod.IsName(name) {
			t.Errorf("IsLabel(%q) = true", name)
		}
	}
	err := pod.ValidateName("")
	if err == nil || err.Error() != "metadata.name: required" || !errors.Is(err, pod.ErrInvalid) {
		t.Errorf(`ValidateName("") = %v`, err)
	}
}

func TestValidateWithoutDefaults(t *testing.T) {
	p, err := pod.Decode([]byte(withSpec("  processes: [{name: a, command: [x]}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Validate()
	if err == nil {
		t.Fatal("Validate of a pod without defaults succeeded")
	}
	for _, want := range []string{
		"spec.restartPolicy: required",
		"spec.restartBackoff.initialDelay: must be positive, got 0s",
		"spec.restartBackoff.maxDelay: must be positive, got 0s",
		"spec.restartBackoff.resetAfter: must be positive, got 0s",
		"spec.terminationGracePeriodSeconds: must be an integer >= 0",
	} {
		if !contains(lines(err), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Errorf("Validate after SetDefaults: %v", err)
	}
}

func TestFieldErrorsAndErrorList(t *testing.T) {
	fe := &pod.FieldError{Field: "spec.network", Detail: "bad"}
	if fe.Error() != "spec.network: bad" {
		t.Errorf("FieldError.Error() = %q", fe.Error())
	}
	if got := (&pod.FieldError{Detail: "empty pod file"}).Error(); got != "empty pod file" {
		t.Errorf("FieldError without field = %q", got)
	}
	if !errors.Is(fe, pod.ErrInvalid) || errors.Is(fe, pod.ErrNotFound) {
		t.Errorf("FieldError.Is wrong")
	}
	list := pod.ErrorList{fe, {Field: "kind", Detail: "required"}}
	if list.Error() != "spec.network: bad\nkind: required" {
		t.Errorf("ErrorList.Error() = %q", list.Error())
	}
	if !errors.Is(list, pod.ErrInvalid) || errors.Is(list, pod.ErrConflict) {
		t.Errorf("ErrorList.Is wrong")
	}
	if u := list.Unwrap(); len(u) != 2 || u[0] != error(list[0]) || u[1] != error(list[1]) {
		t.Errorf("Unwrap = %v", u)
	}
	var got *pod.FieldError
	if !errors.As(error(list), &got) || got != fe {
		t.Errorf("errors.As = %v", got)
	}
}

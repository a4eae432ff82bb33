package pod

import (
	"fmt"
	"slices"
	"strings"
)

// MaxProbeSeconds is the largest initialDelaySeconds, periodSeconds and
// timeoutSeconds a probe accepts: 365 days. Any of them, and any sum of a
// few of them, converts to a time.Duration without overflow.
const MaxProbeSeconds = 86400 * 365

// MaxPortNameLength is the longest port name, as IANA service names.
const MaxPortNameLength = 15

// The port protocols of ports[].protocol.
const (
	ProtocolTCP  = "TCP"
	ProtocolUDP  = "UDP"
	ProtocolSCTP = "SCTP"
)

// The schemes of an httpGet probe or hook.
const (
	SchemeHTTP  = "HTTP"
	SchemeHTTPS = "HTTPS"
)

// setFeatureDefaults fills the defaults of a process's ports, probes, hooks
// and dependencies. Like SetDefaults, it only fills empty fields, so it is
// idempotent. The stopSignal alias is handled by SetDefaults, which must
// take it before stopSignal's own default.
func (p *Process) setFeatureDefaults() {
	for i := range p.Ports {
		if p.Ports[i].Protocol == "" {
			p.Ports[i].Protocol = ProtocolTCP
		}
	}
	for _, pr := range []*Probe{p.LivenessProbe, p.ReadinessProbe, p.StartupProbe} {
		if pr != nil {
			pr.setDefaults()
		}
	}
	if l := p.Lifecycle; l != nil {
		for _, h := range []*LifecycleHandler{l.PostStart, l.PreStop} {
			if h != nil && h.HTTPGet != nil {
				h.HTTPGet.setDefaults()
			}
		}
	}
	for i := range p.DependsOn {
		if p.DependsOn[i].Condition == "" {
			p.DependsOn[i].Condition = ConditionStarted
		}
	}
}

// setDefaults fills a probe's unset timing and its httpGet's path and
// scheme.
func (pr *Probe) setDefaults() {
	if pr.PeriodSeconds == 0 {
		pr.PeriodSeconds = DefaultProbePeriod
	}
	if pr.TimeoutSeconds == 0 {
		pr.TimeoutSeconds = DefaultProbeTimeout
	}
	if pr.SuccessThreshold == 0 {
		pr.SuccessThreshold = DefaultProbeSuccessThreshold
	}
	if pr.FailureThreshold == 0 {
		pr.FailureThreshold = DefaultProbeFailureThreshold
	}
	if pr.HTTPGet != nil {
		pr.HTTPGet.setDefaults()
	}
}

func (h *HTTPGetAction) setDefaults() {
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = SchemeHTTP
	}
}

// ResolvePort turns a port of a probe or hook of process p into a number.
// A number is itself. A name is looked up in p's own ports first, then in
// the ports of the pod's other processes, init processes then app
// processes, each in spec order; the first port of that name wins. ok is
// false when the name is declared nowhere or the number is not a port
// number (1 to 65535). p may be nil: then only the pod's processes are
// searched.
func (s *Spec) ResolvePort(p *Process, v IntOrString) (port int, ok bool) {
	n := v.IntVal
	if v.IsString {
		found := false
		if p != nil {
			n, found = lookupPort(p, v.StrVal)
		}
		for _, list := range [][]Process{s.InitProcesses, s.Processes} {
			for i := 0; !found && i < len(list); i++ {
				n, found = lookupPort(&list[i], v.StrVal)
			}
		}
		if !found {
			return 0, false
		}
	}
	return int(n), n >= 1 && n <= 65535
}

// lookupPort finds the number of p's first port named name.
func lookupPort(p *Process, name string) (int32, bool) {
	for _, cp := range p.Ports {
		if cp.Name == name && name != "" {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// specIndex finds a pod's processes and port names by name without a scan,
// so that validating a pod of many processes stays linear.
type specIndex struct {
	s         *Spec
	init, app map[string]int  // the first process of each name
	portNames map[string]bool // every port name declared in the pod
}

func newSpecIndex(s *Spec) *specIndex {
	x := &specIndex{s: s, init: map[string]int{}, app: map[string]int{}, portNames: map[string]bool{}}
	for i, p := range s.InitProcesses {
		if _, dup := x.init[p.Name]; !dup {
			x.init[p.Name] = i
		}
	}
	for i, p := range s.Processes {
		if _, dup := x.app[p.Name]; !dup {
			x.app[p.Name] = i
		}
	}
	for _, list := range [][]Process{s.InitProcesses, s.Processes} {
		for _, p := range list {
			for _, cp := range p.Ports {
				if cp.Name != "" {
					x.portNames[cp.Name] = true
				}
			}
		}
	}
	return x
}

// validateFeatures checks a process's ports, probes, lifecycle hooks,
// dependsOn and restartPolicyRules. init tells an init process from an app
// process.
func (x *specIndex) validateFeatures(errs *ErrorList, field string, p *Process, init bool) {
	validatePorts(errs, field+".ports", p.Ports)
	for _, pr := range []struct {
		kind  string
		probe *Probe
	}{
		{"livenessProbe", p.LivenessProbe},
		{"readinessProbe", p.ReadinessProbe},
		{"startupProbe", p.StartupProbe},
	} {
		if pr.probe == nil {
			continue
		}
		f := field + "." + pr.kind
		if init && !p.IsSidecar() {
			errs.add(f, "not allowed on an init process that is not a sidecar (restartPolicy: Always)")
			continue
		}
		x.validateProbe(errs, f, pr.kind, pr.probe)
	}
	if l := p.Lifecycle; l != nil {
		x.validateHook(errs, field+".lifecycle.postStart", l.PostStart)
		x.validateHook(errs, field+".lifecycle.preStop", l.PreStop)
		if l.StopSignal != "" {
			f := field + ".lifecycle.stopSignal"
			n, ok := ParseSignal(l.StopSignal)
			if !ok {
				errs.add(f, "unknown signal %s", quote(l.StopSignal))
			} else if m, ok := ParseSignal(p.StopSignal); ok && m != n {
				errs.add(f, "must be the same signal as stopSignal (%s) when both are set, got %s", quote(p.StopSignal), quote(l.StopSignal))
			}
		}
	}
	if init {
		if len(p.DependsOn) > 0 {
			errs.add(field+".dependsOn", "dependsOn is not allowed on init processes")
		}
	} else {
		x.validateDependsOn(errs, field+".dependsOn", p)
	}
	validateRestartRules(errs, field+".restartPolicyRules", p.RestartPolicyRules)
}

// validatePorts checks a process's ports list.
func validatePorts(errs *ErrorList, field string, ports []ContainerPort) {
	names := map[string]bool{}
	for i, cp := range ports {
		f := fmt.Sprintf("%s[%d]", field, i)
		if cp.Name != "" {
			if problem := portNameProblem(cp.Name); problem != "" {
				errs.add(f+".name", "invalid port name %s: %s", quote(cp.Name), problem)
			} else if names[cp.Name] {
				errs.add(f+".name", "duplicate port name %s", quote(cp.Name))
			}
			names[cp.Name] = true
		}
		validatePortNumber(errs, f+".containerPort", int64(cp.ContainerPort))
		switch cp.Protocol {
		case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
		case "":
			errs.add(f+".protocol", "required: TCP, UDP or SCTP")
		default:
			errs.add(f+".protocol", "unsupported value %s: must be TCP, UDP or SCTP", quote(cp.Protocol))
		}
	}
}

// validatePortNumber checks a port given as a number.
func validatePortNumber(errs *ErrorList, field string, n int64) {
	switch {
	case n == 0:
		errs.add(field, "required: a port number between 1 and 65535")
	case n < 1 || n > 65535:
		errs.add(field, "must be between 1 and 65535, got %d", n)
	}
}

// portNameProblem says what makes name a bad port name, or "" for a good
// one. A port name is an IANA service name (IANA_SVC_NAME, RFC 6335), as
// Kubernetes': at most 15 lowercase letters, digits and '-', with at least
// one letter, neither starting nor ending with '-', without "--".
func portNameProblem(name string) string {
	letter := false
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9' || c == '-':
		default:
			return "must contain only lowercase letters, digits and '-'"
		}
	}
	switch {
	case len(name) > MaxPortNameLength:
		return fmt.Sprintf("must be at most %d characters", MaxPortNameLength)
	case !letter:
		return "must contain at least one letter"
	case strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-"):
		return "must not start or end with '-'"
	case strings.Contains(name, "--"):
		return `must not contain "--"`
	}
	return ""
}

// validatePortRef checks the port of an httpGet or tcpSocket action: a
// port number, or the name of a port some process of the pod declares.
func (x *specIndex) validatePortRef(errs *ErrorList, field string, v IntOrString) {
	if !v.IsString {
		if v.IntVal == 0 {
			errs.add(field, "required: a port number between 1 and 65535 or a port name")
		} else {
			validatePortNumber(errs, field, int64(v.IntVal))
		}
		return
	}
	switch {
	case v.StrVal == "":
		errs.add(field, "required: a port number between 1 and 65535 or a port name")
	case isDecimalInt(v.StrVal):
		// A number beyond int32 or a quoted one that UnmarshalText did not
		// take as a number.
		errs.add(field, "must be between 1 and 65535, got %s", quote(v.StrVal))
	default:
		if problem := portNameProblem(v.StrVal); problem != "" {
			errs.add(field, "invalid port name %s: %s", quote(v.StrVal), problem)
		} else if !x.portNames[v.StrVal] {
			errs.add(field, "named port %s is not declared by any process of the pod", quote(v.StrVal))
		}
	}
}

// validateProbe checks one probe; kind is livenessProbe, readinessProbe or
// startupProbe.
func (x *specIndex) validateProbe(errs *ErrorList, field, kind string, pr *Probe) {
	var set []string
	if pr.Exec != nil {
		set = append(set, "exec")
	}
	if pr.HTTPGet != nil {
		set = append(set, "httpGet")
	}
	if pr.TCPSocket != nil {
		set = append(set, "tcpSocket")
	}
	if pr.GRPC != nil {
		set = append(set, "grpc")
	}
	oneHandler(errs, field, set, "exec, httpGet, tcpSocket, grpc")
	x.validateActions(errs, field, pr.Exec, pr.HTTPGet, pr.TCPSocket)
	if g := pr.GRPC; g != nil {
		validatePortNumber(errs, field+".grpc.port", int64(g.Port))
		if g.Service != nil {
			noNUL(errs, field+".grpc.service", *g.Service)
		}
	}
	probeSeconds(errs, field+".initialDelaySeconds", pr.InitialDelaySeconds, 0)
	probeSeconds(errs, field+".periodSeconds", pr.PeriodSeconds, 1)
	probeSeconds(errs, field+".timeoutSeconds", pr.TimeoutSeconds, 1)
	switch {
	case pr.SuccessThreshold < 1:
		errs.add(field+".successThreshold", "must be at least 1, got %d", pr.SuccessThreshold)
	case pr.SuccessThreshold != 1 && kind != "readinessProbe":
		errs.add(field+".successThreshold", "must be 1 for a %s, got %d", kind, pr.SuccessThreshold)
	}
	if pr.FailureThreshold < 1 {
		errs.add(field+".failureThreshold", "must be at least 1, got %d", pr.FailureThreshold)
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil {
		f := field + ".terminationGracePeriodSeconds"
		switch {
		case kind == "readinessProbe":
			errs.add(f, "not allowed on a readinessProbe (only on livenessProbe and startupProbe)")
		case *g < 1:
			errs.add(f, "must be at least 1, got %d", *g)
		default:
			if _, err := GracePeriod(*g); err != nil {
				errs.add(f, "%s", err.(*FieldError).Detail)
			}
		}
	}
}

// probeSeconds checks a probe's number of seconds: at least lo, at most
// MaxProbeSeconds.
func probeSeconds(errs *ErrorList, field string, n int32, lo int32) {
	switch {
	case n < lo && lo == 0:
		errs.add(field, "must be an integer >= 0, got %d", n)
	case n < lo:
		errs.add(field, "must be at least %d, got %d", lo, n)
	case n > MaxProbeSeconds:
		errs.add(field, "must be at most %d (365 days), got %d", MaxProbeSeconds, n)
	}
}

// validateHook checks a postStart or preStop hook.
func (x *specIndex) validateHook(errs *ErrorList, field string, h *LifecycleHandler) {
	if h == nil {
		return
	}
	var set []string
	if h.Exec != nil {
		set = append(set, "exec")
	}
	if h.HTTPGet != nil {
		set = append(set, "httpGet")
	}
	if h.TCPSocket != nil {
		set = append(set, "tcpSocket")
	}
	if h.Sleep != nil {
		set = append(set, "sleep")
	}
	oneHandler(errs, field, set, "exec, httpGet, tcpSocket, sleep")
	x.validateActions(errs, field, h.Exec, h.HTTPGet, h.TCPSocket)
	if h.Sleep != nil {
		if n := h.Sleep.Seconds; n < 0 {
			errs.add(field+".sleep.seconds", "must be an integer >= 0, got %d", n)
		} else if _, err := GracePeriod(n); err != nil {
			errs.add(field+".sleep.seconds", "%s", err.(*FieldError).Detail)
		}
	}
}

// oneHandler checks that exactly one handler is set; set names those set,
// all those allowed.
func oneHandler(errs *ErrorList, field string, set []string, all string) {
	switch len(set) {
	case 0:
		errs.add(field, "required: one of %s", all)
	case 1:
	default:
		last := len(set) - 1
		errs.add(field, "must have exactly one handler, got %s and %s", strings.Join(set[:last], ", "), set[last])
	}
}

// validateActions checks the actions probes and hooks share; nil ones are
// left out.
func (x *specIndex) validateActions(errs *ErrorList, field string, e *ExecAction, h *HTTPGetAction, t *TCPSocketAction) {
	if e != nil {
		f := field + ".exec.command"
		if len(e.Command) == 0 {
			errs.add(f, "required: at least the program")
		} else if e.Command[0] == "" {
			errs.add(f+"[0]", "must not be empty")
		}
		for i, a := range e.Command {
			if strings.IndexByte(a, 0) >= 0 {
				noNUL(errs, fmt.Sprintf("%s[%d]", f, i), a)
			}
		}
	}
	if h != nil {
		f := field + ".httpGet"
		if noNUL(errs, f+".path", h.Path) && hasSpaceOrControl(h.Path) {
			errs.add(f+".path", "must not contain spaces or control characters, got %s", quote(h.Path))
		}
		x.validatePortRef(errs, f+".port", h.Port)
		validateHost(errs, f+".host", h.Host)
		switch h.Scheme {
		case SchemeHTTP, SchemeHTTPS:
		case "":
			errs.add(f+".scheme", "required: HTTP or HTTPS")
		default:
			errs.add(f+".scheme", "unsupported value %s: must be HTTP or HTTPS", quote(h.Scheme))
		}
		for i, hd := range h.HTTPHeaders {
			hf := fmt.Sprintf("%s.httpHeaders[%d]", f, i)
			switch {
			case hd.Name == "":
				errs.add(hf+".name", "required")
			case !isHeaderToken(hd.Name):
				errs.add(hf+".name", "invalid header name %s", quote(hd.Name))
			}
			if strings.ContainsFunc(hd.Value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				errs.add(hf+".value", "must not contain control characters")
			}
		}
	}
	if t != nil {
		f := field + ".tcpSocket"
		x.validatePortRef(errs, f+".port", t.Port)
		validateHost(errs, f+".host", t.Host)
	}
}

// validateHost checks the host of an httpGet or tcpSocket action, when set.
func validateHost(errs *ErrorList, field, host string) {
	if noNUL(errs, field, host) && hasSpaceOrControl(host) {
		errs.add(field, "must not contain spaces or control characters, got %s", quote(host))
	}
}

func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// isHeaderToken reports whether s is an HTTP field name: a token of RFC
// 9110's tchar.
func isHeaderToken(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// validateRestartRules checks a process's restartPolicyRules.
func validateRestartRules(errs *ErrorList, field string, rules []RestartRule) {
	for i, r := range rules {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch r.Action {
		case RuleRestart, RuleRestartAllContainers:
		case "":
			errs.add(f+".action", "required: Restart or RestartAllContainers")
		default:
			errs.add(f+".action", "unsupported value %s: must be Restart or RestartAllContainers", quote(r.Action))
		}
		ec := r.ExitCodes
		if ec == nil {
			errs.add(f+".exitCodes", "required")
			continue
		}
		switch ec.Operator {
		case OperatorIn, OperatorNotIn:
		case "":
			errs.add(f+".exitCodes.operator", "required: In or NotIn")
		default:
			errs.add(f+".exitCodes.operator", "unsupported value %s: must be In or NotIn", quote(ec.Operator))
		}
		if len(ec.Values) == 0 {
			errs.add(f+".exitCodes.values", "must not be empty")
		}
		var seen [256]bool
		for j, v := range ec.Values {
			vf := fmt.Sprintf("%s.exitCodes.values[%d]", f, j)
			switch {
			case v < 0 || v > 255:
				errs.add(vf, "must be between 0 and 255, got %d", v)
			case seen[v]:
				errs.add(vf, "duplicate value %d", v)
			default:
				seen[v] = true
			}
		}
	}
}

// validateDependsOn checks the dependsOn list of app process p; cycles are
// checked for the whole pod by validateDependencyCycles.
func (x *specIndex) validateDependsOn(errs *ErrorList, field string, p *Process) {
	seen := map[string]bool{}
	for j, d := range p.DependsOn {
		f := fmt.Sprintf("%s[%d]", field, j)
		_, isInit := x.init[d.Name]
		_, isApp := x.app[d.Name]
		switch {
		case d.Name == "":
			errs.add(f+".name", "required")
		case d.Name == p.Name:
			errs.add(f+".name", "a process cannot depend on itself")
		case seen[d.Name]:
			errs.add(f+".name", "duplicate name %s", quote(d.Name))
		case isInit:
			errs.add(f+".name", "cannot depend on init process %s: init processes run before every app process", quote(d.Name))
		case !isApp:
			errs.add(f+".name", "unknown process %s", quote(d.Name))
		}
		seen[d.Name] = true
		switch d.Condition {
		case ConditionStarted, ConditionReady, ConditionSucceeded:
		case "":
			errs.add(f+".condition", "required: Started, Ready or Succeeded")
		default:
			errs.add(f+".condition", "unsupported value %s: must be Started, Ready or Succeeded", quote(d.Condition))
		}
	}
}

// maxCycleNames is how many process names a cycle's error shows.
const maxCycleNames = 6

// validateDependencyCycles reports the dependency cycles among the app
// processes: one per group of processes that wait on each other (a
// strongly connected component of the dependsOn graph), on the dependsOn of
// the group's first process in spec order, as the shortest cycle through
// it: "dependency cycle: a -> b -> c -> a".
func (x *specIndex) validateDependencyCycles(errs *ErrorList) {
	procs := x.s.Processes
	edges := make([][]int, len(procs))
	for i, p := range procs {
		// A bad name is reported already; leaving it out keeps the
		// cycle's message short.
		if !IsLabel(p.Name) {
			continue
		}
		for _, d := range p.DependsOn {
			if j, ok := x.app[d.Name]; ok && j != i && IsLabel(d.Name) {
				edges[i] = append(edges[i], j)
			}
		}
		slices.Sort(edges[i])
		edges[i] = slices.Compact(edges[i])
	}
	for _, comp := range cycles(edges) {
		first := comp[0]
		cycle := shortestCycle(edges, comp, first)
		names := make([]string, len(cycle))
		for k, i := range cycle {
			names[k] = procs[i].Name
		}
		field := fmt.Sprintf("spec.processes[%d].dependsOn", first)
		if n := len(names) - 1; n > maxCycleNames {
			errs.add(field, "dependency cycle of %d processes: %s -> ... -> %s", n,
				strings.Join(names[:maxCycleNames-1], " -> "), names[0])
		} else {
			errs.add(field, "dependency cycle: %s", strings.Join(names, " -> "))
		}
	}
}

// cycles returns the strongly connected components of a graph (Tarjan's
// algorithm) that hold more than one node, each sorted, ordered by their
// smallest node.
func cycles(edges [][]int) [][]int {
	n := len(edges)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var comps [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				slices.Sort(comp)
				comps = append(comps, comp)
			}
		}
	}
	for v := range n {
		if index[v] < 0 {
			visit(v)
		}
	}
	slices.SortFunc(comps, func(a, b []int) int { return a[0] - b[0] })
	return comps
}

// shortestCycle returns the shortest cycle from start back to start inside
// comp (a strongly connected component holding start), both ends included.
func shortestCycle(edges [][]int, comp []int, start int) []int {
	in := make(map[int]bool, len(comp))
	for _, v := range comp {
		in[v] = true
	}
	prev := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range edges[v] {
			if !in[w] {
				continue
			}
			if w == start {
				path := []int{start}
				for u := v; u != start; u = prev[u] {
					path = append(path, u)
				}
				path = append(path, start)
				slices.Reverse(path)
				return path
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []int{start, start} // not reached: comp is strongly connected
}

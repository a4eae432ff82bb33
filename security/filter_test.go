//go:build amd64 || arm64

package security

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// seccompData is struct seccomp_data.
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// validate checks a program as the kernel's classic-BPF and seccomp
// checkers would, for the instructions we emit: known opcodes only, aligned
// in-bounds loads, forward jumps inside the program, every path ending in a
// return.
func validate(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return fmt.Errorf("length %d", len(prog))
	}
	for pc, in := range prog {
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K >= 64 {
				return fmt.Errorf("pc %d: load at %d", pc, in.K)
			}
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if pc+1+int(in.Jt) >= len(prog) || pc+1+int(in.Jf) >= len(prog) {
				return fmt.Errorf("pc %d: jump out of the program", pc)
			}
		case unix.BPF_RET | unix.BPF_K:
		default:
			return fmt.Errorf("pc %d: opcode %#x", pc, in.Code)
		}
	}
	if last := prog[len(prog)-1]; last.Code != unix.BPF_RET|unix.BPF_K {
		return fmt.Errorf("does not end with a return")
	}
	return nil
}

// run interprets prog on d. argsRead reports whether the run loaded
// anything but nr and arch (the kernel's action cache cannot learn such a
// syscall).
func run(t *testing.T, prog []unix.SockFilter, d seccompData) (ret uint32, argsRead bool) {
	t.Helper()
	mem := d.bytes()
	var a uint32
	for pc, steps := 0, 0; pc < len(prog); steps++ {
		if steps > len(prog) {
			t.Fatalf("loop at pc %d", pc)
		}
		in := prog[pc]
		pc++
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			a = binary.LittleEndian.Uint32(mem[in.K:])
			if in.K != offNR && in.K != offArch {
				argsRead = true
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K, argsRead
		default:
			var taken bool
			switch in.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				taken = a == in.K
			case unix.BPF_JGE:
				taken = a >= in.K
			case unix.BPF_JGT:
				taken = a > in.K
			case unix.BPF_JSET:
				taken = a&in.K != 0
			default:
				t.Fatalf("pc %d: opcode %#x", pc-1, in.Code)
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
	}
	t.Fatalf("ran off the end")
	return 0, false
}

func mask(caps ...int) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return m
}

func verdict(r uint32) string {
	switch r {
	case retAllow:
		return "ALLOW"
	case retEPERM:
		return "EPERM"
	case retKill:
		return "KILL_PROCESS"
	}
	return fmt.Sprintf("%#x", r)
}

func sys(nr uint32, args ...uint64) seccompData {
	d := seccompData{nr: nr, arch: nativeArch}
	copy(d.args[:], args)
	return d
}

// The syscalls the Go runtime, a libc and ordinary programs need.
var mustAllow = []uint32{
	unix.SYS_READ, unix.SYS_WRITE, unix.SYS_CLOSE, unix.SYS_OPENAT, unix.SYS_FSTAT,
	unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MADVISE, unix.SYS_BRK,
	unix.SYS_FUTEX, unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN,
	unix.SYS_SIGALTSTACK, unix.SYS_EXIT, unix.SYS_EXIT_GROUP, unix.SYS_TGKILL, unix.SYS_GETTID,
	unix.SYS_CLOCK_GETTIME, unix.SYS_SCHED_YIELD, unix.SYS_NANOSLEEP, unix.SYS_EPOLL_PWAIT,
	unix.SYS_CLONE3, unix.SYS_EXECVE, unix.SYS_WAIT4, unix.SYS_WAITID, unix.SYS_PIPE2,
	unix.SYS_SETUID, unix.SYS_SETGID, unix.SYS_SETGROUPS, unix.SYS_SETSID, unix.SYS_DUP3,
	unix.SYS_PRCTL, unix.SYS_SECCOMP, unix.SYS_GETRANDOM, unix.SYS_RSEQ, unix.SYS_SCHED_GETAFFINITY,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_ADJTIMEX, unix.SYS_CLOCK_ADJTIME,
	unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_PIDFD_OPEN, unix.SYS_PIDFD_SEND_SIGNAL, unix.SYS_CAPSET,
}

var defaultCaps = mask(DefaultCapabilities()...)

func build(t *testing.T, bounding uint64) []unix.SockFilter {
	t.Helper()
	prog, err := filterFor(bounding)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(prog); err != nil {
		t.Fatalf("invalid program: %v", err)
	}
	return prog
}

func TestFilterVerdicts(t *testing.T) {
	prog := build(t, defaultCaps)
	t.Logf("%d instructions for the default capabilities", len(prog))
	foreign := uint32(unix.AUDIT_ARCH_I386)
	if runtime.GOARCH == "arm64" {
		foreign = unix.AUDIT_ARCH_ARM
	}
	cases := []struct {
		name string
		d    seccompData
		want uint32
	}{
		{"mount", sys(unix.SYS_MOUNT), retEPERM},
		{"read", sys(unix.SYS_READ), retAllow},
		{"foreign arch", seccompData{nr: unix.SYS_READ, arch: foreign}, retKill},
		{"foreign arch, denied nr", seccompData{nr: unix.SYS_MOUNT, arch: foreign}, retKill},
		{"clone CLONE_NEWNET", sys(unix.SYS_CLONE, unix.CLONE_NEWNET|uint64(unix.SIGCHLD)), retEPERM},
		{"clone CLONE_NEWUSER", sys(unix.SYS_CLONE, unix.CLONE_NEWUSER), retEPERM},
		{"clone CLONE_NEWCGROUP", sys(unix.SYS_CLONE, unix.CLONE_NEWCGROUP), retEPERM},
		{"clone thread flags", sys(unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|
			unix.CLONE_SYSVSEM|unix.CLONE_THREAD|unix.CLONE_SETTLS|unix.CLONE_PARENT_SETTID|unix.CLONE_CHILD_CLEARTID), retAllow},
		{"clone Go fork flags", sys(unix.SYS_CLONE, unix.CLONE_VFORK|unix.CLONE_VM|unix.CLONE_PIDFD|uint64(unix.SIGCHLD)), retAllow},
		{"clone high bits ignored", sys(unix.SYS_CLONE, 1<<40|uint64(unix.SIGCHLD)), retAllow},
		{"clone3", sys(unix.SYS_CLONE3), retAllow},
		{"unshare", sys(unix.SYS_UNSHARE, unix.CLONE_NEWUSER), retEPERM},
		{"setns", sys(unix.SYS_SETNS), retEPERM},
		{"socket AF_INET", sys(unix.SYS_SOCKET, unix.AF_INET), retAllow},
		{"socket AF_UNIX", sys(unix.SYS_SOCKET, unix.AF_UNIX), retAllow},
		{"socket AF_ALG", sys(unix.SYS_SOCKET, unix.AF_ALG), retEPERM},
		{"socket AF_VSOCK", sys(unix.SYS_SOCKET, unix.AF_VSOCK), retEPERM},
		{"socket AF_VSOCK with high bits", sys(unix.SYS_SOCKET, 1<<32|unix.AF_VSOCK), retEPERM},
		{"socket AF_NETLINK", sys(unix.SYS_SOCKET, unix.AF_NETLINK), retAllow},
		{"personality query", sys(unix.SYS_PERSONALITY, 0xffffffff), retAllow},
		{"personality PER_LINUX", sys(unix.SYS_PERSONALITY, 0), retAllow},
		{"personality UNAME26|PER_LINUX32", sys(unix.SYS_PERSONALITY, 0x20008), retAllow},
		{"personality ADDR_NO_RANDOMIZE", sys(unix.SYS_PERSONALITY, 0x0040000), retEPERM},
		{"chroot (CAP_SYS_CHROOT is default)", sys(unix.SYS_CHROOT), retAllow},
		{"ptrace", sys(unix.SYS_PTRACE), retAllow},
		{"kcmp", sys(unix.SYS_KCMP), retEPERM},
		{"bpf", sys(unix.SYS_BPF), retEPERM},
		{"keyctl", sys(unix.SYS_KEYCTL), retEPERM},
		{"io_uring_setup", sys(unix.SYS_IO_URING_SETUP), retEPERM},
		{"nr beyond the table", sys(1000), retAllow},
	}
	if x32Bit != 0 {
		cases = append(cases,
			struct {
				name string
				d    seccompData
				want uint32
			}{"x32 read", sys(x32Bit | unix.SYS_READ), retKill},
			struct {
				name string
				d    seccompData
				want uint32
			}{"nr -1", sys(0xffffffff), retAllow},
		)
	}
	for _, c := range cases {
		if got, _ := run(t, prog, c.d); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, verdict(got), verdict(c.want))
		}
	}
}

// Every rule, under every relevant bounding set, gives the profile's answer;
// every other syscall number is allowed without reading arguments.
func TestFilterRules(t *testing.T) {
	bsets := map[string]uint64{
		"none":                       0,
		"default":                    defaultCaps,
		"default+SYS_ADMIN":          defaultCaps | mask(unix.CAP_SYS_ADMIN),
		"default+BPF+PERFMON+SYSLOG": defaultCaps | mask(unix.CAP_BPF, unix.CAP_PERFMON, unix.CAP_SYSLOG),
		"all":                        1<<(LastCap()+1) - 1,
	}
	for name, bset := range bsets {
		prog := build(t, bset)
		ruled := map[uint32]bool{}
		for _, r := range allRules() {
			ruled[r.nr] = true
			lifted := false
			for _, c := range r.caps {
				lifted = lifted || bset&(1<<c) != 0
			}
			probe := sys(r.nr)
			switch r.act {
			case actClone:
				probe = sys(r.nr, unix.CLONE_NEWNS)
			case actSocket:
				probe = sys(r.nr, unix.AF_ALG)
			case actPersonality:
				probe = sys(r.nr, 0x1)
			}
			want := uint32(retEPERM)
			if lifted {
				want = retAllow
			}
			if got, _ := run(t, prog, probe); got != want {
				t.Errorf("%s: %s: %s, want %s", name, r.name, verdict(got), verdict(want))
			}
		}
		for nr := uint32(0); nr < 1024; nr++ {
			if ruled[nr] {
				continue
			}
			got, argsRead := run(t, prog, sys(nr, ^uint64(0), ^uint64(0)))
			if got != retAllow || argsRead {
				t.Errorf("%s: nr %d: %s (args read: %v), want ALLOW without reading arguments", name, nr, verdict(got), argsRead)
			}
		}
		for _, nr := range mustAllow {
			if ruled[nr] {
				t.Errorf("syscall %d, needed by the Go runtime or ordinary programs, has a rule", nr)
			}
		}
		t.Logf("%s: %d instructions", name, len(prog))
	}
}

// The rules name each syscall once, under the right number.
func TestRulesTable(t *testing.T) {
	seen := map[uint32]string{}
	for _, r := range allRules() {
		if prev, ok := seen[r.nr]; ok {
			t.Errorf("nr %d: %s and %s", r.nr, prev, r.name)
		}
		seen[r.nr] = r.name
	}
	if !slices.IsSortedFunc(allRules(), func(a, b rule) int { return int(a.nr) - int(b.nr) }) {
		t.Error("rules not sorted")
	}
	// Programs for bounding sets that agree on the gating capabilities are
	// the same cached program.
	a := build(t, defaultCaps)
	b := build(t, defaultCaps|mask(unix.CAP_NET_ADMIN))
	if &a[0] != &b[0] {
		t.Error("NET_ADMIN gates nothing but got its own program")
	}
}

func TestCapabilityNames(t *testing.T) {
	for c := 0; c <= unix.CAP_CHECKPOINT_RESTORE; c++ {
		n, ok := CapabilityByName(CapabilityName(c))
		if !ok || n != c {
			t.Errorf("%d → %q → %d, %v", c, CapabilityName(c), n, ok)
		}
	}
	for name, want := range map[string]int{"net_admin": unix.CAP_NET_ADMIN, "SYS_ADMIN": unix.CAP_SYS_ADMIN, "CAP_BPF": unix.CAP_BPF} {
		if n, ok := CapabilityByName(name); !ok || n != want {
			t.Errorf("%q → %d, %v", name, n, ok)
		}
	}
	if _, ok := CapabilityByName("ALL"); ok {
		t.Error("ALL is a capability")
	}
	if CapabilityName(62) != "CAP_62" {
		t.Error(CapabilityName(62))
	}
	if LastCap() < unix.CAP_AUDIT_READ || LastCap() > 63 {
		t.Errorf("LastCap %d", LastCap())
	}
}

func TestPlan(t *testing.T) {
	if !(Plan{}).Empty() || !(Plan{Capabilities: []int{1}}).Empty() {
		t.Error("a plan that does nothing is not empty")
	}
	for _, p := range []Plan{{SetCapabilities: true}, {NoNewPrivs: true}, {Seccomp: true}} {
		if p.Empty() {
			t.Errorf("%+v is empty", p)
		}
	}
	if err := (Plan{SetCapabilities: true, Capabilities: []int{64}}).Validate(); err == nil {
		t.Error("capability 64 accepted")
	}
	if err := (Plan{SetCapabilities: true, Capabilities: []int{-1}}).Validate(); err == nil {
		t.Error("capability -1 accepted")
	}
	if err := (Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), NoNewPrivs: true, Seccomp: true}).Validate(); err != nil {
		t.Error(err)
	}
	if err := Apply(Plan{SetCapabilities: true, Capabilities: []int{99}}); err == nil {
		t.Error("Apply accepted capability 99")
	}
}

func BenchmarkBuildFilter(b *testing.B) {
	rules := activeRules(defaultCaps)
	for b.Loop() {
		if _, err := buildFilter(rules); err != nil {
			b.Fatal(err)
		}
	}
}

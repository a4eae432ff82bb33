//go:build amd64 || arm64

package security

import (
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

const seccompSupported = true

// What the filter does with a syscall it has a rule for. A syscall without a
// rule is allowed.
type action uint8

const (
	actDeny        action = iota + 1 // EPERM
	actClone                         // EPERM when the flags ask for a new namespace
	actSocket                        // EPERM for AF_ALG and AF_VSOCK sockets
	actPersonality                   // EPERM unless a personality moby allows
)

// rule is one syscall the runtime default profile restricts. caps lift the
// rule (the syscall is then allowed, arguments unchecked) when any of them
// is in the process's bounding set, as moby and containerd do.
type rule struct {
	name string
	nr   uint32
	act  action
	caps []int
}

// commonRules are the restrictions of the runtime default profile (moby's
// profiles/seccomp/default.json, containerd's contrib/seccomp, identical but
// for three lsm_* syscalls that containerd allows and moby gates on
// CAP_SYS_ADMIN; we allow them) for syscalls that amd64 and arm64 share.
// Those profiles are allowlists: this is their complement over the syscalls
// golang.org/x/sys knows, written as a denylist. See the package
// documentation for the choices.
var commonRules = []rule{
	// Kernel keyrings are not namespaced.
	{"add_key", unix.SYS_ADD_KEY, actDeny, nil},
	{"keyctl", unix.SYS_KEYCTL, actDeny, nil},
	{"request_key", unix.SYS_REQUEST_KEY, actDeny, nil},
	// io_uring bypasses syscall filtering; moby denies it since 25.0.
	{"io_uring_setup", unix.SYS_IO_URING_SETUP, actDeny, nil},
	{"io_uring_enter", unix.SYS_IO_URING_ENTER, actDeny, nil},
	{"io_uring_register", unix.SYS_IO_URING_REGISTER, actDeny, nil},
	// Loading a new kernel: denied even with CAP_SYS_BOOT.
	{"kexec_load", unix.SYS_KEXEC_LOAD, actDeny, nil},
	{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, actDeny, nil},
	// NUMA page migration of other processes.
	{"migrate_pages", unix.SYS_MIGRATE_PAGES, actDeny, nil},
	{"move_pages", unix.SYS_MOVE_PAGES, actDeny, nil},
	{"nfsservctl", unix.SYS_NFSSERVCTL, actDeny, nil},
	{"pivot_root", unix.SYS_PIVOT_ROOT, actDeny, nil},
	{"swapon", unix.SYS_SWAPON, actDeny, nil},
	{"swapoff", unix.SYS_SWAPOFF, actDeny, nil},
	// A classic kernel-exploit helper; unprivileged use is also sysctl-gated.
	{"userfaultfd", unix.SYS_USERFAULTFD, actDeny, nil},
	// Newer than the profile, which therefore denies them: kept denied to
	// match the runtimes until they list them.
	{"open_tree_attr", unix.SYS_OPEN_TREE_ATTR, actDeny, nil},
	{"file_getattr", unix.SYS_FILE_GETATTR, actDeny, nil},
	{"file_setattr", unix.SYS_FILE_SETATTR, actDeny, nil},
	{"listns", unix.SYS_LISTNS, actDeny, nil},
	{"rseq_slice_yield", unix.SYS_RSEQ_SLICE_YIELD, actDeny, nil},

	// Argument checks, as the profile's argument rules.
	{"personality", unix.SYS_PERSONALITY, actPersonality, nil},
	{"socket", unix.SYS_SOCKET, actSocket, nil},
	{"clone", unix.SYS_CLONE, actClone, []int{unix.CAP_SYS_ADMIN}},

	// Gated on capabilities, as the profile's "includes": {"caps": ...}.
	{"fanotify_init", unix.SYS_FANOTIFY_INIT, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"fsconfig", unix.SYS_FSCONFIG, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"fsmount", unix.SYS_FSMOUNT, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"fsopen", unix.SYS_FSOPEN, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"fspick", unix.SYS_FSPICK, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"lookup_dcookie", unix.SYS_LOOKUP_DCOOKIE, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"mount", unix.SYS_MOUNT, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"mount_setattr", unix.SYS_MOUNT_SETATTR, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"move_mount", unix.SYS_MOVE_MOUNT, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"open_tree", unix.SYS_OPEN_TREE, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"quotactl", unix.SYS_QUOTACTL, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"quotactl_fd", unix.SYS_QUOTACTL_FD, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"setdomainname", unix.SYS_SETDOMAINNAME, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"sethostname", unix.SYS_SETHOSTNAME, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"setns", unix.SYS_SETNS, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"umount2", unix.SYS_UMOUNT2, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"unshare", unix.SYS_UNSHARE, actDeny, []int{unix.CAP_SYS_ADMIN}},
	{"bpf", unix.SYS_BPF, actDeny, []int{unix.CAP_SYS_ADMIN, unix.CAP_BPF}},
	{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, actDeny, []int{unix.CAP_SYS_ADMIN, unix.CAP_PERFMON}},
	{"syslog", unix.SYS_SYSLOG, actDeny, []int{unix.CAP_SYS_ADMIN, unix.CAP_SYSLOG}},
	{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, actDeny, []int{unix.CAP_DAC_READ_SEARCH}},
	{"reboot", unix.SYS_REBOOT, actDeny, []int{unix.CAP_SYS_BOOT}},
	{"chroot", unix.SYS_CHROOT, actDeny, []int{unix.CAP_SYS_CHROOT}},
	{"init_module", unix.SYS_INIT_MODULE, actDeny, []int{unix.CAP_SYS_MODULE}},
	{"finit_module", unix.SYS_FINIT_MODULE, actDeny, []int{unix.CAP_SYS_MODULE}},
	{"delete_module", unix.SYS_DELETE_MODULE, actDeny, []int{unix.CAP_SYS_MODULE}},
	{"acct", unix.SYS_ACCT, actDeny, []int{unix.CAP_SYS_PACCT}},
	{"kcmp", unix.SYS_KCMP, actDeny, []int{unix.CAP_SYS_PTRACE}},
	{"pidfd_getfd", unix.SYS_PIDFD_GETFD, actDeny, []int{unix.CAP_SYS_PTRACE}},
	{"process_madvise", unix.SYS_PROCESS_MADVISE, actDeny, []int{unix.CAP_SYS_PTRACE}},
	{"settimeofday", unix.SYS_SETTIMEOFDAY, actDeny, []int{unix.CAP_SYS_TIME}},
	{"clock_settime", unix.SYS_CLOCK_SETTIME, actDeny, []int{unix.CAP_SYS_TIME}},
	{"vhangup", unix.SYS_VHANGUP, actDeny, []int{unix.CAP_SYS_TTY_CONFIG}},
	{"get_mempolicy", unix.SYS_GET_MEMPOLICY, actDeny, []int{unix.CAP_SYS_NICE}},
	{"set_mempolicy", unix.SYS_SET_MEMPOLICY, actDeny, []int{unix.CAP_SYS_NICE}},
	{"mbind", unix.SYS_MBIND, actDeny, []int{unix.CAP_SYS_NICE}},
	{"set_mempolicy_home_node", unix.SYS_SET_MEMPOLICY_HOME_NODE, actDeny, []int{unix.CAP_SYS_NICE}},
}

// Namespace flags a clone without CAP_SYS_ADMIN may not ask for (moby's
// mask 0x7e020000). CLONE_NEWTIME exists only for clone3 and unshare.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// Personalities moby allows: PER_LINUX, PER_LINUX32, UNAME26,
// UNAME26|PER_LINUX32, and 0xffffffff (query).
var allowedPersonalities = []uint32{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// Offsets in struct seccomp_data (nr, arch, instruction_pointer, args[6]).
// Both supported architectures are little-endian: an argument's low 32
// bits come first.
const (
	offNR   = 0
	offArch = 4
	offArgs = 16
)

func argLow(i int) uint32 { return uint32(offArgs + 8*i) }

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
)

// allRules is commonRules and archRules sorted by syscall number.
var allRules = sync.OnceValue(func() []rule {
	rs := slices.Concat(commonRules, archRules)
	slices.SortFunc(rs, func(a, b rule) int { return int(a.nr) - int(b.nr) })
	return rs
})

// gateMask is every capability some rule is gated on: two bounding sets
// that agree on it get the same filter.
var gateMask = sync.OnceValue(func() uint64 {
	var m uint64
	for _, r := range allRules() {
		for _, c := range r.caps {
			m |= 1 << c
		}
	}
	return m
})

// activeRules are the rules that apply to a process whose bounding set is
// bounding.
func activeRules(bounding uint64) []rule {
	var out []rule
	for _, r := range allRules() {
		lifted := false
		for _, c := range r.caps {
			if bounding&(1<<c) != 0 {
				lifted = true
			}
		}
		if !lifted {
			out = append(out, r)
		}
	}
	return out
}

// filters caches the programs by the gating part of the bounding set; in
// practice a supervisor sees a handful (the default set, with or without a
// few added capabilities, and everything).
var filters sync.Map // uint64 → []unix.SockFilter

// filterFor returns the RuntimeDefault program for a process whose bounding
// set is bounding. The slice is shared: do not modify it.
func filterFor(bounding uint64) ([]unix.SockFilter, error) {
	key := bounding & gateMask()
	if f, ok := filters.Load(key); ok {
		return f.([]unix.SockFilter), nil
	}
	f, err := buildFilter(activeRules(key))
	if err != nil {
		return nil, err
	}
	actual, _ := filters.LoadOrStore(key, f)
	return actual.([]unix.SockFilter), nil
}

// buildFilter writes the program:
//
//	arch != native            → KILL_PROCESS
//	amd64: nr >= 0x40000000   → KILL_PROCESS (x32 ABI), but nr == -1 → ALLOW
//	binary search on nr over the rules, each leaf testing up to four
//	numbers; a rule's number → EPERM or its argument check
//	anything else             → ALLOW
//
// Only nr and arch are read until a rule with an argument check matches,
// so the kernel's per-syscall action cache (Linux 5.11+) learns that every
// other syscall is allowed and skips the filter for them.
func buildFilter(rules []rule) ([]unix.SockFilter, error) {
	var e emitter
	kill := e.newLabel()
	e.load(offArch)
	e.jump(unix.BPF_JEQ, nativeArch, next, kill)
	e.load(offNR)
	var x32 label
	if x32Bit != 0 {
		x32 = e.newLabel()
		e.jump(unix.BPF_JGE, x32Bit, x32, next)
	}
	e.tree(rules)
	if x32Bit != 0 {
		e.bind(x32)
		e.jump(unix.BPF_JEQ, 0xffffffff, next, kill)
		e.ret(retAllow)
	}
	e.bind(kill)
	e.ret(retKill)
	return e.assemble()
}

// tree emits a decision on A (the syscall number) for rules sorted by nr.
func (e *emitter) tree(rules []rule) {
	const leaf = 4
	if len(rules) > leaf {
		mid := len(rules) / 2
		right := e.newLabel()
		e.jump(unix.BPF_JGE, rules[mid].nr, right, next)
		e.tree(rules[:mid])
		e.bind(right)
		e.tree(rules[mid:])
		return
	}
	deny := e.newLabel()
	targets := make([]label, len(rules))
	denies := false
	for i, r := range rules {
		if r.act == actDeny {
			targets[i], denies = deny, true
		} else {
			targets[i] = e.newLabel()
		}
		e.jump(unix.BPF_JEQ, r.nr, targets[i], next)
	}
	e.ret(retAllow)
	if denies {
		e.bind(deny)
		e.ret(retEPERM)
	}
	for i, r := range rules {
		if r.act != actDeny {
			e.bind(targets[i])
			e.argCheck(r.act)
		}
	}
}

// argCheck emits the argument test of a rule; A holds the syscall number.
// The kernel truncates these arguments to 32 bits (int flags, int family,
// unsigned int personality), so only the low word is compared: stricter
// than libseccomp's 64-bit comparisons, which a caller could defeat by
// setting high bits the kernel then ignores.
func (e *emitter) argCheck(act action) {
	allow, deny := e.newLabel(), e.newLabel()
	e.load(argLow(0))
	switch act {
	case actClone:
		e.jump(unix.BPF_JSET, cloneNamespaceFlags, deny, allow)
	case actSocket:
		e.jump(unix.BPF_JEQ, unix.AF_ALG, deny, next)
		e.jump(unix.BPF_JEQ, unix.AF_VSOCK, deny, allow)
	case actPersonality:
		for _, p := range allowedPersonalities {
			e.jump(unix.BPF_JEQ, p, allow, next)
		}
		e.ret(retEPERM)
		e.bind(allow)
		e.ret(retAllow)
		return
	default:
		panic(fmt.Sprintf("security: no argument check for action %d", act))
	}
	e.bind(allow)
	e.ret(retAllow)
	e.bind(deny)
	e.ret(retEPERM)
}

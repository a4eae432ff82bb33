package security

import "golang.org/x/sys/unix"

// nativeArch is the seccomp_data.arch of a syscall made through the native
// ABI; any other (i386 through int 0x80) kills the process.
const nativeArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks syscalls of the x32 ABI, which report the x86_64 arch: they
// kill the process too (nr -1, used to skip a syscall, is let through).
const x32Bit = 0x40000000

// archRules are the profile's restrictions on amd64-only syscalls.
var archRules = []rule{
	// Obsolete or never implemented (the kernel answers ENOSYS; the
	// profile, which does not list them, EPERM).
	{"_sysctl", unix.SYS__SYSCTL, actDeny, nil},
	{"afs_syscall", unix.SYS_AFS_SYSCALL, actDeny, nil},
	{"create_module", unix.SYS_CREATE_MODULE, actDeny, nil},
	{"get_kernel_syms", unix.SYS_GET_KERNEL_SYMS, actDeny, nil},
	{"query_module", unix.SYS_QUERY_MODULE, actDeny, nil},
	{"getpmsg", unix.SYS_GETPMSG, actDeny, nil},
	{"putpmsg", unix.SYS_PUTPMSG, actDeny, nil},
	{"security", unix.SYS_SECURITY, actDeny, nil},
	{"tuxcall", unix.SYS_TUXCALL, actDeny, nil},
	{"vserver", unix.SYS_VSERVER, actDeny, nil},
	{"sysfs", unix.SYS_SYSFS, actDeny, nil},
	{"uselib", unix.SYS_USELIB, actDeny, nil},
	{"ustat", unix.SYS_USTAT, actDeny, nil},
	// Not in the profile; Linux lets it through seccomp anyway (it is
	// called from the kernel's own uprobe trampolines).
	{"uprobe", unix.SYS_UPROBE, actDeny, nil},
	{"iopl", unix.SYS_IOPL, actDeny, []int{unix.CAP_SYS_RAWIO}},
	{"ioperm", unix.SYS_IOPERM, actDeny, []int{unix.CAP_SYS_RAWIO}},
}

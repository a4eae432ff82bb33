// Package security applies a process's security settings — capabilities,
// no_new_privs and the RuntimeDefault seccomp filter — to the calling,
// locked OS thread, irreversibly, just before that thread forks the process
// with syscall.ForkExec. The child inherits the thread's state. It knows
// nothing of pods, users or specs: a Plan says what to do, Apply does it.
//
// Threads are the unit here: capabilities, no_new_privs and a seccomp
// filter installed without TSYNC all belong to one thread, so the rest of
// the supervisor keeps its privileges. The caller must runtime.LockOSThread
// before Apply and never unlock afterwards (whether Apply succeeded or not);
// Go discards the thread when the goroutine ends. That goroutine may keep
// running ordinary Go code after the fork (channel operations, allocation,
// new goroutines): nothing the runtime needs is denied, and the runtime
// creates new threads from a clean template thread, never by cloning a
// thread locked with LockOSThread, so the settings do not leak into other
// threads. Main should lock the main thread in init(), as the supervisor
// does, so that no such goroutine ever runs there (Go cannot discard the
// main thread). A thread after Apply cannot setns back to the supervisor's
// namespaces (setns is denied by the filter without CAP_SYS_ADMIN): treat it
// as dirty.
//
// # Capabilities
//
// As runc under containerd ≥ 1.6.2 / CRI-O: the bounding set becomes
// exactly the target set (every other capability up to LastCap is dropped
// with PR_CAPBSET_DROP, which needs CAP_SETPCAP), and the inheritable and
// ambient sets are cleared. The thread's effective and permitted sets are
// kept, because the child, in Go's forkAndExecInChild, calls setgroups,
// setgid and setuid itself and needs CAP_SETGID and CAP_SETUID for that.
// After exec:
//
//   - a child that keeps uid 0 gets permitted = effective = bounding =
//     target (the kernel gives root every file capability, masked by the
//     bounding set);
//   - a child that switches to another uid gets empty permitted and
//     effective sets and the same bounding set (file capabilities of a
//     binary, within the bounding set, still apply unless no_new_privs).
//
// no_new_privs does not strip root's capabilities: they are not a gain over
// the permitted set of the thread that forked.
//
// # Seccomp RuntimeDefault
//
// A classic BPF filter, built by hand (no libseccomp, no cgo) from
// golang.org/x/sys/unix syscall numbers for amd64 and arm64, equivalent in
// effect to the default profile of moby (profiles/seccomp/default.json) and
// containerd (contrib/seccomp, what Kubernetes' RuntimeDefault means with
// containerd; the two profiles are identical but for three lsm_* syscalls,
// allowed here as containerd does). Those profiles are allowlists; this
// filter is the equivalent denylist over the syscalls x/sys knows:
//
//   - a syscall of another architecture (i386 on amd64, 32-bit ARM on arm64)
//     or of the x32 ABI (amd64, nr ≥ 0x40000000) kills the process
//     (SECCOMP_RET_KILL_PROCESS);
//   - the syscalls below fail with EPERM (SECCOMP_RET_ERRNO);
//   - everything else is allowed.
//
// Always denied: add_key, keyctl, request_key (keyrings are not
// namespaced); io_uring_setup, io_uring_enter, io_uring_register (moby ≥
// 25); kexec_load, kexec_file_load (even with CAP_SYS_BOOT); migrate_pages,
// move_pages; nfsservctl; pivot_root; swapon, swapoff; userfaultfd;
// personality except PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32
// and the 0xffffffff query; socket with AF_ALG or AF_VSOCK; open_tree_attr,
// file_getattr, file_setattr, listns, rseq_slice_yield (newer than the
// profile, which therefore denies them; to revisit when the runtimes list
// them). On amd64 also _sysctl, afs_syscall, create_module,
// get_kernel_syms, query_module, getpmsg, putpmsg, security, tuxcall,
// vserver, sysfs, uselib, ustat (obsolete or never implemented) and uprobe
// (not in the profile; Linux exempts it from seccomp anyway).
//
// Denied unless the process's bounding set holds one of the capabilities
// named (moby's "includes": {"caps"} rules):
//
//   - CAP_SYS_ADMIN: mount, umount2, fsopen, fsconfig, fsmount, fspick,
//     move_mount, open_tree, mount_setattr, unshare, setns, sethostname,
//     setdomainname, quotactl, quotactl_fd, fanotify_init, lookup_dcookie;
//     clone with a namespace flag (CLONE_NEWNS, NEWUTS, NEWIPC, NEWUSER,
//     NEWPID, NEWNET, NEWCGROUP in its flags argument; a clone without them
//     — fork, vfork, pthread_create — is allowed);
//   - CAP_SYS_ADMIN or CAP_BPF: bpf; CAP_SYS_ADMIN or CAP_PERFMON:
//     perf_event_open; CAP_SYS_ADMIN or CAP_SYSLOG: syslog;
//   - CAP_DAC_READ_SEARCH: open_by_handle_at;
//   - CAP_SYS_BOOT: reboot;
//   - CAP_SYS_CHROOT: chroot (in the default capability set, so allowed by
//     default, as with containerd);
//   - CAP_SYS_MODULE: init_module, finit_module, delete_module;
//   - CAP_SYS_PACCT: acct;
//   - CAP_SYS_PTRACE: kcmp, pidfd_getfd, process_madvise;
//   - CAP_SYS_RAWIO: iopl, ioperm (amd64);
//   - CAP_SYS_TIME: settimeofday, clock_settime;
//   - CAP_SYS_TTY_CONFIG: vhangup;
//   - CAP_SYS_NICE: get_mempolicy, set_mempolicy, mbind,
//     set_mempolicy_home_node.
//
// Allowed, as in the profile (the kernel still checks capabilities):
// ptrace, process_vm_readv and process_vm_writev (moby allows them on Linux
// ≥ 4.8), adjtimex and clock_adjtime (setting needs CAP_SYS_TIME),
// name_to_handle_at, seccomp, prctl, and all the syscalls the Go runtime
// and libc use. Syscalls stime, umount, vm86, vm86old and the like exist
// only on foreign architectures, which are killed.
//
// The bounding set that gates the rules is Plan.Capabilities (intersected
// with the supervisor's) when Plan.SetCapabilities, else the supervisor's: a
// process that keeps every capability gets only the always-denied rules. A
// program is built once per distinct gating set and cached.
//
// Arguments are compared on their low 32 bits, as the kernel reads them
// (int or unsigned int): stricter than libseccomp's 64-bit comparisons,
// which high bits the kernel ignores would slip past.
//
// Only nr and arch are read until a rule with an argument check matches, so
// the kernel's per-syscall action cache (Linux ≥ 5.11) skips the filter
// entirely for every allowed syscall but clone, socket and personality.
//
// # Differences from the runtimes' profile
//
// clone3 stays allowed. Go forks with clone3 when SysProcAttr.UseCgroupFD is
// set (cgroup v2; with PidFD alone Go 1.26 uses clone), and the fork is made
// by the filtered thread. moby and containerd answer clone3 with ENOSYS
// unless CAP_SYS_ADMIN, because its flags are in memory that BPF cannot
// read, so that libc falls back to clone, whose flags are checked. Here a
// process can therefore create namespaces with clone3 — in practice a user
// namespace (and others inside it), when the host allows unprivileged user
// namespaces (user.max_user_namespaces > 0); the other namespace types still
// need CAP_SYS_ADMIN from the kernel. unshare and setns stay denied.
//
// A denylist allows syscalls it does not know (added to Linux after
// golang.org/x/sys v0.49); the profiles deny them with EPERM. Foreign
// architectures are killed where the profiles allow the compat ABIs (i386
// and x32 on amd64, arm on arm64): 32-bit binaries cannot run.
//
// This package does not set uid, gid or groups (the fork's
// SysProcAttr.Credential does), AppArmor or SELinux labels, a read-only root
// or masked paths, and implements no seccomp profile other than
// RuntimeDefault (no Localhost profiles, no notification, no logging).
package security

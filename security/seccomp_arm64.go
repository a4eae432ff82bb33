package security

import "golang.org/x/sys/unix"

// nativeArch is the seccomp_data.arch of a syscall made through the native
// ABI; any other (32-bit ARM compat) kills the process.
const nativeArch = unix.AUDIT_ARCH_AARCH64

// x32Bit is 0: arm64 has no x32-like ABI sharing its arch value.
const x32Bit = 0

// archRules are the profile's restrictions on arm64-only syscalls: none
// (the arm-specific syscalls it lists are allowed).
var archRules []rule

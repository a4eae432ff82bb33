package supervisor

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// markInheritedCloexec marks every file descriptor above 2 close-on-exec,
// so that none this process inherited (a shell's redirection, a leaked fd
// of whatever started it) reaches a pod's processes, which get exactly
// their stdin, stdout and stderr. Descriptors stay open: a socket
// activation's listeners keep working. Every descriptor Go opens is
// close-on-exec already, so this is needed once, at start.
func markInheritedCloexec() error {
	// close_range(3, ~0U, CLOSE_RANGE_CLOEXEC): Linux 5.11.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// The directory's own fd is closed by now: EBADF is fine.
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	return nil
}

// Package mounts gives one process its own view of the host's filesystem: a
// persistent mount namespace, copied from the host's, in which a few things
// differ (a private /tmp, a read-only tree, bind and tmpfs mounts). It makes
// such a namespace (Create), pins it as a bind-mounted file so that it
// outlives the thread that built it and a restart of the daemon, lets a
// locked OS thread join it so that a process forked there is born in that
// view (Enter), and removes it (Remove).
//
// It knows nothing of pods, volumes or processes: a caller that gives each
// process its own view calls Create once per process, with a pin file of its
// own, in a directory prepared by PrepareDir.
//
// # Threads
//
// Threads are the unit of mount namespace membership. Create builds the view
// on a goroutine of its own that locks its thread and never unlocks it, so
// that Go discards that thread. Enter changes the calling thread, which the
// caller must have locked with runtime.LockOSThread; the thread first gets a
// private copy of the process's root, working directory and umask
// (unshare(CLONE_FS), without which the kernel refuses setns(CLONE_NEWNS) in
// a multithreaded process). The function Enter returns puts the thread back
// into the host's mount namespace and working directory; if it fails, the
// thread must stay locked until its goroutine ends. Even after a successful
// return the thread keeps its own copy of the working directory and umask:
// a later os.Chdir or umask change elsewhere in the process does not reach
// it, so a program that changes those after start should let such threads
// be discarded instead. The main thread must never run Create or Enter (lock
// it in main's init, as the supervisor does).
//
// # What a view is
//
// A view starts as a copy of the host's mount tree, made a recursive slave:
// mounts and unmounts made later on the host under a shared mount reach the
// view, nothing made in the view reaches the host. (Host mounts that are
// private, as "/" is on a host without systemd, propagate nothing.) Then, in
// this order: ReadOnlyRoot makes every mount of the copy read-only
// (recursively, mount_setattr on "/"); PrivateTmp mounts a fresh tmpfs on
// /tmp; the Mounts are attached in order. Bind sources are cloned from the
// host tree before any of that, so a source under /tmp is the host's, and a
// bind keeps the source's own read-only or read-write state unless ReadOnly
// says read-only (recursively, submounts of the source included).
//
// Targets are resolved inside the view (see Mount for the symlink rule) and
// the mount is made on the resolved file descriptor, so a path changed after
// the check cannot redirect it. A target that does not exist is created in
// the view only, never on the host's filesystem: directly when its deepest
// existing ancestor is on a tmpfs this package made for the same view, and
// otherwise by covering that ancestor A with a read-only tmpfs "mirror" that
// holds, for each entry of A, a recursive bind of it (directories and other
// files) or a copy of it (symlinks), plus the missing path. When A is "/"
// the mirror is stacked on the root, and setns lands on top of it. A mirror
// is a snapshot of A's entries: entries added to A on the host later are not
// seen in the view, and new files cannot be created directly in A there
// (EROFS); what lies below A's entries stays live, host mounts and
// unmounts included. An unbindable mount among A's entries makes Create
// fail. Mirroring costs about 20-25 µs per entry of A (0.4 ms for a "/" of
// 26 entries, 3.3 ms for an /etc of 138), so callers that care create
// targets on the host or put them under a tmpfs of the view.
//
// A mirror stacked on "/" needs no pivot_root: setns(CLONE_NEWNS), and so
// Enter and nsenter, put the thread's root on the topmost mount stacked on
// the namespace's root; the building thread chroots into the mirror
// itself. The host's root stays below, out of reach of paths from the
// view's "/" (though not of /proc/<pid>/root of host processes).
//
// It does not: create the host directories or files that back volumes,
// resolve subPaths (SecureJoin helps the caller do it), pivot into an image
// root, mask /proc or /sys paths, or change users, capabilities or other
// namespaces. It is not a security boundary: processes in a view are host
// processes and see the host's filesystem with the host's permissions.
package mounts

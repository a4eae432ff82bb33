package mounts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCreateEnterRemove(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	src := tempDir(t)
	writeFile(t, filepath.Join(src, "hello"), "from the volume")
	target := tempDir(t)
	pin := newView(t, dir, "p", View{Mounts: []Mount{{Target: target, Source: src}}})

	if !Exists(pin) {
		t.Fatalf("%s is not a pinned mount namespace", pin)
	}
	if nsIno(t, pin) == nsIno(t, "/proc/self/ns/mnt") {
		t.Fatal("the view is the host's mount namespace")
	}
	if hostHasMount(target) {
		t.Errorf("the view's mount on %s is visible on the host", target)
	}
	if _, err := os.Stat(filepath.Join(target, "hello")); !os.IsNotExist(err) {
		t.Errorf("host sees the volume at %s: %v", target, err)
	}
	// The thread that built the view is gone, the pin keeps it: another
	// process can join it.
	out, err := exec.Command("nsenter", "--mount="+pin, "cat", filepath.Join(target, "hello")).CombinedOutput()
	if err != nil || string(out) != "from the volume" {
		t.Errorf("nsenter: %q %v", out, err)
	}
	outs, code := sh(t, pin, "cat "+target+"/hello; pwd")
	if code != 0 || outs != "from the volume/\n" {
		t.Errorf("child in the view: %q exit %d", outs, code)
	}
	mi := viewMountInfo(t, pin)
	if !hasPoint(mi, target) {
		t.Errorf("no mount on %s in the view", target)
	}

	if err := Remove(pin); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pin); !os.IsNotExist(err) {
		t.Errorf("%s still there", pin)
	}
	if err := Remove(pin); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestPropagation(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	// A shared mount on the host, as "/" is under systemd (here "/" is private).
	shared := filepath.Join(tempDir(t), "shared")
	mkdir(t, shared)
	mustMount(t, shared, shared, "", unix.MS_BIND, "")
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"fromview", "madeinview", "late"} {
		mkdir(t, filepath.Join(shared, d))
	}
	src := tempDir(t)
	writeFile(t, filepath.Join(src, "m"), "vol")
	pin := newView(t, dir, "p", View{Mounts: []Mount{{Target: filepath.Join(shared, "fromview"), Source: src}}})
	// In this one, shared is covered by a mirror: its entries are binds of
	// the slave copy, slaves themselves.
	mirrored := newView(t, dir, "m", View{Mounts: []Mount{{Target: filepath.Join(shared, "missing"), Tmpfs: true}}})

	// View to host: neither the view's Mounts nor a mount made later by a
	// thread in the view reach the host.
	if err := inView(pin, func() error {
		return unix.Mount("tmpfs", filepath.Join(shared, "madeinview"), "tmpfs", 0, "")
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"fromview", "madeinview"} {
		if hostHasMount(filepath.Join(shared, d)) {
			t.Errorf("mount on %s propagated to the host", d)
		}
	}
	mi := viewMountInfo(t, pin)
	for _, d := range []string{"fromview", "madeinview"} {
		if !hasPoint(mi, filepath.Join(shared, d)) {
			t.Errorf("mount on %s missing in the view", d)
		}
	}

	// Host to view: a mount made on the host after Create reaches the view,
	// and so does its unmount.
	late := filepath.Join(shared, "late")
	if err := unix.Mount("tmpfs", late, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(late, "m"), "late")
	for _, p := range []string{pin, mirrored} {
		out, code := sh(t, p, "cat "+late+"/m")
		if code != 0 || out != "late" {
			t.Errorf("host mount not seen in the view %s: %q %d", p, out, code)
		}
	}
	if err := unix.Unmount(late, 0); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pin, mirrored} {
		// (In the mirrored view, late itself is a bind: look for the file.)
		if out, _ := sh(t, p, "test -e "+late+"/m && echo still there"); out != "" {
			t.Errorf("host unmount of %s did not reach the view %s", late, p)
		}
	}
	if _, err := os.Lstat(filepath.Join(shared, "missing")); err == nil {
		t.Errorf("missing target made on the host")
	}
	// The copy of the shared mount in the view is a slave of the host's.
	for _, m := range viewMountInfo(t, pin) {
		if m.point == shared {
			if m.shared() || !strings.Contains(strings.Join(m.optional, " "), "master:") {
				t.Errorf("view's %s has propagation %v, want a slave", shared, m.optional)
			}
		}
	}
}

func TestPinDirectory(t *testing.T) {
	requireRoot(t)
	// A shared mount (of another directory: a shared bind of itself is
	// what Create repairs, see below): the view gets a slave copy of it,
	// so binding the view's namespace there would propagate into the view
	// itself.
	shared := filepath.Join(tempDir(t), "shared")
	mkdir(t, shared)
	mustMount(t, tempDir(t), shared, "", unix.MS_BIND, "")
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(shared, "p")
	if err := Create(pin, View{}); err != nil {
		t.Fatal(err)
	}
	// The kernel refuses the bind there: the view is held by a descriptor
	// and the pin links to it.
	if fi, err := os.Lstat(pin); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("pin in a shared mount: want a symlink to a held descriptor: %v %v", fi, err)
	}
	if !Exists(pin) {
		t.Errorf("%s does not open the view", pin)
	}
	if err := Remove(pin); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(pin); !os.IsNotExist(err) {
		t.Errorf("Remove left %s", pin)
	}

	// PrepareDir stacks a private self-bind on the shared one.
	if err := PrepareDir(shared); err != nil {
		t.Fatal(err)
	}
	self, isShared, err := selfBind(shared)
	if err != nil || !self || isShared {
		t.Fatalf("after PrepareDir: self-bind %v shared %v %v", self, isShared, err)
	}
	if err := PrepareDir(shared); err != nil { // idempotent: no second layer
		t.Fatal(err)
	}
	if n := countPoints(shared); n != 2 {
		t.Errorf("%d mounts on %s, want 2", n, shared)
	}
	if err := Create(pin, View{}); err != nil {
		t.Fatal(err)
	}
	// A second view does not hold a copy of the first one's pin: the kernel
	// does not copy mount namespace files into a new namespace.
	pin2 := filepath.Join(shared, "p2")
	if err := Create(pin2, View{}); err != nil {
		t.Fatal(err)
	}
	if hasPoint(viewMountInfo(t, pin2), pin) {
		t.Errorf("second view holds the first one's pin")
	}
	if err := ReleaseDir(shared); err != nil { // pins left: does nothing
		t.Fatal(err)
	}
	if n := countPoints(shared); n != 2 {
		t.Errorf("ReleaseDir unmounted %s while pins were left", shared)
	}
	// Existing pins and the file check.
	if err := Create(pin, View{}); err == nil {
		t.Error("Create on an existing pin succeeded")
	}
	if Exists(filepath.Join(shared, "nothing")) {
		t.Error("Exists of a missing file")
	}
	for _, p := range []string{pin, pin2} {
		if err := Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := ReleaseDir(shared); err != nil {
		t.Fatal(err)
	}
	if n := countPoints(shared); n != 1 {
		t.Errorf("%d mounts on %s after ReleaseDir, want the original 1", n, shared)
	}
	// ReleaseDir leaves alone a mount that is not a self-bind.
	other := filepath.Join(tempDir(t), "tmpfs")
	mkdir(t, other)
	mustMount(t, "tmpfs", other, "tmpfs", 0, "")
	if err := ReleaseDir(other); err != nil {
		t.Fatal(err)
	}
	if !isMountPoint(other) {
		t.Errorf("ReleaseDir unmounted a tmpfs it did not make")
	}
}

func countPoints(path string) int {
	n := 0
	for _, p := range hostMountPoints() {
		if p == path {
			n++
		}
	}
	return n
}

func TestMissingTargetUnderDirectory(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	a := tempDir(t)
	writeFile(t, filepath.Join(a, "file"), "content")
	mkdir(t, filepath.Join(a, "sub"))
	mustMount(t, "tmpfs", filepath.Join(a, "sub"), "tmpfs", 0, "mode=755")
	writeFile(t, filepath.Join(a, "sub", "m"), "submount")
	if err := os.Symlink("file", filepath.Join(a, "link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(a, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := lsHost(t, a)
	src := tempDir(t)
	writeFile(t, filepath.Join(src, "m"), "vol")
	srcFile := filepath.Join(tempDir(t), "app.conf")
	writeFile(t, srcFile, "conf")

	target := filepath.Join(a, "missing", "x", "y")
	fileTarget := filepath.Join(a, "conf.d", "app.conf")
	pin := newView(t, dir, "p", View{Mounts: []Mount{
		{Target: target, Source: src},
		{Target: fileTarget, Source: srcFile, ReadOnly: true},
	}})

	if got := lsHost(t, a); !reflect.DeepEqual(got, before) {
		t.Errorf("host's %s changed: %v, was %v", a, got, before)
	}
	out, code := sh(t, pin, strings.Join([]string{
		"cd " + a,
		"cat missing/x/y/m; echo",
		"cat conf.d/app.conf; echo",
		"cat file; echo",
		"cat sub/m; echo",
		"readlink link",
		"test -p fifo && echo fifo",
		"ls -A | LC_ALL=C sort | tr '\\n' ' '",
	}, " && "))
	want := "vol\nconf\ncontent\nsubmount\nfile\nfifo\nconf.d fifo file link missing sub \n"
	if code != 0 || strings.TrimSpace(out) != strings.TrimSpace(want) {
		t.Errorf("view of %s:\n%s(exit %d), want\n%s", a, out, code, want)
	}
	// A host change below an entry of the mirrored directory is live in the
	// view; the mirror itself is read-only.
	writeFile(t, filepath.Join(a, "sub", "late"), "late")
	out, code = sh(t, pin, "cat "+a+"/sub/late; touch "+a+"/new 2>&1")
	if !strings.HasPrefix(out, "late") || !strings.Contains(out, "Read-only file system") || code == 0 {
		t.Errorf("mirror: %q exit %d", out, code)
	}
	// One mirror, of a, whatever the number of missing targets below it.
	n := 0
	for _, m := range viewMountInfo(t, pin) {
		if m.point == a {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d mounts on %s in the view, want 1 mirror", n, a)
	}
}

func TestMissingTargetUnderRoot(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	name := unique()
	top := "/" + name
	topFile := "/" + name + ".conf"
	srcFile := filepath.Join(tempDir(t), "f")
	writeFile(t, srcFile, "conf")
	src := tempDir(t)
	writeFile(t, filepath.Join(src, "m"), "vol")
	before := lsHost(t, "/")
	// A symlink of the root, copied into the mirror (one is made if the
	// host has none), and a mount nested below an entry of the root.
	link, linkTo := "", ""
	for _, e := range before {
		if to, err := os.Readlink("/" + e); err == nil {
			link, linkTo = e, to
			break
		}
	}
	if link == "" {
		link, linkTo = name+"-link", "usr"
		if err := os.Symlink(linkTo, "/"+link); err != nil {
			t.Fatal(err)
		}
		defer os.Remove("/" + link)
		before = lsHost(t, "/")
	}
	nested := "/proc/sys/fs/binfmt_misc"
	if !isMountPoint(nested) {
		nested = "/dev/pts"
	}
	typeOut, err := exec.Command("stat", "-f", "-c", "%T", nested).Output()
	if err != nil {
		t.Fatal(err)
	}
	nestedType := strings.TrimSpace(string(typeOut))
	pin := newView(t, dir, "p", View{PrivateTmp: true, Mounts: []Mount{
		{Target: top, Tmpfs: true, Mode: 0o777},
		{Target: top + "/deeper/vol", Source: src},
		{Target: topFile, Source: srcFile},
		{Target: "/tmp/a/b", Tmpfs: true},
	}})
	for _, p := range []string{top, topFile} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("host has %s: %v", p, err)
		}
	}
	if got := lsHost(t, "/"); !reflect.DeepEqual(got, before) {
		t.Errorf("host's / changed: %v, was %v", got, before)
	}
	out, code := sh(t, pin, strings.Join([]string{
		"cat " + top + "/deeper/vol/m; echo",
		"cat " + topFile + "; echo",
		"stat -c %a " + top,
		"touch " + top + "/w",
		"readlink /" + link,
		"stat -f -c %T " + nested,
		"head -1 /proc/self/status",
		"test -d /tmp/a/b && echo tmp",
		"ls -A /tmp",
		"ls -A / | tr '\\n' ' '",
	}, " && "))
	want := []string{"vol", "conf", "777", linkTo, nestedType, "Name:\thead", "tmp", "a"}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != len(want)+1 || !reflect.DeepEqual(lines[:len(want)], want) {
		t.Fatalf("view of /:\n%s(exit %d)", out, code)
	}
	got := strings.Fields(lines[len(want)])
	sort.Strings(got)
	wantRoot := append(append([]string{}, before...), name, name+".conf")
	sort.Strings(wantRoot)
	if !reflect.DeepEqual(got, wantRoot) {
		t.Errorf("view's / is %v, want %v", got, wantRoot)
	}
	// One mirror (of /); the second missing target and /tmp/a/b were made
	// directly in tmpfs mounts of the view.
	count := map[string]int{}
	for _, m := range viewMountInfo(t, pin) {
		count[m.point]++
	}
	for _, p := range []string{"/", top, "/tmp"} {
		if count[p] != 1 {
			t.Errorf("%d mounts on %s in the view, want 1", count[p], p)
		}
	}
	if _, err := os.Lstat("/tmp/a"); err == nil {
		t.Errorf("/tmp/a made on the host")
	}
}

func TestTargetSymlinks(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	d := tempDir(t) // root-owned, 0700: its root-owned symlinks are trusted
	mkdir(t, filepath.Join(d, "real", "x"))
	writeFile(t, filepath.Join(d, "real", "file"), "real")
	for link, to := range map[string]string{
		"rel":    "real",
		"abs":    filepath.Join(d, "real"),
		"tofile": "real/file",
		"dangle": "newdir",
		"loop1":  "loop2",
		"loop2":  "loop1",
		"evil":   "real",
	} {
		if err := os.Symlink(to, filepath.Join(d, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(filepath.Join(d, "evil"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	ww := filepath.Join(d, "ww")
	mkdir(t, filepath.Join(ww, "real"))
	if err := os.Chmod(ww, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(ww, "link")); err != nil {
		t.Fatal(err)
	}
	src := tempDir(t)
	writeFile(t, filepath.Join(src, "m"), "vol")
	srcFile := filepath.Join(tempDir(t), "f")
	writeFile(t, srcFile, "bound")

	pin := newView(t, dir, "ok", View{Mounts: []Mount{
		{Target: filepath.Join(d, "rel", "x"), Source: src},
		{Target: filepath.Join(d, "abs", "y"), Tmpfs: true},
		{Target: filepath.Join(d, "tofile"), Source: srcFile},
		{Target: filepath.Join(d, "dangle", "z"), Tmpfs: true},
	}})
	out, code := sh(t, pin, strings.Join([]string{
		"cat " + d + "/real/x/m; echo",
		"cat " + d + "/real/file; echo",
		"test -d " + d + "/real/y && echo y",
		"test -d " + d + "/newdir/z && echo z",
	}, " && "))
	if code != 0 || out != "vol\nbound\ny\nz\n" {
		t.Errorf("through trusted symlinks: %q exit %d", out, code)
	}
	for _, p := range []string{"real/y", "newdir"} {
		if _, err := os.Lstat(filepath.Join(d, p)); err == nil {
			t.Errorf("%s made on the host", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(d, "real", "file")); string(b) != "real" {
		t.Errorf("host file changed: %q", b)
	}

	for name, target := range map[string]string{
		"untrusted owner":     filepath.Join(d, "evil", "x"),
		"world-writable dir":  filepath.Join(ww, "link"),
		"loop":                filepath.Join(d, "loop1", "x"),
		"relative":            "rel/x",
		"dotdot":              d + "/real/../real/x",
		"dir on file":         filepath.Join(d, "real", "file"),
		"below a file":        filepath.Join(d, "real", "file", "x"),
		"missing source":      filepath.Join(d, "real", "x"),
		"the root":            "/",
		"file on a directory": filepath.Join(d, "real", "x"),
	} {
		m := Mount{Target: target, Source: src}
		switch name {
		case "missing source":
			m.Source = filepath.Join(src, "nothing")
		case "file on a directory":
			m.Source = srcFile
		}
		pin := filepath.Join(dir, "bad")
		if err := Create(pin, View{Mounts: []Mount{m}}); err == nil {
			Remove(pin)
			t.Errorf("%s: Create succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
		if _, err := os.Lstat(pin); !os.IsNotExist(err) {
			t.Errorf("%s: failed Create left its pin", name)
		}
	}
}

func TestReadOnly(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	rw := tempDir(t)
	ro := tempDir(t)
	mkdir(t, filepath.Join(ro, "sub"))
	mustMount(t, "tmpfs", filepath.Join(ro, "sub"), "tmpfs", 0, "")
	// A source that is read-only on the host stays so in the view.
	hostRO := tempDir(t)
	mustMount(t, hostRO, hostRO, "", unix.MS_BIND, "")
	if err := unix.Mount("", hostRO, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	targets := tempDir(t)
	for _, d := range []string{"rw", "ro", "hostro", "tmpro"} {
		mkdir(t, filepath.Join(targets, d))
	}
	pin := newView(t, dir, "p", View{ReadOnlyRoot: true, PrivateTmp: true, Mounts: []Mount{
		{Target: filepath.Join(targets, "rw"), Source: rw},
		{Target: filepath.Join(targets, "ro"), Source: ro, ReadOnly: true},
		{Target: filepath.Join(targets, "hostro"), Source: hostRO},
		{Target: filepath.Join(targets, "tmpro"), Tmpfs: true, ReadOnly: true},
		{Target: filepath.Join(targets, "tmprw"), Tmpfs: true, Size: 1 << 20},
		// A hole in the read-only tree: a path bound onto itself.
		{Target: "/dev/shm", Source: "/dev/shm"},
	}})
	shm := "/dev/shm/" + unique()
	defer os.Remove(shm)
	try := func(what, path string) string {
		return "if touch " + path + " 2>/dev/null; then echo " + what + "=ok; else echo " + what + "=$(touch " + path + " 2>&1 | sed 's/.*: //'); fi"
	}
	script := strings.Join([]string{
		try("etc", "/etc/"+marker+"x"),
		try("var", "/var/"+marker+"x"),
		try("root", "/"+marker+"x"),
		"echo hi >/dev/null && echo devnull=ok",
		try("tmp", "/tmp/x"),
		try("rw", targets+"/rw/x"),
		try("ro", targets+"/ro/x"),
		try("rosub", targets+"/ro/sub/x"),
		try("hostro", targets+"/hostro/x"),
		try("tmpro", targets+"/tmpro/x"),
		try("tmprw", targets+"/tmprw/x"),
		try("shm", shm),
		try("proc", "/proc/self/oom_score_adj"),
		"df -B1 " + targets + "/tmprw | tail -1 | awk '{print \"size=\" $2}'",
	}, "; ")
	out, _ := sh(t, pin, script)
	want := strings.Join([]string{
		"etc=Read-only file system",
		"var=Read-only file system",
		"root=Read-only file system",
		"devnull=ok",
		"tmp=ok",
		"rw=ok",
		"ro=Read-only file system",
		"rosub=Read-only file system",
		"hostro=Read-only file system",
		"tmpro=Read-only file system",
		"tmprw=ok",
		"shm=ok",
		"proc=Read-only file system",
		"size=1048576",
	}, "\n") + "\n"
	if out != want {
		t.Errorf("in the view:\n%s\nwant\n%s", out, want)
	}
	// The bind is live: the file written in the view is on the host; the
	// read-only bind did not make the host's source read-only.
	if _, err := os.Stat(filepath.Join(rw, "x")); err != nil {
		t.Errorf("write through the bind: %v", err)
	}
	writeFile(t, filepath.Join(ro, "hostwrite"), "x")
	writeFile(t, filepath.Join(ro, "sub", "hostwrite"), "x")
	if _, err := os.Stat("/etc/" + marker + "x"); err == nil {
		t.Errorf("file made on the host's /etc")
	}
}

func TestValidate(t *testing.T) {
	for _, v := range []View{
		{Mounts: []Mount{{Target: "rel", Tmpfs: true}}},
		{Mounts: []Mount{{Target: "/a/../b", Tmpfs: true}}},
		{Mounts: []Mount{{Target: "/", Tmpfs: true}}},
		{Mounts: []Mount{{Target: "/a", Tmpfs: true, Source: "/x"}}},
		{Mounts: []Mount{{Target: "/a"}}},
		{Mounts: []Mount{{Target: "/a", Source: "rel"}}},
		{Mounts: []Mount{{Target: "/a", Source: "/x", Size: 1}}},
		{Mounts: []Mount{{Target: "/a", Tmpfs: true, Size: -1}}},
		{Mounts: []Mount{{Target: "/a", Tmpfs: true, Mode: 0o10000}}},
	} {
		if err := v.validate(); err == nil {
			t.Errorf("%+v accepted", v)
		}
	}
}

// Hide detaches a shared directory's mounts from the view: neither the
// mounts there when the view is made nor those made later reach it.
func TestHideSharedDir(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	shared := filepath.Join(tempDir(t), "shared")
	if err := ShareDir(shared); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the mounts go, then the directories, then
	// the shared self-bind.
	t.Cleanup(func() {
		if err := ReleaseSharedDir(shared); err != nil {
			t.Error(err)
		}
		if isMountPoint(shared) {
			t.Error("ReleaseSharedDir left the self-bind")
		}
	})
	early, late := filepath.Join(shared, "early"), filepath.Join(shared, "late")
	t.Cleanup(func() { os.Remove(early); os.Remove(late) })
	mkdir(t, early)
	mustMount(t, "tmpfs", early, "tmpfs", 0, "")
	pin := newView(t, dir, "h", View{Hide: []string{shared, filepath.Join(tempDir(t), "not-a-mount")}})
	mkdir(t, late)
	mustMount(t, "tmpfs", late, "tmpfs", 0, "")
	out, _ := sh(t, pin, "grep -c "+shared+" /proc/self/mountinfo || true")
	if strings.TrimSpace(out) != "0" {
		t.Errorf("the view sees %s mounts under the hidden directory", strings.TrimSpace(out))
	}
}

// A prepared directory whose self-bind has become shared again (all mounts
// are shared under systemd; seen now and then there) is made private again
// by Create, which then pins.
func TestPinRepairsSharedSelfBind(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(tempDir(t), "views")
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ReleaseDir(dir); err != nil {
			t.Error(err)
		}
	})
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(dir, "p")
	if err := Create(pin, View{}); err != nil {
		t.Fatalf("Create in a re-shared prepared directory: %v", err)
	}
	if err := Remove(pin); err != nil {
		t.Fatal(err)
	}
	if _, shared, err := selfBind(dir); err != nil || shared {
		t.Errorf("the prepared directory is still shared (%v)", err)
	}
}

// A pin the kernel refuses to bind (seen under systemd, where a daemon's
// recovery then failed with EINVAL) is held by a descriptor instead: the
// view works the same, and Remove lets it go.
func TestPinRefusedHeldByDescriptor(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	src := tempDir(t)
	writeFile(t, filepath.Join(src, "hello"), "held")
	target := tempDir(t)
	testRefusePin = true
	pin := filepath.Join(dir, "p")
	err := Create(pin, View{Mounts: []Mount{{Target: target, Source: src}}})
	testRefusePin = false
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Remove(pin) })
	if fi, err := os.Lstat(pin); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("pin %s: want a symlink to the holding descriptor: %v %v", pin, fi, err)
	}
	if !Exists(pin) {
		t.Fatalf("%s does not open a mount namespace", pin)
	}
	if nsIno(t, pin) == nsIno(t, "/proc/self/ns/mnt") {
		t.Fatal("the view is the host's mount namespace")
	}
	outs, code := sh(t, pin, "cat "+target+"/hello")
	if code != 0 || outs != "held" {
		t.Errorf("child in the held view: %q exit %d", outs, code)
	}
	heldMu.Lock()
	fd, ok := held[pin]
	heldMu.Unlock()
	if !ok {
		t.Fatal("no descriptor recorded for the pin")
	}
	viewLink, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil || !strings.HasPrefix(viewLink, "mnt:[") {
		t.Fatalf("descriptor %d: %q %v", fd, viewLink, err)
	}
	if err := Remove(pin); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(pin); !os.IsNotExist(err) {
		t.Errorf("%s still there", pin)
	}
	if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && link == viewLink {
		t.Errorf("descriptor %d still holds the view (%s)", fd, link)
	}
}

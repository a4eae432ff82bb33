package mounts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEnterConcurrently joins three views, which mount different volumes on
// the same path, from many goroutines at once, forking now and then.
func TestEnterConcurrently(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	target := tempDir(t)
	hostNSIno := nsIno(t, "/proc/self/ns/mnt")
	// Create them at once, too.
	pins := make([]string, 3)
	var cwg sync.WaitGroup
	for i := range pins {
		src := tempDir(t)
		writeFile(t, filepath.Join(src, "who"), fmt.Sprint(i))
		pins[i] = filepath.Join(dir, fmt.Sprint(i))
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := Create(pins[i], View{PrivateTmp: true, Mounts: []Mount{{Target: target, Source: src, ReadOnly: true}}}); err != nil {
				t.Error(err)
			}
		}()
		t.Cleanup(func() {
			if err := Remove(pins[i]); err != nil {
				t.Error(err)
			}
		})
	}
	cwg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var inos []uint64
	for _, p := range pins {
		inos = append(inos, nsIno(t, p))
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				v := (g + i) % 3
				if err := enterOnce(pins[v], inos[v], v, target, hostNSIno, cwd, i%10 == 0); err != nil {
					errs <- fmt.Errorf("goroutine %d, round %d: %w", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func enterOnce(pin string, viewIno uint64, v int, target string, hostNSIno uint64, cwd string, fork bool) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		leave, err := Enter(pin)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		check := func() error {
			var st unix.Stat_t
			if err := unix.Stat("/proc/thread-self/ns/mnt", &st); err != nil {
				return err
			}
			if st.Ino != viewIno {
				return fmt.Errorf("thread in namespace %d, want %d", st.Ino, viewIno)
			}
			b, err := os.ReadFile(filepath.Join(target, "who"))
			if err != nil || string(b) != fmt.Sprint(v) {
				return fmt.Errorf("view %d sees %q %v", v, b, err)
			}
			if wd, _ := unix.Getwd(); wd != "/" {
				return fmt.Errorf("working directory in the view is %s", wd)
			}
			if fork {
				out, err := exec.Command("/bin/cat", filepath.Join(target, "who")).Output()
				if err != nil || string(out) != fmt.Sprint(v) {
					return fmt.Errorf("child in view %d sees %q %v", v, out, err)
				}
			}
			return nil
		}
		cerr := check()
		if err := leave(); err != nil {
			errc <- err // stays locked
			return
		}
		var st unix.Stat_t
		unix.Stat("/proc/thread-self/ns/mnt", &st)
		if st.Ino != hostNSIno {
			errc <- fmt.Errorf("not back in the host's namespace")
			return // stays locked
		}
		if wd, _ := unix.Getwd(); wd != cwd {
			errc <- fmt.Errorf("working directory after leave is %s, want %s", wd, cwd)
			return
		}
		runtime.UnlockOSThread()
		errc <- cerr
	}()
	return <-errc
}

// TestEnterErrors: Enter of something else than a pinned view fails and
// leaves the thread in the host's namespace; a leave that cannot go back is
// reported.
func TestEnterErrors(t *testing.T) {
	requireRoot(t)
	dir := pinDir(t)
	plain := filepath.Join(tempDir(t), "plain")
	writeFile(t, plain, "")
	hostNSIno := nsIno(t, "/proc/self/ns/mnt")
	for _, p := range []string{filepath.Join(dir, "missing"), plain, "/proc/self/ns/net"} {
		errc := make(chan error)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			_, err := Enter(p)
			if err == nil {
				errc <- fmt.Errorf("Enter(%s) succeeded", p)
				runtime.Goexit() // locked: discarded
			}
			t.Logf("Enter(%s): %v", p, err)
			var st unix.Stat_t
			unix.Stat("/proc/thread-self/ns/mnt", &st)
			if st.Ino != hostNSIno {
				errc <- fmt.Errorf("Enter(%s) failed but left the thread elsewhere", p)
				runtime.Goexit()
			}
			errc <- nil
		}()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}

	pin := newView(t, dir, "p", View{})
	netns, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(netns)
	pinIno := nsIno(t, pin)
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread cannot go back
		leave, err := enter(pin, netns)
		if err != nil {
			errc <- err
			return
		}
		if err := leave(); err == nil {
			errc <- fmt.Errorf("leave into a network namespace succeeded")
			return
		} else {
			t.Logf("leave: %v", err)
		}
		var st unix.Stat_t
		unix.Stat("/proc/thread-self/ns/mnt", &st)
		if st.Ino != pinIno {
			errc <- fmt.Errorf("thread left the view although leave failed")
			return
		}
		if leave() == nil {
			errc <- fmt.Errorf("second leave succeeded")
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

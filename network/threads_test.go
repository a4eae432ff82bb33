package network

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startNetNS is the process's network namespace when the tests start
// (package initialization runs on the main thread).
var startNetNS = func() uint64 {
	var st unix.Stat_t
	unix.Stat("/proc/self/ns/net", &st)
	return st.Ino
}()

// TestNoThreadLeftInNamespace works in namespaces, then checks that the
// main thread (what /proc/self shows) and every thread that goroutines get
// are still in the process's own network namespace.
func TestNoThreadLeftInNamespace(t *testing.T) {
	for i := 0; i < 5; i++ {
		h, _ := newHost(t)
		if err := h.EnsureBridge(testBridge); err != nil {
			t.Fatal(err)
		}
		a := podAttachment(t, fmt.Sprint("pod", i), 5)
		if err := h.Attach(a); err != nil {
			t.Fatal(err)
		}
		proveTCP(t, h.Path(), a.NetNS, a.Addrs[0].Addr())
		h.Close()
	}
	var self unix.Stat_t
	unix.Stat("/proc/self/ns/net", &self)
	if self.Ino != startNetNS {
		t.Errorf("the main thread is in network namespace %d, not %d", self.Ino, startNetNS)
	}
	var (
		mu  sync.Mutex
		bad = map[int]uint64{}
		wg  sync.WaitGroup
	)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				var st unix.Stat_t
				unix.Stat("/proc/thread-self/ns/net", &st)
				if st.Ino != startNetNS {
					mu.Lock()
					bad[unix.Gettid()] = st.Ino
					mu.Unlock()
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("threads in other network namespaces (tid: namespace): %v", bad)
	}
}

package daemon

import (
	"reflect"
	"testing"
)

func TestTrimRanges(t *testing.T) {
	const exe = "/usr/bin/podvisor"
	smaps := `00400000-00f79000 r-xp 00000000 fe:00 99 /usr/bin/podvisor
Size:              11748 kB
Rss:                1216 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00f79000-01b27000 r--p 00b79000 fe:00 99 /usr/bin/podvisor
Size:              12000 kB
Anonymous:             0 kB
01b27000-01b29000 r--p 01727000 fe:00 99 /usr/bin/podvisor
Size:                  8 kB
Anonymous:             8 kB
01b29000-01b9a000 rw-p 01729000 fe:00 99 /usr/bin/podvisor
Anonymous:           108 kB
01b9a000-03be1000 rw-p 00000000 00:00 0
Anonymous:           180 kB
7f0000000000-7f0000010000 r-xp 00000000 fe:00 7 /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000010000-7f0000020000 r--p 00000000 fe:00 8 /usr/bin/podvisor-other
Anonymous:             0 kB
`
	got := trimRanges([]byte(smaps), exe)
	want := [][2]uintptr{{0x400000, 0xf79000}, {0xf79000, 0x1b27000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trimRanges = %#x, want %#x (the code and tables; not the relocated read-only page with pages of its own, not writable data, not other files)", got, want)
	}
	if got := trimRanges([]byte(smaps), "/usr/bin/other"); len(got) != 0 {
		t.Errorf("another executable's ranges: %#x", got)
	}
}

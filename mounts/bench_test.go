package mounts

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// benchView is a view with a private /tmp and three mounts on existing
// targets: a directory bind, a read-only file bind and a tmpfs.
func benchView(b testing.TB) View {
	src := tempDir(b)
	file := filepath.Join(tempDir(b), "f")
	writeFile(b, file, "x")
	targets := tempDir(b)
	mkdir(b, filepath.Join(targets, "vol"))
	mkdir(b, filepath.Join(targets, "tmp"))
	writeFile(b, filepath.Join(targets, "file"), "")
	return View{PrivateTmp: true, Mounts: []Mount{
		{Target: filepath.Join(targets, "vol"), Source: src},
		{Target: filepath.Join(targets, "file"), Source: file, ReadOnly: true},
		{Target: filepath.Join(targets, "tmp"), Tmpfs: true, Mode: 0o777},
	}}
}

func benchCreate(b *testing.B, v View) {
	dir := pinDir(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pin := filepath.Join(dir, fmt.Sprint(i))
		if err := Create(pin, v); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := Remove(pin); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkCreateThreeMounts(b *testing.B) {
	requireRoot(b)
	benchCreate(b, benchView(b))
}

func BenchmarkCreateEmpty(b *testing.B) {
	requireRoot(b)
	benchCreate(b, View{})
}

func BenchmarkCreateReadOnlyRoot(b *testing.B) {
	requireRoot(b)
	v := benchView(b)
	v.ReadOnlyRoot = true
	benchCreate(b, v)
}

// BenchmarkCreateMissingUnderRoot has a target missing directly under /,
// so "/" is mirrored.
func BenchmarkCreateMissingUnderRoot(b *testing.B) {
	requireRoot(b)
	benchCreate(b, View{Mounts: []Mount{{Target: "/" + unique(), Tmpfs: true}}})
}

// BenchmarkCreateMissingUnderEtc mirrors /etc (about 140 entries here).
func BenchmarkCreateMissingUnderEtc(b *testing.B) {
	requireRoot(b)
	file := filepath.Join(tempDir(b), "f")
	writeFile(b, file, "x")
	benchCreate(b, View{Mounts: []Mount{{Target: "/etc/" + unique() + ".conf", Source: file}}})
}

func BenchmarkRemove(b *testing.B) {
	requireRoot(b)
	dir := pinDir(b)
	v := benchView(b)
	for i := 0; i < b.N; i++ {
		pin := filepath.Join(dir, fmt.Sprint(i))
		b.StopTimer()
		if err := Create(pin, v); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := Remove(pin); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnterLeave(b *testing.B) {
	requireRoot(b)
	pin := newView(b, pinDir(b), "p", benchView(b))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		leave, err := Enter(pin)
		if err != nil {
			b.Fatal(err)
		}
		if err := leave(); err != nil {
			b.Fatal(err) // the goroutine ends locked: the thread is discarded
		}
	}
}

package cni

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/containernetworking/cni/pkg/types/create"
)

func TestArgsFor(t *testing.T) {
	got := ArgsFor("default", "web", "web-1234", "uid-1")
	want := [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", "default"},
		{"K8S_POD_NAME", "web"},
		{"K8S_POD_INFRA_CONTAINER_ID", "web-1234"},
		{"K8S_POD_UID", "uid-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ArgsFor = %v, want %v", got, want)
	}
	if got := ArgsFor("ns", "n", "id", ""); len(got) != 4 || got[3][0] != "K8S_POD_INFRA_CONTAINER_ID" {
		t.Errorf("ArgsFor without uid = %v", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNetworksAndConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "10-alpha.conflist"), `{"cniVersion":"1.0.0","name":"alpha","plugins":[{"type":"bridge","bridge":"br0"},{"type":"portmap","capabilities":{"portMappings":true}}]}`)
	writeFile(t, filepath.Join(dir, "20-beta.conf"), `{"cniVersion":"0.4.0","name":"beta","type":"ptp","ipam":{"type":"host-local"}}`)
	writeFile(t, filepath.Join(dir, "30-gamma.json"), `{"cniVersion":"0.3.1","name":"gamma","plugins":[{"type":"macvlan"}]}`)
	writeFile(t, filepath.Join(dir, "40-broken.conflist"), `{"name":`)
	writeFile(t, filepath.Join(dir, "50-alpha-again.conflist"), `{"cniVersion":"1.0.0","name":"alpha","plugins":[{"type":"other"}]}`)
	// A list whose plugins are partly in ConfDir/delta/*.conf (libcni >= 1.2).
	writeFile(t, filepath.Join(dir, "60-delta.conflist"), `{"cniVersion":"1.1.0","name":"delta","plugins":[{"type":"bridge"}]}`)
	writeFile(t, filepath.Join(dir, "delta", "a.conf"), `{"type":"tuning"}`)
	writeFile(t, filepath.Join(dir, "README.txt"), `not a config`)
	writeFile(t, filepath.Join(dir, "70-noname.conf"), `{"cniVersion":"1.0.0","type":"loopback"}`)

	p := &Plugins{ConfDir: dir}
	nets, err := p.Networks()
	want := []Network{
		{Name: "alpha", File: filepath.Join(dir, "10-alpha.conflist"), Version: "1.0.0", Plugins: []string{"bridge", "portmap"}},
		{Name: "delta", File: filepath.Join(dir, "60-delta.conflist"), Version: "1.1.0", Plugins: []string{"bridge", "tuning"}},
		{Name: "beta", File: filepath.Join(dir, "20-beta.conf"), Version: "0.4.0", Plugins: []string{"ptp"}},
		{Name: "gamma", File: filepath.Join(dir, "30-gamma.json"), Version: "0.3.1", Plugins: []string{"macvlan"}},
	}
	if !reflect.DeepEqual(nets, want) {
		t.Errorf("Networks =\n%+v\nwant\n%+v", nets, want)
	}
	if err == nil {
		t.Fatal("Networks: no error for the broken, duplicate and nameless files")
	}
	for _, s := range []string{"40-broken.conflist", "50-alpha-again.conflist", `"alpha" is already defined by`, "70-noname.conf"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Networks error %q does not mention %q", err, s)
		}
	}

	// Config: the conflist's own bytes when self-contained.
	b, err := p.Config("alpha")
	if err != nil {
		t.Fatal(err)
	}
	if orig, _ := os.ReadFile(filepath.Join(dir, "10-alpha.conflist")); string(b) != string(orig) {
		t.Errorf("Config(alpha) = %s, want the file's bytes", b)
	}
	// A single plugin's configuration comes back as a list of one.
	b, err = p.Config("beta")
	if err != nil {
		t.Fatal(err)
	}
	list, err := parseConfig(b, true)
	if err != nil || list.Name != "beta" || list.CNIVersion != "0.4.0" || len(list.Plugins) != 1 || list.Plugins[0].Network.Type != "ptp" {
		t.Errorf("Config(beta) = %s (%v)", b, err)
	}
	// Plugins from files are inlined, and read back without the directory.
	b, err = p.Config("delta")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "delta")); err != nil {
		t.Fatal(err)
	}
	if list, err = parseConfig(b, false); err != nil || len(list.Plugins) != 2 || list.Plugins[1].Network.Type != "tuning" || !list.LoadOnlyInlinedPlugins {
		t.Errorf("Config(delta) = %s (%v)", b, err)
	}

	_, err = p.Config("nope")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Config(nope) = %v, want ErrNotFound", err)
	}
	if err == nil || !strings.Contains(err.Error(), "40-broken.conflist") {
		t.Errorf("Config(nope) = %v, want the unreadable files named", err)
	}

	// A missing directory is an empty list; a name in it is not found.
	p = &Plugins{ConfDir: filepath.Join(dir, "missing")}
	if nets, err := p.Networks(); len(nets) != 0 || err != nil {
		t.Errorf("Networks of a missing dir = %v, %v", nets, err)
	}
	if _, err := p.Config("alpha"); !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "unreadable") {
		t.Errorf("Config in a missing dir = %v", err)
	}
}

func TestRuntimeConf(t *testing.T) {
	rt := Attachment{ContainerID: "c", NetNS: "/n", PortMappings: []PortMapping{
		{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"},
		{HostPort: 53, ContainerPort: 53, Protocol: "udp", HostIP: "10.0.0.1"},
		{HostPort: 1, ContainerPort: 2},
	}}.runtimeConf()
	if rt.IfName != "eth0" {
		t.Errorf("IfName = %q", rt.IfName)
	}
	b, err := json.Marshal(rt.CapabilityArgs)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostPort":53,"containerPort":53,"protocol":"udp","hostIP":"10.0.0.1"},{"hostPort":1,"containerPort":2,"protocol":"tcp"}]}`
	if string(b) != want {
		t.Errorf("capability args = %s, want %s", b, want)
	}
	if rt := (Attachment{IfName: "net1"}).runtimeConf(); rt.IfName != "net1" || rt.CapabilityArgs != nil {
		t.Errorf("runtimeConf = %+v", rt)
	}
}

func TestMakeResult(t *testing.T) {
	// A 0.4.0 result with two addresses, the pod's interface second.
	res, err := create.Create("0.4.0", []byte(`{"cniVersion":"0.4.0",
		"interfaces":[{"name":"veth1"},{"name":"eth0","sandbox":"/run/netns/x"}],
		"ips":[{"version":"4","address":"10.1.2.3/24","gateway":"10.1.2.1","interface":1},
		       {"version":"6","address":"fd00::3/64","gateway":"fd00::1","interface":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := makeResult(res, "0.4.0", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	wantIPs := []netip.Prefix{netip.MustParsePrefix("10.1.2.3/24"), netip.MustParsePrefix("fd00::3/64")}
	wantGws := []netip.Addr{netip.MustParseAddr("10.1.2.1"), netip.MustParseAddr("fd00::1")}
	if !reflect.DeepEqual(r.IPs, wantIPs) || !reflect.DeepEqual(r.Gateways, wantGws) || r.Interface != "eth0" {
		t.Errorf("makeResult = %+v", r)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.Raw, &raw); err != nil || raw["cniVersion"] != "0.4.0" {
		t.Errorf("Raw = %s (%v)", r.Raw, err)
	}

	// No interfaces: the requested name.
	res, err = create.Create("1.0.0", []byte(`{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.2/16"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r, err = makeResult(res, "1.0.0", "net1"); err != nil || r.Interface != "net1" || len(r.Gateways) != 0 || r.IPs[0] != netip.MustParsePrefix("10.9.0.2/16") {
		t.Errorf("makeResult = %+v, %v", r, err)
	}
}

// fakePlugin is a shell script plugin: it logs each call to dir/calls
// ("COMMAND name containerID ifname netns args"), keeps its last stdin per
// command in dir/stdin.COMMAND.name, prints a fixed result on ADD, and
// fails ADD if its name starts with "fail", DEL if it starts with
// "delfail".
const fakePlugin = `#!/bin/sh
name=$(basename "$0")
dir=$(dirname "$0")
echo "$CNI_COMMAND $name $CNI_CONTAINERID $CNI_IFNAME $CNI_NETNS $CNI_ARGS" >> "$dir/calls"
cat > "$dir/stdin.$CNI_COMMAND.$name"
case "$CNI_COMMAND" in
ADD)
	case "$name" in fail*)
		echo '{"cniVersion":"1.0.0","code":11,"msg":"fake failure"}'
		exit 1;;
	esac
	echo '{"cniVersion":"1.0.0","interfaces":[{"name":"vethx"},{"name":"'"$CNI_IFNAME"'","sandbox":"'"$CNI_NETNS"'"}],"ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":1}]}'
	;;
DEL)
	case "$name" in delfail*)
		echo '{"cniVersion":"1.0.0","code":11,"msg":"fake DEL failure"}'
		exit 1;;
	esac
	;;
VERSION)
	echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'
	;;
esac
exit 0
`

type fakeSetup struct {
	bin   string
	cache string
	p     *Plugins
	dos   atomic.Int32
}

func newFake(t *testing.T, plugins ...string) *fakeSetup {
	t.Helper()
	f := &fakeSetup{bin: t.TempDir(), cache: t.TempDir()}
	for _, name := range plugins {
		if err := os.WriteFile(filepath.Join(f.bin, name), []byte(fakePlugin), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.p = &Plugins{
		ConfDir:  t.TempDir(),
		BinDirs:  []string{filepath.Join(f.bin, "nowhere"), f.bin},
		CacheDir: f.cache,
		Do: func(fn func() error) error {
			f.dos.Add(1)
			errc := make(chan error, 1)
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				errc <- fn()
			}()
			return <-errc
		},
	}
	return f
}

// calls returns the logged calls as "COMMAND name" and clears the log.
func (f *fakeSetup) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.bin, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(f.bin, "calls"))
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 {
			out = append(out, fields[0]+" "+fields[1])
		}
	}
	return out
}

func (f *fakeSetup) stdin(t *testing.T, cmd, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.bin, "stdin."+cmd+"."+name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s stdin of %s: %v: %s", cmd, name, err, b)
	}
	return m
}

func (f *fakeSetup) cached(t *testing.T) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(f.cache, "results"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFakeAddDelCheck(t *testing.T) {
	f := newFake(t, "one", "two")
	conf := []byte(`{"cniVersion":"1.0.0","name":"fake","plugins":[{"type":"one"},{"type":"two","capabilities":{"portMappings":true}}]}`)
	a := Attachment{
		ContainerID:  "web-0001",
		NetNS:        "/run/netns/fake",
		Args:         ArgsFor("default", "web", "web-0001", ""),
		PortMappings: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
	}
	ctx := context.Background()
	r, err := f.p.Add(ctx, conf, a)
	if err != nil {
		t.Fatal(err)
	}
	if r.Interface != "eth0" || len(r.IPs) != 1 || r.IPs[0] != netip.MustParsePrefix("10.1.2.3/24") || len(r.Gateways) != 1 {
		t.Errorf("Add = %+v", r)
	}
	if got, want := f.calls(t), []string{"ADD one", "ADD two"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if n := f.dos.Load(); n != 2 {
		t.Errorf("Do ran %d times, want 2 (one per plugin)", n)
	}
	// The capability goes only to the plugin that declares it.
	if _, ok := f.stdin(t, "ADD", "one")["runtimeConfig"]; ok {
		t.Error("plugin one got runtimeConfig")
	}
	rc, _ := f.stdin(t, "ADD", "two")["runtimeConfig"].(map[string]any)
	if pm, _ := json.Marshal(rc["portMappings"]); string(pm) != `[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]` {
		t.Errorf("plugin two runtimeConfig = %v", rc)
	}
	if c := f.cached(t); len(c) != 1 || c[0] != "fake-web-0001-eth0" {
		t.Errorf("cache = %v", c)
	}

	if err := f.p.Check(ctx, conf, a); err != nil {
		t.Errorf("Check: %v", err)
	}
	if got, want := f.calls(t), []string{"CHECK one", "CHECK two"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}

	// A restarted caller: a new Plugins value, an attachment that only
	// identifies; args, port mappings and prevResult come from the cache.
	p2 := &Plugins{BinDirs: f.p.BinDirs, CacheDir: f.cache}
	if err := p2.Del(ctx, conf, Attachment{ContainerID: "web-0001", NetNS: "/run/netns/fake"}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.calls(t), []string{"DEL two", "DEL one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	in := f.stdin(t, "DEL", "two")
	if _, ok := in["prevResult"]; !ok {
		t.Errorf("DEL got no prevResult: %v", in)
	}
	if rc, _ := in["runtimeConfig"].(map[string]any); rc["portMappings"] == nil {
		t.Errorf("DEL got no cached port mappings: %v", in)
	}
	if c := f.cached(t); len(c) != 0 {
		t.Errorf("cache after Del = %v", c)
	}
	// DEL again: no cache, still fine.
	if err := p2.Del(ctx, conf, a); err != nil {
		t.Errorf("second Del: %v", err)
	}
	if _, ok := f.stdin(t, "DEL", "two")["prevResult"]; ok {
		t.Error("second DEL got a prevResult")
	}
	// CHECK without a cached result is a clear error.
	if err := f.p.Check(ctx, conf, a); err == nil || !strings.Contains(err.Error(), "no cached ADD result") {
		t.Errorf("Check after Del = %v", err)
	}
	// CHECK of a 0.3.1 list is not supported.
	old := []byte(`{"cniVersion":"0.3.1","name":"fake","plugins":[{"type":"one"}]}`)
	if err := f.p.Check(ctx, old, a); !errors.Is(err, ErrCheckUnsupported) {
		t.Errorf("Check of 0.3.1 = %v", err)
	}
}

func TestFakeAddFailureCleansUp(t *testing.T) {
	f := newFake(t, "one", "failtwo")
	conf := []byte(`{"cniVersion":"1.0.0","name":"fake","plugins":[{"type":"one"},{"type":"failtwo"},{"type":"missing"}]}`)
	a := Attachment{ContainerID: "c1", NetNS: "/run/netns/fake"}
	_, err := f.p.Add(context.Background(), conf, a)
	if err == nil {
		t.Fatal("Add succeeded")
	}
	if !strings.Contains(err.Error(), `plugin type="failtwo" failed (add)`) || !strings.Contains(err.Error(), "fake failure") {
		t.Errorf("Add error = %v", err)
	}
	if strings.Contains(err.Error(), "DEL after") {
		t.Errorf("Add error reports a DEL failure: %v", err)
	}
	// The list DEL stops at the missing plugin; then every other plugin
	// gets its DEL on its own.
	if got, want := f.calls(t), []string{"ADD one", "ADD failtwo", "DEL failtwo", "DEL one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if c := f.cached(t); len(c) != 0 {
		t.Errorf("cache = %v", c)
	}

	// A missing plugin at ADD is named.
	conf = []byte(`{"cniVersion":"1.0.0","name":"fake","plugins":[{"type":"one"},{"type":"missing"}]}`)
	_, err = f.p.Add(context.Background(), conf, a)
	if err == nil || !strings.Contains(err.Error(), `plugin type="missing" failed (add)`) {
		t.Errorf("Add error = %v", err)
	}
	if got, want := f.calls(t), []string{"ADD one", "DEL one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}

	// A list of one missing plugin: nothing to clean, no DEL error.
	conf = []byte(`{"cniVersion":"1.0.0","name":"fake","plugins":[{"type":"missing"}]}`)
	_, err = f.p.Add(context.Background(), conf, a)
	if err == nil || !strings.Contains(err.Error(), `plugin type="missing" failed (add)`) || strings.Contains(err.Error(), "DEL after") {
		t.Errorf("Add error = %v", err)
	}
	if got := f.calls(t); len(got) != 0 {
		t.Errorf("calls = %v, want none", got)
	}

	// A cancelled context: ADD fails, the cleanup still runs.
	conf = []byte(`{"cniVersion":"1.0.0","name":"fake","plugins":[{"type":"one"}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.p.Add(ctx, conf, a); err == nil {
		t.Error("Add with a cancelled context succeeded")
	}
	if got := f.calls(t); len(got) == 0 || got[len(got)-1] != "DEL one" {
		t.Errorf("calls = %v, want a final DEL one", got)
	}
}

func TestFakeDelContinuesPastFailure(t *testing.T) {
	f := newFake(t, "one", "delfail", "three")
	conf := []byte(`{"cniVersion":"1.0.0","name":"fake","plugins":[{"type":"one"},{"type":"delfail"},{"type":"three"}]}`)
	a := Attachment{ContainerID: "c2", NetNS: "/run/netns/fake"}
	ctx := context.Background()
	if _, err := f.p.Add(ctx, conf, a); err != nil {
		t.Fatal(err)
	}
	f.calls(t)
	err := f.p.Del(ctx, conf, a)
	if err == nil || !strings.Contains(err.Error(), `plugin type="delfail" failed (delete)`) {
		t.Errorf("Del error = %v", err)
	}
	got := f.calls(t)
	if len(got) < 3 || got[len(got)-1] != "DEL one" {
		t.Errorf("calls = %v, want DEL one at the end", got)
	}
}

func TestSingleConfAdd(t *testing.T) {
	f := newFake(t, "one")
	conf := []byte(`{"cniVersion":"1.0.0","name":"single","type":"one"}`)
	a := Attachment{ContainerID: "c3", NetNS: "/run/netns/fake", IfName: "net1"}
	r, err := f.p.Add(context.Background(), conf, a)
	if err != nil {
		t.Fatal(err)
	}
	if r.Interface != "net1" {
		t.Errorf("Interface = %q", r.Interface)
	}
	if err := f.p.Del(context.Background(), conf, a); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Add(context.Background(), conf, Attachment{ContainerID: "c4"}); err == nil || !strings.Contains(err.Error(), "no network namespace") {
		t.Errorf("Add without NetNS = %v", err)
	}
	if _, err := f.p.Add(context.Background(), []byte(`{`), a); err == nil {
		t.Error("Add of invalid JSON succeeded")
	}
}

func TestDoError(t *testing.T) {
	f := newFake(t, "one")
	f.p.Do = func(func() error) error { return errors.New("setns: operation not permitted") }
	conf := []byte(`{"cniVersion":"1.0.0","name":"fake","plugins":[{"type":"one"}]}`)
	_, err := f.p.Add(context.Background(), conf, Attachment{ContainerID: "c5", NetNS: "/run/netns/fake"})
	if err == nil || !strings.Contains(err.Error(), "in the host network namespace: setns: operation not permitted") {
		t.Errorf("Add = %v", err)
	}
}

package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

// DefaultIfName is the pod-side interface name when Attachment.IfName is
// empty.
const DefaultIfName = "eth0"

// CleanupTimeout bounds the DEL that Add runs after a failed ADD; it runs
// even when Add's context is done (a cancelled ADD is cleaned up too).
const CleanupTimeout = time.Minute

// ErrCheckUnsupported is returned, wrapped, by Check for a configuration
// whose cniVersion is older than 0.4.0 (CHECK came with 0.4.0). It is
// libcni's ErrorCheckNotSupp.
var ErrCheckUnsupported = libcni.ErrorCheckNotSupp

// PortMapping is a port to publish, passed to the plugins that declare the
// portMappings capability (such as portmap).
type PortMapping struct {
	HostPort      int32
	ContainerPort int32
	Protocol      string // "tcp", "udp", "sctp" (lowercase as CNI's portMappings capability expects)
	HostIP        string // "" = all
}

// Attachment is one network namespace's attachment to a network: what
// identifies it to the plugins (ContainerID, NetNS, IfName) and what they
// are told about it.
type Attachment struct {
	ContainerID  string        // unique per attachment (the caller uses the pod's name plus a per-run id)
	NetNS        string        // path of the pod's network namespace
	IfName       string        // "" = "eth0"
	Args         [][2]string   // CNI_ARGS pairs, e.g. {"IgnoreUnknown","1"},{"K8S_POD_NAMESPACE","default"},{"K8S_POD_NAME","web"},{"K8S_POD_INFRA_CONTAINER_ID",id},{"K8S_POD_UID",uid}
	PortMappings []PortMapping // passed as the portMappings runtime capability (only to plugins that declare it, which libcni does)
}

// Result is what ADD gave the attachment.
type Result struct {
	IPs       []netip.Prefix // the pod's addresses with prefix length
	Gateways  []netip.Addr
	Interface string // the pod-side interface name
	Raw       []byte // the result JSON as returned (converted to the config's version)
}

// ArgsFor returns the CNI_ARGS pairs Kubernetes passes: IgnoreUnknown=1,
// K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID
// (uid omitted when empty).
func ArgsFor(namespace, name, infraID, uid string) [][2]string {
	args := [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", namespace},
		{"K8S_POD_NAME", name},
		{"K8S_POD_INFRA_CONTAINER_ID", infraID},
	}
	if uid != "" {
		args = append(args, [2]string{"K8S_POD_UID", uid})
	}
	return args
}

// Add runs ADD for the conflist config (the bytes of Config, so the caller
// can store them and DEL later with the same config even if the file
// changed or disappeared; a single plugin's configuration is accepted too
// and run as a list of one). libcni caches the result in CacheDir for Del
// and Check.
//
// On error, Add runs DEL itself (best effort, bounded by CleanupTimeout
// even if ctx is done) so nothing is left half-made: every plugin of the
// list gets DEL, in reverse order, even when one of them fails, except
// those whose binary is missing (they cannot have done anything). It
// returns the ADD error, which names the plugin (`plugin type="bridge"
// failed (add): ...`), followed by the DEL errors if any.
func (p *Plugins) Add(ctx context.Context, config []byte, a Attachment) (Result, error) {
	list, err := parseConfig(config, false)
	if err != nil {
		return Result{}, fmt.Errorf("CNI ADD of container %q: configuration: %w", a.ContainerID, err)
	}
	rt := a.runtimeConf()
	what := describeAttachment(list, rt)
	if a.NetNS == "" {
		return Result{}, fmt.Errorf("%s: ADD: no network namespace path", what)
	}
	c := p.cniConfig()
	res, err := c.AddNetworkList(ctx, list, rt)
	if err == nil {
		var r Result
		if r, err = makeResult(res, list.CNIVersion, rt.IfName); err == nil {
			return r, nil
		}
		err = fmt.Errorf("result: %w", err)
	}
	err = fmt.Errorf("%s: ADD: %w", what, err)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	if derr := p.del(cctx, c, list, rt, true); derr != nil {
		err = fmt.Errorf("%w; DEL after the failed ADD: %w", err, derr)
	}
	return Result{}, err
}

// Del runs DEL for the attachment a made with config. It works after a
// crash of the caller: libcni's cached result in CacheDir is passed to the
// plugins as prevResult when present (and removed once DEL succeeded), and
// the CNI_ARGS and port mappings cached at ADD are used when a has none.
// DEL of something already gone is not an error (CNI plugins are
// idempotent), and NetNS may be empty or a path that no longer exists if
// the namespace is gone.
//
// Plugins get DEL in reverse order. If one fails, the others still get
// theirs (each on its own, without prevResult once the cache is gone), so
// that one broken plugin does not leave the rest behind, and the error
// names the failing plugins; Del may then be retried.
func (p *Plugins) Del(ctx context.Context, config []byte, a Attachment) error {
	list, err := parseConfig(config, false)
	if err != nil {
		return fmt.Errorf("CNI DEL of container %q: configuration: %w", a.ContainerID, err)
	}
	c := p.cniConfig()
	rt := withCached(c, list, a.runtimeConf())
	if err := p.del(ctx, c, list, rt, false); err != nil {
		return fmt.Errorf("%s: DEL: %w", describeAttachment(list, rt), err)
	}
	return nil
}

// Check runs CHECK (cniVersion >= 0.4.0; ErrCheckUnsupported wrapped for an
// older configuration), for a later health check: each plugin verifies that
// what it made at ADD is still there, from the result cached at ADD (an
// error if there is none). The error names the first plugin that failed
// (`plugin type="bridge" failed (check): ...`). A list with disableCheck
// set passes at once.
func (p *Plugins) Check(ctx context.Context, config []byte, a Attachment) error {
	list, err := parseConfig(config, false)
	if err != nil {
		return fmt.Errorf("CNI CHECK of container %q: configuration: %w", a.ContainerID, err)
	}
	c := p.cniConfig()
	rt := withCached(c, list, a.runtimeConf())
	what := describeAttachment(list, rt)
	if ok, err := version.GreaterThanOrEqualTo(list.CNIVersion, "0.4.0"); err != nil {
		return fmt.Errorf("%s: CHECK: %w", what, err)
	} else if !ok {
		return fmt.Errorf("%s: CHECK: configuration version %q %w", what, list.CNIVersion, ErrCheckUnsupported)
	}
	if list.DisableCheck {
		return nil
	}
	if cached, err := c.GetNetworkListCachedResult(list, rt); err != nil {
		return fmt.Errorf("%s: CHECK: cached ADD result: %w", what, err)
	} else if cached == nil {
		return fmt.Errorf("%s: CHECK: no cached ADD result in %s", what, p.cacheDir())
	}
	// Plugin by plugin (libcni's list CHECK does not say which failed).
	for _, pl := range list.Plugins {
		one := *list
		one.Plugins = []*libcni.PluginConfig{pl}
		if err := c.CheckNetworkList(ctx, &one, rt); err != nil {
			return fmt.Errorf("%s: CHECK: plugin %s failed (check): %w", what, describePlugin(pl), err)
		}
	}
	return nil
}

// describePlugin names a plugin of a list as libcni's errors do.
func describePlugin(pl *libcni.PluginConfig) string {
	s := fmt.Sprintf("type=%q", pl.Network.Type)
	if pl.Network.Name != "" {
		s += fmt.Sprintf(" name=%q", pl.Network.Name)
	}
	return s
}

// del runs DEL for the whole list, as libcni does; if that fails, every
// plugin, in reverse order, gets DEL on its own so that one failure does
// not stop the others. After a failed ADD, plugins whose binary is missing
// are left out of that second pass.
func (p *Plugins) del(ctx context.Context, c *libcni.CNIConfig, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf, afterFailedAdd bool) error {
	err := c.DelNetworkList(ctx, list, rt)
	if err == nil || ctx.Err() != nil || len(list.Plugins) == 1 && !afterFailedAdd {
		return err
	}
	var errs []error
	for i := len(list.Plugins) - 1; i >= 0; i-- {
		pl := list.Plugins[i]
		if afterFailedAdd {
			if _, ferr := invoke.FindInPath(pl.Network.Type, c.Path); ferr != nil {
				continue
			}
		}
		one := *list
		one.Plugins = list.Plugins[i : i+1]
		if err := c.DelNetworkList(ctx, &one, rt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// withCached fills the CNI_ARGS and capability arguments that rt lacks
// from libcni's cache of the ADD, when there is one.
func withCached(c *libcni.CNIConfig, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf) *libcni.RuntimeConf {
	if rt.Args != nil && rt.CapabilityArgs != nil {
		return rt
	}
	b, cached, err := c.GetNetworkListCachedConfig(list, rt)
	if err != nil || b == nil || cached == nil {
		return rt
	}
	out := *rt
	if out.Args == nil {
		out.Args = cached.Args
	}
	if out.CapabilityArgs == nil {
		out.CapabilityArgs = cached.CapabilityArgs
	}
	return &out
}

// portMapEntry is one entry of the portMappings capability, as CNI's
// CONVENTIONS.md spells it.
type portMapEntry struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// runtimeConf is libcni's view of a.
func (a Attachment) runtimeConf() *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: a.ContainerID,
		NetNS:       a.NetNS,
		IfName:      a.IfName,
		Args:        a.Args,
	}
	if rt.IfName == "" {
		rt.IfName = DefaultIfName
	}
	if len(a.PortMappings) > 0 {
		pm := make([]portMapEntry, 0, len(a.PortMappings))
		for _, m := range a.PortMappings {
			proto := strings.ToLower(m.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			pm = append(pm, portMapEntry{HostPort: m.HostPort, ContainerPort: m.ContainerPort, Protocol: proto, HostIP: m.HostIP})
		}
		rt.CapabilityArgs = map[string]any{"portMappings": pm}
	}
	return rt
}

func describeAttachment(list *libcni.NetworkConfigList, rt *libcni.RuntimeConf) string {
	ns := rt.NetNS
	if ns == "" {
		ns = "none"
	}
	return fmt.Sprintf("CNI network %q, container %q (netns %s, %s)", list.Name, rt.ContainerID, ns, rt.IfName)
}

// makeResult turns libcni's result into a Result.
func makeResult(res types.Result, cniVersion, ifName string) (Result, error) {
	if asConf, err := res.GetAsVersion(cniVersion); err == nil {
		res = asConf
	} // else (no or an odd cniVersion in the list): the result as it came
	raw, err := json.Marshal(res)
	if err != nil {
		return Result{}, err
	}
	cur, err := types100.GetResult(res)
	if err != nil {
		return Result{}, err
	}
	r := Result{Raw: raw}
	pod := -1
	for _, ip := range cur.IPs {
		addr, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			return Result{}, fmt.Errorf("invalid address %q", ip.Address.IP)
		}
		addr = addr.Unmap()
		bits := addr.BitLen()
		if ones, total := ip.Address.Mask.Size(); total != 0 {
			bits = ones
			if total == 128 && addr.Is4() && ones >= 96 {
				bits = ones - 96
			}
		}
		r.IPs = append(r.IPs, netip.PrefixFrom(addr, bits))
		if gw, ok := netip.AddrFromSlice(ip.Gateway); ok && !slices.Contains(r.Gateways, gw.Unmap()) {
			r.Gateways = append(r.Gateways, gw.Unmap())
		}
		if i := ip.Interface; pod < 0 && i != nil && *i >= 0 && *i < len(cur.Interfaces) && cur.Interfaces[*i].Sandbox != "" {
			pod = *i
		}
	}
	if pod < 0 {
		for i, ifc := range cur.Interfaces {
			if ifc.Sandbox != "" && (pod < 0 || ifc.Name == ifName) {
				pod = i
			}
		}
	}
	if pod >= 0 {
		r.Interface = cur.Interfaces[pod].Name
	} else {
		r.Interface = ifName
	}
	return r, nil
}

func (p *Plugins) cacheDir() string {
	if p.CacheDir == "" {
		return libcni.CacheDir
	}
	return p.CacheDir
}

// cniConfig is libcni's handle on p.
func (p *Plugins) cniConfig() *libcni.CNIConfig {
	return libcni.NewCNIConfigWithCacheDir(p.binDirs(), p.CacheDir, &execer{
		raw: &invoke.RawExec{Stderr: p.Stderr},
		do:  p.Do,
	})
}

// execer is libcni's invoke.Exec, forking the plugins from a thread that Do
// provides (so that they start in its network namespace).
type execer struct {
	version.PluginDecoder
	raw *invoke.RawExec
	do  func(f func() error) error
}

// ExecPlugin runs the plugin binary in Do.
func (e *execer) ExecPlugin(ctx context.Context, pluginPath string, stdin []byte, environ []string) ([]byte, error) {
	if e.do == nil {
		return e.raw.ExecPlugin(ctx, pluginPath, stdin, environ)
	}
	var (
		out []byte
		ran bool
	)
	err := e.do(func() error {
		ran = true
		var err error
		out, err = e.raw.ExecPlugin(ctx, pluginPath, stdin, environ)
		return err
	})
	if err != nil && !ran {
		return nil, fmt.Errorf("run %s in the host network namespace: %w", pluginPath, err)
	}
	return out, err
}

// FindInPath finds a plugin binary in paths.
func (e *execer) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

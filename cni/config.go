package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/containernetworking/cni/libcni"
)

// DefaultConfDir is where CNI network configurations are looked for when
// Plugins.ConfDir is empty.
const DefaultConfDir = "/etc/cni/net.d"

// DefaultBinDirs are the directories searched for plugin binaries when
// Plugins.BinDirs is nil: the upstream location and Debian's.
var DefaultBinDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

// Plugins is a CNI setup: where configurations, plugin binaries and
// libcni's cache are, and how plugins are started. Its methods may be called
// concurrently (if Do may).
type Plugins struct {
	ConfDir  string   // "" = /etc/cni/net.d
	BinDirs  []string // nil = /opt/cni/bin and /usr/lib/cni
	CacheDir string   // libcni's cache (results, for DEL after a crash); "" = libcni's default /var/lib/cni
	// Do runs f on a thread in the host's network namespace; plugin binaries are
	// executed from there. nil = run directly.
	//
	// f forks the plugin from the thread it is called on, so Do must call
	// it on the thread that joined the namespace (a goroutine locked to it),
	// not hand it to another goroutine, and must return only once f has
	// returned. An error of Do's own (f not run) is reported as such.
	Do func(f func() error) error
	// Stderr receives what plugins write on their standard error when they
	// succeed (a failing plugin's message is in its error). nil discards it.
	Stderr io.Writer
}

// ErrNotFound is returned, wrapped, by Config for a network that no
// configuration file defines.
var ErrNotFound = errors.New("no such CNI network")

// Network describes one network configuration of the configuration
// directory.
type Network struct {
	Name    string   // the conflist's name field
	File    string   // its path
	Version string   // cniVersion
	Plugins []string // plugin types in order
}

func (p *Plugins) confDir() string {
	if p.ConfDir == "" {
		return DefaultConfDir
	}
	return p.ConfDir
}

func (p *Plugins) binDirs() []string {
	if p.BinDirs == nil {
		return DefaultBinDirs
	}
	return p.BinDirs
}

// loaded is one readable configuration file.
type loaded struct {
	net  Network
	list *libcni.NetworkConfigList // list.Bytes is self-contained
}

// Networks lists the network configurations in ConfDir, in the order in
// which libcni looks a name up: *.conflist files sorted by name, then
// *.conf and *.json files sorted by name. A single-plugin configuration
// (a .conf or .json without a "plugins" list) is turned into a list of one,
// as libcni does; a .conf or .json holding a list is read as a list. Plugin
// configurations that libcni adds from the directory ConfDir/NAME/*.conf
// (unless the list says loadOnlyInlinedPlugins) are included.
//
// Files that cannot be read or parsed, and files naming a network that an
// earlier file already defines (libcni would never use them), are left out
// of the list and reported, joined, in the error; the good networks are
// still returned. A missing ConfDir is an empty list.
func (p *Plugins) Networks() ([]Network, error) {
	all, errs := p.scan()
	nets := make([]Network, 0, len(all))
	for _, l := range all {
		nets = append(nets, l.net)
	}
	return nets, errors.Join(errs...)
}

// Config returns the raw bytes of the configuration (a conflist, JSON) of
// network name, ErrNotFound wrapped if absent. The bytes are the file's as
// they are when the file is a conflist whose plugins are all inline; a
// single-plugin configuration is returned as a conflist of one, and plugins
// libcni loads from ConfDir/NAME/*.conf are inlined, so that the bytes alone
// are enough for Add, Del and Check.
func (p *Plugins) Config(name string) ([]byte, error) {
	all, errs := p.scan()
	for _, l := range all {
		if l.net.Name == name {
			return l.list.Bytes, nil
		}
	}
	dir := p.confDir()
	if len(errs) > 0 {
		// The network may be in a file that could not be read.
		return nil, fmt.Errorf("CNI network %q in %s: %w (unreadable configurations: %w)", name, dir, ErrNotFound, errors.Join(errs...))
	}
	return nil, fmt.Errorf("CNI network %q in %s: %w", name, dir, ErrNotFound)
}

// scan reads every configuration file of ConfDir, in libcni's order,
// keeping the first of each name.
func (p *Plugins) scan() ([]loaded, []error) {
	dir := p.confDir()
	lists, err := libcni.ConfFiles(dir, []string{".conflist"})
	if err != nil {
		return nil, []error{fmt.Errorf("CNI configuration directory %s: %w", dir, err)}
	}
	singles, err := libcni.ConfFiles(dir, []string{".conf", ".json"})
	if err != nil {
		return nil, []error{fmt.Errorf("CNI configuration directory %s: %w", dir, err)}
	}
	sort.Strings(lists)
	sort.Strings(singles)
	var (
		out  []loaded
		errs []error
		seen = map[string]string{}
	)
	for _, file := range append(lists, singles...) {
		list, err := loadFile(file, filepath.Ext(file) == ".conflist")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, ok := seen[list.Name]; ok {
			errs = append(errs, fmt.Errorf("CNI config %s: network %q is already defined by %s: ignored", file, list.Name, first))
			continue
		}
		seen[list.Name] = file
		out = append(out, loaded{net: describe(list, file), list: list})
	}
	return out, errs
}

func describe(list *libcni.NetworkConfigList, file string) Network {
	n := Network{Name: list.Name, File: file, Version: list.CNIVersion}
	for _, pl := range list.Plugins {
		n.Plugins = append(n.Plugins, pl.Network.Type)
	}
	return n
}

// loadFile reads one configuration file as libcni would, and returns it as
// a list whose Bytes are self-contained.
func loadFile(file string, isList bool) (*libcni.NetworkConfigList, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CNI config %s: %w", file, err)
	}
	list, err := parseConfig(b, isList)
	if err != nil {
		return nil, fmt.Errorf("CNI config %s: %w", file, err)
	}
	if isList || hasPlugins(b) {
		if !list.LoadOnlyInlinedPlugins {
			extra, err := libcni.NetworkPluginConfsFromFiles(filepath.Dir(file), list.Name)
			if err != nil {
				return nil, fmt.Errorf("CNI config %s: %w", file, err)
			}
			if len(extra) > 0 {
				if list, err = inline(list, extra); err != nil {
					return nil, fmt.Errorf("CNI config %s: %w", file, err)
				}
			}
		}
	}
	if len(list.Plugins) == 0 {
		return nil, fmt.Errorf("CNI config %s: network %q has no plugins", file, list.Name)
	}
	return list, nil
}

// parseConfig parses a configuration: a list, or (unless the caller knows
// it is a list) a single plugin's configuration, turned into a list of one.
// It does not look for plugins in files.
func parseConfig(b []byte, isList bool) (*libcni.NetworkConfigList, error) {
	var list *libcni.NetworkConfigList
	if isList || hasPlugins(b) {
		l, err := libcni.NetworkConfFromBytes(b)
		if err != nil {
			return nil, err
		}
		list = l
	} else {
		conf, err := libcni.NetworkPluginConfFromBytes(b)
		if err != nil {
			return nil, err
		}
		if list, err = libcni.ConfListFromConf(conf); err != nil {
			return nil, fmt.Errorf("convert to a list: %w", err)
		}
	}
	if list.Name == "" {
		return nil, errors.New("the network has no name")
	}
	return list, nil
}

// hasPlugins reports whether the JSON object b has a "plugins" key (it is
// a list rather than a single plugin's configuration).
func hasPlugins(b []byte) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return false
	}
	_, ok := probe["plugins"]
	return ok
}

// inline returns list with the plugins extra appended to its "plugins"
// array and loadOnlyInlinedPlugins set, so that its Bytes say everything.
func inline(list *libcni.NetworkConfigList, extra []*libcni.PluginConfig) (*libcni.NetworkConfigList, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(list.Bytes, &raw); err != nil {
		return nil, err
	}
	var plugins []json.RawMessage
	for _, pl := range append(list.Plugins, extra...) {
		plugins = append(plugins, json.RawMessage(pl.Bytes))
	}
	var err error
	if raw["plugins"], err = json.Marshal(plugins); err != nil {
		return nil, err
	}
	raw["loadOnlyInlinedPlugins"] = json.RawMessage("true")
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return libcni.NetworkConfFromBytes(b)
}

package network

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// LinkAlias returns the alias (IFLA_IFALIAS) of the link name in the host
// namespace, and whether the link exists. Callers use it to record which
// program owns a bridge.
func (h *Host) LinkAlias(name string) (alias string, exists bool, err error) {
	release, err := h.use()
	if err != nil {
		return "", false, err
	}
	defer release()
	if checkLinkName(name) != nil {
		return "", false, nil
	}
	l, err := h.nlh.LinkByName(name)
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("link %q: look up: %w", name, err)
	}
	return l.Attrs().Alias, true, nil
}

// SetLinkAlias sets the alias of the link name in the host namespace.
func (h *Host) SetLinkAlias(name, alias string) error {
	release, err := h.use()
	if err != nil {
		return err
	}
	defer release()
	l, err := h.nlh.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %q: look up: %w", name, err)
	}
	if err := h.nlh.LinkSetAlias(l, alias); err != nil {
		return fmt.Errorf("link %q: set alias: %w", name, err)
	}
	return nil
}

// Unplug takes the host side of a veth off its bridge and down: cheap (two
// small requests, no RCU wait), it leaves the bridge with no port of a pod
// that goes while the kernel destroys the veth with the pod's namespace in
// the background. A missing link is not an error; a link that is not a
// veth is refused.
func (h *Host) Unplug(hostIf string) error {
	release, err := h.use()
	if err != nil {
		return err
	}
	defer release()
	l, err := h.nlh.LinkByName(hostIf)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("veth %q: look up: %w", hostIf, err)
	}
	if _, ok := l.(*netlink.Veth); !ok {
		return fmt.Errorf("link %q: not a veth (%s)", hostIf, l.Type())
	}
	if err := h.nlh.LinkSetNoMaster(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("veth %q: off its bridge: %w", hostIf, err)
	}
	if err := h.nlh.LinkSetDown(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("veth %q: down: %w", hostIf, err)
	}
	return nil
}

// LinkStats returns the bytes a link of the host namespace has received
// and sent (the kernel's counters).
func (h *Host) LinkStats(name string) (rx, tx uint64, err error) {
	release, err := h.use()
	if err != nil {
		return 0, 0, err
	}
	defer release()
	l, err := h.nlh.LinkByName(name)
	if err != nil {
		return 0, 0, fmt.Errorf("link %q: look up: %w", name, err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return 0, 0, fmt.Errorf("link %q: no statistics", name)
	}
	return st.RxBytes, st.TxBytes, nil
}

package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ruleRef is what the published-port bookkeeping needs of a rule: its
// handle and user data. Listing only these, without decoding every
// expression as nftables.Conn.GetRules does, keeps Publish and Unpublish
// cheap when many ports are published (several times faster for 200
// rules).
type ruleRef struct {
	handle   uint64
	userData []byte
}

// dumpConn returns the netlink socket for rule dumps, dialling it in the
// namespace when needed.
func (f *Firewall) dumpConn() (*netlink.Conn, error) {
	if f.nl != nil {
		return f.nl, nil
	}
	ns := 0 // the calling thread's namespace
	if f.nsfd >= 0 {
		ns = f.nsfd
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns})
	if err != nil {
		return nil, fmt.Errorf("dial netlink: %w", err)
	}
	f.nl = c
	return c, nil
}

func (f *Firewall) closeDumpConn() error {
	if f.nl == nil {
		return nil
	}
	err := f.nl.Close()
	f.nl = nil
	return err
}

// listRules dumps the rules of chain (handles and user data). A missing
// table or chain is an error matching unix.ENOENT.
//
// It reads the dump itself, with a 64 KiB buffer: netlink.Conn peeks with
// one page, which makes the kernel fill page-sized dump buffers, several
// times as many round trips.
func (f *Firewall) listRules(chain string) ([]ruleRef, error) {
	c, err := f.dumpConn()
	if err != nil {
		return nil, err
	}
	rules, err := dumpRules(c, f.cfg.Table, chain)
	if err != nil {
		// a failed dump may leave replies behind: start afresh next time
		f.closeDumpConn()
		return nil, err
	}
	return rules, nil
}

// dumpRules sends NFT_MSG_GETRULE (dump) for table (family inet) and chain
// on c and reads the replies.
func dumpRules(c *netlink.Conn, table, chain string) ([]ruleRef, error) {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: []byte(table + "\x00")},
		{Type: unix.NFTA_RULE_CHAIN, Data: []byte(chain + "\x00")},
	})
	if err != nil {
		return nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump,
		},
		// struct nfgenmsg: family, version, resource id
		Data: append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	sent, err := c.Send(req) // fills in the sequence number
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var rules []ruleRef
	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
			return rerr != unix.EAGAIN && rerr != unix.EWOULDBLOCK
		}); err != nil {
			return nil, err
		}
		if rerr != nil {
			return nil, os.NewSyscallError("recvfrom", rerr)
		}
		if n > len(buf) {
			return nil, fmt.Errorf("netlink message of %d bytes truncated", n)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != sent.Header.Sequence {
				continue // a late reply to an earlier request
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return rules, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("short netlink error message")
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return nil, os.NewSyscallError("netlink dump", syscall.Errno(-e))
				}
			case unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE:
				if len(m.Data) < 4 {
					continue
				}
				r, err := parseRuleRef(m.Data[4:])
				if err != nil {
					return nil, fmt.Errorf("decode rule: %w", err)
				}
				rules = append(rules, r)
			}
		}
	}
}

func parseRuleRef(b []byte) (ruleRef, error) {
	var r ruleRef
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return r, err
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_HANDLE:
			if d := ad.Bytes(); len(d) == 8 {
				r.handle = binary.BigEndian.Uint64(d)
			}
		case unix.NFTA_RULE_USERDATA:
			r.userData = ad.Bytes()
		}
	}
	return r, ad.Err()
}

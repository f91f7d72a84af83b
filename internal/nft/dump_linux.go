package nft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// dump sends one dump request (kind NFT_MSG_GET*, attributes attrs) on
// the connection's socket and calls fn with the attributes of every
// message of the answer.
func (c *Conn) dump(kind uint16, f Family, attrs enc, fn func(attrs []byte) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd <= 0 {
		fd, err := c.socket()
		if err != nil {
			return err
		}
		c.fd = fd
	}
	b := &batch{base: c.seq}
	c.seq += 1 << 20
	b.header(unix.NFNL_SUBSYS_NFTABLES<<8|kind, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, uint8(f.nfproto()), 0)
	b.buf = append(b.buf, attrs...)
	b.finish()
	err := unix.Sendto(c.fd, b.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	if err == nil {
		err = readDump(c.fd, c.readBuf(), b.base, fn)
	}
	if err != nil {
		unix.Close(c.fd)
		c.fd = 0
	}
	return err
}

// errDumpInterrupted: the table changed during a dump.
var errDumpInterrupted = errors.New("dump interrupted by a change")

func readDump(fd int, buf []byte, seq uint32, fn func([]byte) error) error {
	var ferr error
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("read dump: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return errors.New("read dump: truncated message")
			}
			typ := binary.NativeEndian.Uint16(b[4:6])
			flags := binary.NativeEndian.Uint16(b[6:8])
			mseq := binary.NativeEndian.Uint32(b[8:12])
			msg := b[unix.NLMSG_HDRLEN:l]
			b = b[min(align(l), len(b)):]
			if mseq != seq {
				continue // an answer to an earlier request
			}
			switch {
			case typ == unix.NLMSG_DONE:
				if flags&unix.NLM_F_DUMP_INTR != 0 {
					return errDumpInterrupted
				}
				return ferr
			case typ == unix.NLMSG_ERROR:
				if len(msg) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(msg)); code != 0 {
						return unix.Errno(-code)
					}
				}
				return ferr
			case len(msg) >= nfnlHdrLen && ferr == nil:
				ferr = fn(msg[nfnlHdrLen:])
			}
		}
	}
}

// attrs calls fn for each attribute in b.
func attrs(b []byte, fn func(typ uint16, data []byte)) {
	for len(b) >= unix.SizeofNlAttr {
		l := int(binary.NativeEndian.Uint16(b))
		if l < unix.SizeofNlAttr || l > len(b) {
			return
		}
		fn(binary.NativeEndian.Uint16(b[2:])&^nlaNested, b[unix.SizeofNlAttr:l])
		b = b[min(align(l), len(b)):]
	}
}

// dataValue is the value inside a nested NFTA_DATA_VALUE.
func dataValue(b []byte) (v []byte) {
	attrs(b, func(t uint16, d []byte) {
		if t == unix.NFTA_DATA_VALUE {
			v = d
		}
	})
	return v
}

// DumpedElement is an element as the kernel has it. Its slices point into
// a buffer that is reused: copy what must outlive the callback.
type DumpedElement struct {
	Key, Value []byte
	Verdict    *Verdict // verdict maps
	Flags      uint32
}

// Elements calls fn for every element of a set of our table.
func (c *Conn) Elements(table string, f Family, set string, fn func(DumpedElement)) error {
	req := enc(nil).str(unix.NFTA_SET_ELEM_LIST_TABLE, table).str(unix.NFTA_SET_ELEM_LIST_SET, set)
	err := c.dump(unix.NFT_MSG_GETSETELEM, f, req, func(msg []byte) error {
		attrs(msg, func(t uint16, d []byte) {
			if t != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				return
			}
			attrs(d, func(_ uint16, el []byte) {
				var e DumpedElement
				attrs(el, func(t uint16, d []byte) {
					switch t {
					case unix.NFTA_SET_ELEM_KEY:
						e.Key = dataValue(d)
					case unix.NFTA_SET_ELEM_DATA:
						e.Value, e.Verdict = dataOrVerdict(d)
					case unix.NFTA_SET_ELEM_FLAGS:
						if len(d) == 4 {
							e.Flags = binary.BigEndian.Uint32(d)
						}
					}
				})
				fn(e)
			})
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list elements of %s: %w", set, err)
	}
	return nil
}

func dataOrVerdict(b []byte) (value []byte, v *Verdict) {
	attrs(b, func(t uint16, d []byte) {
		switch t {
		case unix.NFTA_DATA_VALUE:
			value = d
		case unix.NFTA_DATA_VERDICT:
			v = &Verdict{}
			attrs(d, func(t uint16, d []byte) {
				switch {
				case t == unix.NFTA_VERDICT_CODE && len(d) == 4:
					v.Kind = verdictKind(int32(binary.BigEndian.Uint32(d)))
				case t == unix.NFTA_VERDICT_CHAIN && len(d) > 0:
					v.Chain = string(d[:len(d)-1])
				}
			})
		}
	})
	return value, v
}

func verdictKind(code int32) expr.VerdictKind { return expr.VerdictKind(code) }

// RuleHandle is a rule as RuleHandles reports it: its handle and the
// modulus of its numgen expression (0 without one), which is what tells
// apart rules that differ in the number of things they pick from.
type RuleHandle struct {
	Handle uint64
	Numgen uint32
}

// RuleHandles lists the rules of a chain of our table.
func (c *Conn) RuleHandles(table string, f Family, chain string) ([]RuleHandle, error) {
	var out []RuleHandle
	req := enc(nil).str(unix.NFTA_RULE_TABLE, table).str(unix.NFTA_RULE_CHAIN, chain)
	err := c.dump(unix.NFT_MSG_GETRULE, f, req, func(msg []byte) error {
		if name, r := parseRule(msg); name == chain {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rules of %s: %w", chain, err)
	}
	return out, nil
}

func parseRule(msg []byte) (chain string, r RuleHandle) {
	attrs(msg, func(t uint16, d []byte) {
		switch t {
		case unix.NFTA_RULE_CHAIN:
			chain = string(bytesTrimNul(d))
		case unix.NFTA_RULE_HANDLE:
			if len(d) == 8 {
				r.Handle = binary.BigEndian.Uint64(d)
			}
		case unix.NFTA_RULE_EXPRESSIONS:
			attrs(d, func(_ uint16, e []byte) { r.Numgen = max(r.Numgen, numgenModulus(e)) })
		}
	})
	return chain, r
}

func numgenModulus(e []byte) (mod uint32) {
	var name string
	var data []byte
	attrs(e, func(t uint16, d []byte) {
		switch t {
		case unix.NFTA_EXPR_NAME:
			name = string(bytesTrimNul(d))
		case unix.NFTA_EXPR_DATA:
			data = d
		}
	})
	if name != "numgen" {
		return 0
	}
	attrs(data, func(t uint16, d []byte) {
		if t == unix.NFTA_NG_MODULUS && len(d) == 4 {
			mod = binary.BigEndian.Uint32(d)
		}
	})
	return mod
}

func bytesTrimNul(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == 0 {
		return b[:len(b)-1]
	}
	return b
}

// TableComment is the comment of our table; ok is false when the table
// does not exist.
func (c *Conn) TableComment(table string, f Family) (comment string, ok bool, err error) {
	err = c.dump(unix.NFT_MSG_GETTABLE, f, nil, func(msg []byte) error {
		var name, com string
		attrs(msg, func(t uint16, d []byte) {
			switch t {
			case unix.NFTA_TABLE_NAME:
				name = string(bytesTrimNul(d))
			case nftaTableUserdata:
				com = udataString(d, udataTableComment)
			}
		})
		if name == table {
			comment, ok = com, true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("list tables: %w", err)
	}
	return comment, ok, nil
}

func udataString(u []byte, typ byte) string {
	for len(u) >= 2 {
		t, l := u[0], int(u[1])
		if len(u) < 2+l {
			return ""
		}
		if t == typ {
			return string(bytesTrimNul(u[2 : 2+l]))
		}
		u = u[2+l:]
	}
	return ""
}

// SetInfo is a set of our table as the kernel has it.
type SetInfo struct {
	Flags uint32
	Size  uint32 // 0: no size
}

// Sets lists the sets of our table by name.
func (c *Conn) Sets(table string, f Family) (map[string]SetInfo, error) {
	out := map[string]SetInfo{}
	req := enc(nil).str(unix.NFTA_SET_TABLE, table)
	err := c.dump(unix.NFT_MSG_GETSET, f, req, func(msg []byte) error {
		var name, tbl string
		var si SetInfo
		attrs(msg, func(t uint16, d []byte) {
			switch t {
			case unix.NFTA_SET_TABLE:
				tbl = string(bytesTrimNul(d))
			case unix.NFTA_SET_NAME:
				name = string(bytesTrimNul(d))
			case unix.NFTA_SET_FLAGS:
				if len(d) == 4 {
					si.Flags = binary.BigEndian.Uint32(d)
				}
			case unix.NFTA_SET_DESC:
				attrs(d, func(t uint16, d []byte) {
					if t == unix.NFTA_SET_DESC_SIZE && len(d) == 4 {
						si.Size = binary.BigEndian.Uint32(d)
					}
				})
			}
		})
		if tbl == table {
			out[name] = si
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	return out, nil
}

// Chains lists the chains of our table with their rules, in order.
func (c *Conn) Chains(table string, f Family) (map[string][]RuleHandle, error) {
	out := map[string][]RuleHandle{}
	req := enc(nil).str(unix.NFTA_CHAIN_TABLE, table)
	err := c.dump(unix.NFT_MSG_GETCHAIN, f, req, func(msg []byte) error {
		var name, tbl string
		attrs(msg, func(t uint16, d []byte) {
			switch t {
			case unix.NFTA_CHAIN_TABLE:
				tbl = string(bytesTrimNul(d))
			case unix.NFTA_CHAIN_NAME:
				name = string(bytesTrimNul(d))
			}
		})
		if tbl == table {
			out[name] = nil
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	req = enc(nil).str(unix.NFTA_RULE_TABLE, table)
	err = c.dump(unix.NFT_MSG_GETRULE, f, req, func(msg []byte) error {
		chain, r := parseRule(msg)
		if _, ok := out[chain]; ok {
			out[chain] = append(out[chain], r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return out, nil
}

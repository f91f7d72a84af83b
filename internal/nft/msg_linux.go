package nft

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// A transaction is marshalled straight into one buffer: netlink headers
// and attributes appended in place, element lists without an
// intermediate value per element. google/nftables builds a message value
// per object and an attribute value per field, which for a full sync of
// tens of thousands of elements cost more CPU than the kernel's work.
// Rule expressions, few in number, are still encoded by google/nftables
// (expr.Marshal) when a rule is built.

const (
	nlaNested    = unix.NLA_F_NESTED
	nlaAlign     = 4
	nfnlHdrLen   = 4 // struct nfgenmsg
	maxAttrBytes = 60 << 10
)

func align(n int) int { return (n + nlaAlign - 1) &^ (nlaAlign - 1) }

// enc appends netlink attributes to a byte slice.
type enc []byte

func (e enc) attr(typ uint16, data []byte) enc {
	n := unix.SizeofNlAttr + len(data)
	e = binary.NativeEndian.AppendUint16(e, uint16(n))
	e = binary.NativeEndian.AppendUint16(e, typ)
	e = append(e, data...)
	for range align(n) - n {
		e = append(e, 0)
	}
	return e
}

func (e enc) str(typ uint16, s string) enc {
	n := unix.SizeofNlAttr + len(s) + 1
	e = binary.NativeEndian.AppendUint16(e, uint16(n))
	e = binary.NativeEndian.AppendUint16(e, typ)
	e = append(e, s...)
	e = append(e, 0)
	for range align(n) - n {
		e = append(e, 0)
	}
	return e
}

func (e enc) u32(typ uint16, v uint32) enc {
	e = binary.NativeEndian.AppendUint16(e, 8)
	e = binary.NativeEndian.AppendUint16(e, typ)
	return binary.BigEndian.AppendUint32(e, v)
}

func (e enc) u64(typ uint16, v uint64) enc {
	e = binary.NativeEndian.AppendUint16(e, 12)
	e = binary.NativeEndian.AppendUint16(e, typ)
	return binary.BigEndian.AppendUint64(e, v)
}

// nest opens a nested attribute; close it with end(start).
func (e enc) nest(typ uint16) (enc, int) {
	start := len(e)
	e = binary.NativeEndian.AppendUint16(e, 0)
	e = binary.NativeEndian.AppendUint16(e, typ|nlaNested)
	return e, start
}

func (e enc) end(start int) enc {
	binary.NativeEndian.PutUint16(e[start:], uint16(len(e)-start))
	return e
}

// value appends a nested NFTA_DATA_VALUE holding b.
func (e enc) value(typ uint16, b []byte) enc {
	e, s := e.nest(typ)
	return e.attr(unix.NFTA_DATA_VALUE, b).end(s)
}

// msgInfo names a message of a batch for error reports.
type msgInfo struct {
	kind uint16
	name string
}

// batch is a netlink batch being built: BATCH_BEGIN, messages, BATCH_END.
type batch struct {
	buf   enc
	infos []msgInfo // by sequence number - 1
	open  int       // start of the message being built
	last  int       // start of the last nf_tables message
	base  uint32    // sequence number of BATCH_BEGIN
}

func newBatch(base uint32) *batch {
	b := &batch{buf: make(enc, 0, 4096), base: base}
	b.header(unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	b.infos = append(b.infos, msgInfo{kind: unix.NFNL_MSG_BATCH_BEGIN})
	b.finish()
	return b
}

// header starts a message; resID is the nfgenmsg resource id.
func (b *batch) header(typ, flags uint16, family uint8, resID uint16) {
	b.open = len(b.buf)
	b.buf = binary.NativeEndian.AppendUint32(b.buf, 0) // length, set by finish
	b.buf = binary.NativeEndian.AppendUint16(b.buf, typ)
	b.buf = binary.NativeEndian.AppendUint16(b.buf, flags)
	b.buf = binary.NativeEndian.AppendUint32(b.buf, b.base+uint32(len(b.infos))) // sequence
	b.buf = binary.NativeEndian.AppendUint32(b.buf, 0)                           // port id
	b.buf = append(b.buf, family, unix.NFNETLINK_V0)
	b.buf = binary.BigEndian.AppendUint16(b.buf, resID)
}

// msg starts an nf_tables message of kind (NFT_MSG_*) about name.
func (b *batch) msg(kind uint16, flags uint16, f Family, name string) {
	b.header(unix.NFNL_SUBSYS_NFTABLES<<8|kind, unix.NLM_F_REQUEST|flags, uint8(f.nfproto()), 0)
	b.last = b.open
	b.infos = append(b.infos, msgInfo{kind: kind, name: name})
}

func (b *batch) finish() {
	binary.NativeEndian.PutUint32(b.buf[b.open:], uint32(len(b.buf)-b.open))
}

// messages is the number of nf_tables messages (without BEGIN and END).
func (b *batch) messages() int { return len(b.infos) - 1 }

// close appends BATCH_END and asks for an acknowledgement of the last
// nf_tables message only; it returns the bytes and that message's
// sequence number.
func (b *batch) close() ([]byte, uint32) {
	last := b.base + uint32(len(b.infos)) - 1
	if b.messages() > 0 {
		fl := binary.NativeEndian.Uint16(b.buf[b.last+6:])
		binary.NativeEndian.PutUint16(b.buf[b.last+6:], fl|unix.NLM_F_ACK)
	}
	b.header(unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	b.finish()
	return b.buf, last
}

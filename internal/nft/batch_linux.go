package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// google/nftables asks the kernel to acknowledge, and for rules to echo,
// every message of a batch and reads the answers one by one. For a full
// sync of tens of thousands of chains that costs seconds and overflows the
// socket's receive buffer. So a Tx lets the library build the batch but
// sends it itself: no acknowledgement or echo except for the last message,
// one sendmsg, and then only errors and that one acknowledgement to read.
// The library is handed a fake acknowledgement per message.

// transport stands in for the netlink socket of the message builder.
func (tx *Tx) transport(req []netlink.Message) ([]netlink.Message, error) {
	if req == nil {
		// The builder waits for one acknowledgement per message.
		return []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 20)}}, nil
	}
	tx.sendErr = tx.send(req)
	return nil, nil
}

const ackOrEcho = netlink.Acknowledge | netlink.HeaderFlags(unix.NLM_F_ECHO)

func (tx *Tx) send(req []netlink.Message) error {
	// req is BATCH_BEGIN, the messages, BATCH_END.
	if len(req) < 3 {
		return nil
	}
	for i := range req {
		req[i].Header.Flags &^= ackOrEcho
		req[i].Header.Sequence = uint32(i + 1)
	}
	last := len(req) - 2
	req[last].Header.Flags |= netlink.Acknowledge
	buf := make([]byte, 0, 64*len(req))
	for _, m := range req {
		b, err := m.MarshalBinary()
		if err != nil {
			return fmt.Errorf("marshal batch: %w", err)
		}
		buf = append(buf, b...)
	}

	fd, err := tx.socket()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send batch: %w", err)
	}
	return readBatchResult(fd, uint32(last+1), func(seq uint32) string { return tx.describe(req, seq) })
}

// socket opens a netfilter netlink socket in the transaction's namespace
// with buffers large enough for a full sync.
func (tx *Tx) socket() (int, error) {
	var fd int
	open := func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return fmt.Errorf("open nftables netlink: %w", err)
		}
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, bufferSize)
		}
		tv := unix.NsecToTimeval((30 * time.Second).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}
	if tx.nsFd <= 0 {
		return fd, open()
	}
	err := inNetNS(tx.nsFd, open)
	return fd, err
}

// readBatchResult reads error messages until the acknowledgement of the
// last message (sequence last) arrives.
func readBatchResult(fd int, last uint32, describe func(uint32) string) error {
	var errs []error
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("read batch result: %w", err))...)
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:6])
			seq := binary.NativeEndian.Uint32(b[8:12])
			if typ == unix.NLMSG_ERROR && l >= unix.NLMSG_HDRLEN+4 {
				if code := int32(binary.NativeEndian.Uint32(b[16:20])); code != 0 {
					errs = append(errs, fmt.Errorf("%s: %w", describe(seq), unix.Errno(-code)))
				}
				if seq == last {
					return errors.Join(errs...)
				}
			}
			adv := (l + 3) &^ 3
			if adv > len(b) {
				break
			}
			b = b[adv:]
		}
	}
}

// describe names the message with sequence seq for an error.
func (tx *Tx) describe(req []netlink.Message, seq uint32) string {
	i := int(seq) - 1
	if i < 0 || i >= len(req) {
		return fmt.Sprintf("message %d", seq)
	}
	kinds := map[uint16]string{unix.NFT_MSG_NEWTABLE: "add table", unix.NFT_MSG_DELTABLE: "delete table",
		unix.NFT_MSG_NEWCHAIN: "add chain", unix.NFT_MSG_DELCHAIN: "delete chain", unix.NFT_MSG_NEWRULE: "add rule",
		unix.NFT_MSG_DELRULE: "delete rules", unix.NFT_MSG_NEWSET: "add set", unix.NFT_MSG_DELSET: "delete set",
		unix.NFT_MSG_NEWSETELEM: "add elements", unix.NFT_MSG_DELSETELEM: "delete elements"}
	kind := kinds[uint16(req[i].Header.Type)&0xff]
	if kind == "" {
		kind = fmt.Sprintf("message type %#x", uint16(req[i].Header.Type))
	}
	return fmt.Sprintf("%s (message %d of %d) %s", kind, i, len(req)-2, names(req[i].Data))
}

// names extracts the printable strings (table, chain, set names) of a
// message for error reports.
func names(data []byte) string {
	if len(data) < 4 {
		return ""
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return ""
	}
	var out []string
	for ad.Next() && len(out) < 3 {
		b := ad.Bytes()
		if len(b) > 1 && b[len(b)-1] == 0 && printable(b[:len(b)-1]) {
			out = append(out, string(b[:len(b)-1]))
		}
	}
	return fmt.Sprint(out)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// A batch goes out in one sendmsg with only its last message asking for an
// acknowledgement (google/nftables asks for one, and for rules an echo, per
// message and reads them one by one, which for tens of thousands of
// objects cost seconds and overflowed the socket buffer); then only errors
// and that one acknowledgement are read.

func (tx *Tx) send() error {
	buf, last := tx.b.close()
	c := tx.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd <= 0 {
		fd, err := c.socket()
		if err != nil {
			return err
		}
		c.fd = fd
	}
	err := unix.Sendto(c.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	if err == nil {
		err = readBatchResult(c.fd, c.readBuf(), tx.b.base, last, tx.describe)
	} else {
		err = fmt.Errorf("send batch: %w", err)
	}
	if err != nil {
		// Start afresh: the socket may hold answers not read.
		unix.Close(c.fd)
		c.fd = 0
	}
	return err
}

// readBuf is the buffer answers are read into (c.mu held): a dump's
// messages come in parts of at most 32 KiB.
func (c *Conn) readBuf() []byte {
	if c.rbuf == nil {
		c.rbuf = make([]byte, 64<<10)
	}
	return c.rbuf
}

// socket opens a netfilter netlink socket in the connection's namespace
// (it stays there) with buffers large enough for a full sync.
func (c *Conn) socket() (int, error) {
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
		// Errors without a copy of the failed message (up to 64 KiB).
		_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
		tv := unix.NsecToTimeval((30 * time.Second).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}
	var err error
	if c.nsFd <= 0 {
		err = open()
	} else {
		err = inNetNS(c.nsFd, open)
	}
	if err != nil && fd > 0 {
		unix.Close(fd)
	}
	return fd, err
}

// readBatchResult reads error messages until the acknowledgement of the
// last message (sequence last) arrives.
func readBatchResult(fd int, buf []byte, first, last uint32, describe func(uint32) string) error {
	var errs []error
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
			if typ == unix.NLMSG_ERROR && l >= unix.NLMSG_HDRLEN+4 && seq >= first && seq <= last {
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
func (tx *Tx) describe(seq uint32) string {
	i := int(seq - tx.b.base)
	if i <= 0 || i >= len(tx.b.infos) {
		return fmt.Sprintf("message %d", seq)
	}
	kinds := map[uint16]string{unix.NFT_MSG_NEWTABLE: "add table", unix.NFT_MSG_DELTABLE: "delete table",
		unix.NFT_MSG_NEWCHAIN: "add chain", unix.NFT_MSG_DELCHAIN: "delete chain", unix.NFT_MSG_NEWRULE: "add rule",
		unix.NFT_MSG_DELRULE: "delete rules", unix.NFT_MSG_NEWSET: "add set", unix.NFT_MSG_DELSET: "delete set",
		unix.NFT_MSG_NEWSETELEM: "add elements", unix.NFT_MSG_DELSETELEM: "delete elements"}
	in := tx.b.infos[i]
	kind := kinds[in.kind]
	if kind == "" {
		kind = fmt.Sprintf("message type %#x", in.kind)
	}
	return fmt.Sprintf("%s %s (message %d of %d)", kind, in.name, i, tx.b.messages())
}

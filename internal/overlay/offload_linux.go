package overlay

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/netns"
)

// ethtoolSTXCSUM is ETHTOOL_STXCSUM: set TX checksum offload on or off.
const ethtoolSTXCSUM = 0x17

type ethtoolValue struct {
	cmd  uint32
	data uint32
}

type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

// checksumOffload switches TX checksum offload of the device off when the
// configuration asks for it, or ("auto") on kernels before 5.7, whose NAT
// code corrupts the outer UDP checksum of offloaded VXLAN packets.
func (o *Overlay) checksumOffload(dev string) error {
	switch o.cfg.ChecksumOffload {
	case "on":
		return nil
	case "auto":
		if !kernelBefore(5, 7) {
			return nil
		}
	}
	set := func() error { return setTxChecksum(dev, false) }
	var err error
	if o.cfg.NetNSFd > 0 {
		err = inNetNS(o.cfg.NetNSFd, set)
	} else {
		err = set()
	}
	if err != nil {
		return fmt.Errorf("overlay: turn off TX checksum offload of %s: %w", dev, err)
	}
	o.log.Info("TX checksum offload turned off", "device", dev)
	return nil
}

func setTxChecksum(dev string, on bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	v := ethtoolValue{cmd: ethtoolSTXCSUM}
	if on {
		v.data = 1
	}
	var req ifreqData
	copy(req.name[:], dev)
	req.data = uintptr(unsafe.Pointer(&v))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req)))
	if errno != 0 {
		return errno
	}
	return nil
}

// txChecksum reports whether TX checksum offload of dev is on.
func txChecksum(dev string) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	v := ethtoolValue{cmd: 0x16} // ETHTOOL_GTXCSUM
	var req ifreqData
	copy(req.name[:], dev)
	req.data = uintptr(unsafe.Pointer(&v))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req)))
	if errno != 0 {
		return false, errno
	}
	return v.data != 0, nil
}

// inNetNS runs fn inside the namespace with file descriptor fd.
func inNetNS(fd int, fn func() error) error {
	ns, err := netns.Open(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return err
	}
	defer ns.Close()
	return ns.Do(fn)
}

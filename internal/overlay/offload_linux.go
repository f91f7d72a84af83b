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

// checksumOffload brings TX checksum offload of the device to what the
// configuration asks for: off with "off", or with "auto" on kernels before
// 5.7, whose NAT code corrupts the outer UDP checksum of offloaded VXLAN
// packets; on otherwise. Both ways: a device kept from a run that switched
// it off ("off", or an older kernel's setting carried by a kept device)
// would otherwise stay off and checksum every packet in software.
func (o *Overlay) checksumOffload(dev string) error {
	want := true
	switch o.cfg.ChecksumOffload {
	case "off":
		want = false
	case "auto":
		want = !kernelBefore(5, 7)
	}
	var changed bool
	apply := func() error {
		have, err := txChecksum(dev)
		if err != nil || have == want {
			return err
		}
		changed = true
		return setTxChecksum(dev, want)
	}
	var err error
	if o.cfg.NetNSFd > 0 {
		err = inNetNS(o.cfg.NetNSFd, apply)
	} else {
		err = apply()
	}
	if err != nil {
		return fmt.Errorf("overlay: set TX checksum offload of %s to %v: %w", dev, want, err)
	}
	if changed {
		o.log.Info("TX checksum offload set", "device", dev, "on", want)
	}
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

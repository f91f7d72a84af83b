package nft

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// bufferSize is the socket buffer forced on the netlink socket so that a
// full sync of a large table (tens of thousands of chains, each message
// acknowledged) fits in one transaction.
const bufferSize = 64 << 20

// Conn talks nf_tables netlink in one network namespace.
type Conn struct {
	nsFd int
	c    *nftables.Conn // lasting, for reads and small writes

	mu   sync.Mutex
	fd   int    // the socket transactions are sent on, opened on first use
	seq  uint32 // next batch's first sequence number
	rbuf []byte // answers are read into it
}

// Dial opens a connection to the namespace whose file descriptor is nsFd,
// or to the caller's namespace when nsFd is 0.
func Dial(nsFd int) (*Conn, error) {
	c, err := nftables.New(connOptions(nsFd, true)...)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink: %w", err)
	}
	return &Conn{nsFd: nsFd, c: c, seq: 1}, nil
}

func connOptions(nsFd int, lasting bool) []nftables.ConnOption {
	opts := []nftables.ConnOption{nftables.WithSockOptions(forceBuffers)}
	if lasting {
		opts = append(opts, nftables.AsLasting())
	}
	if nsFd > 0 {
		opts = append(opts, nftables.WithNetNSFd(nsFd))
	}
	return opts
}

func forceBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, bufferSize); e != nil {
				serr = e
			}
		}
	})
	if err != nil {
		return err
	}
	if errors.Is(serr, unix.EPERM) {
		return nil // unprivileged: keep the default buffers
	}
	return serr
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.fd > 0 {
		unix.Close(c.fd)
		c.fd = 0
	}
	c.mu.Unlock()
	return c.c.CloseLasting()
}

// Exists reports whether our table exists.
func (c *Conn) Exists(name string, f Family) (bool, error) {
	tables, err := c.c.ListTablesOfFamily(f.table())
	if err != nil {
		return false, fmt.Errorf("list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// DeleteTable removes our table if it exists.
func (c *Conn) DeleteTable(name string, f Family) error {
	t := &nftables.Table{Name: name, Family: f.table()}
	c.c.AddTable(t)
	c.c.DelTable(t)
	if err := c.c.Flush(); err != nil {
		return fmt.Errorf("delete table %s %s: %w", f, name, err)
	}
	return nil
}

// Summary is the shape of a table as the kernel has it: chain names with
// their rule counts, and set names with their element counts. A periodic
// resync compares it with the desired table to find drift cheaply.
type Summary struct {
	Chains map[string]int
	Sets   map[string]int
}

// Summarize reads the shape of our table. Rules are counted per chain only
// for the chains named in ruleChains (counting every chain of a large table
// would cost one dump each).
func (c *Conn) Summarize(name string, f Family, ruleChains []string, elemSets []string) (*Summary, error) {
	t := &nftables.Table{Name: name, Family: f.table()}
	s := &Summary{Chains: map[string]int{}, Sets: map[string]int{}}
	chains, err := c.c.ListChainsOfTableFamily(f.table())
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name == name {
			s.Chains[ch.Name] = -1
		}
	}
	for _, ch := range ruleChains {
		if _, ok := s.Chains[ch]; !ok {
			continue
		}
		rules, err := c.c.GetRules(t, &nftables.Chain{Name: ch, Table: t})
		if err != nil {
			return nil, fmt.Errorf("list rules of %s: %w", ch, err)
		}
		s.Chains[ch] = len(rules)
	}
	sets, err := c.c.GetSets(t)
	if err != nil && !errors.Is(err, syscall.ENOENT) {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	for _, set := range sets {
		s.Sets[set.Name] = -1
	}
	for _, name := range elemSets {
		set, ok := findSet(sets, name)
		if !ok {
			continue
		}
		elems, err := c.c.GetSetElements(set)
		if err != nil {
			return nil, fmt.Errorf("list elements of %s: %w", name, err)
		}
		s.Sets[name] = len(elems)
	}
	return s, nil
}

func findSet(sets []*nftables.Set, name string) (*nftables.Set, bool) {
	for _, s := range sets {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

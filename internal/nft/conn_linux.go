package nft

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// bufferSize is the socket buffer forced on the netlink socket so that a
// full sync of a large table fits in one transaction.
const bufferSize = 64 << 20

// Conn talks nf_tables netlink in one network namespace, over one socket
// opened there on first use.
type Conn struct {
	nsFd int

	mu   sync.Mutex
	fd   int    // the socket, opened on first use
	seq  uint32 // next request's first sequence number
	rbuf []byte // answers are read into it
}

// Dial returns a connection to the namespace whose file descriptor is
// nsFd, or to the caller's namespace when nsFd is 0.
func Dial(nsFd int) (*Conn, error) {
	c := &Conn{nsFd: nsFd, seq: 1}
	c.mu.Lock()
	defer c.mu.Unlock()
	fd, err := c.socket()
	if err != nil {
		return nil, err
	}
	c.fd = fd
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd > 0 {
		unix.Close(c.fd)
		c.fd = 0
	}
	return nil
}

// Exists reports whether our table exists.
func (c *Conn) Exists(name string, f Family) (bool, error) {
	_, ok, err := c.TableComment(name, f)
	return ok, err
}

// DeleteTable removes our table if it exists.
func (c *Conn) DeleteTable(name string, f Family) error {
	tx := c.Begin(name, f)
	tx.EnsureTable()
	tx.tableMsg(unix.NFT_MSG_DELTABLE, 0)
	if err := tx.Commit(); err != nil {
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

// Summarize reads the shape of our table. Elements are counted only for
// the sets named in elemSets (-1 for the others).
func (c *Conn) Summarize(name string, f Family, elemSets []string) (*Summary, error) {
	s := &Summary{Chains: map[string]int{}, Sets: map[string]int{}}
	chains, err := c.Chains(name, f)
	if err != nil {
		return nil, err
	}
	for ch, rules := range chains {
		s.Chains[ch] = len(rules)
	}
	sets, err := c.Sets(name, f)
	if err != nil {
		return nil, err
	}
	for set := range sets {
		s.Sets[set] = -1
	}
	for _, set := range elemSets {
		if _, ok := sets[set]; !ok {
			continue
		}
		n := 0
		if err := c.Elements(name, f, set, func(DumpedElement) { n++ }); err != nil {
			return nil, err
		}
		s.Sets[set] = n
	}
	return s, nil
}

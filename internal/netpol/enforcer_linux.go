package netpol

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/nft"
)

// Enforcer programs the NetworkPolicies of this node's pods.
type Enforcer struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	conn *nft.Conn
}

// New builds an enforcer; nothing is programmed before Sync.
func New(cfg Config, log *slog.Logger) (*Enforcer, error) {
	cfg.defaults()
	if cfg.Family != nft.IPv4 && cfg.Family != nft.IPv6 {
		return nil, fmt.Errorf("netpol: unknown address family %d", cfg.Family)
	}
	return &Enforcer{cfg: cfg, log: log.With("component", "netpol", "family", cfg.Family.String())}, nil
}

// Sync replaces the enforced policies with policies, atomically. Invalid
// input is rejected before anything changes.
func (e *Enforcer) Sync(policies []Policy) error {
	t, err := Ruleset(e.cfg, policies)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.bridgeNetfilter(); err != nil {
		return err
	}
	if e.conn == nil {
		if e.conn, err = nft.Dial(e.cfg.NetNSFd); err != nil {
			return err
		}
	}
	tx := e.conn.Begin(t.Name, t.Family)
	tx.Recreate()
	tx.Full(t)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("netpol: %w", err)
	}
	return nil
}

// bridgeNetfilter makes bridged traffic between pods on one bridge pass
// the IP forward hook, where the policies are.
func (e *Enforcer) bridgeNetfilter() error {
	key := "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if e.cfg.Family == nft.IPv6 {
		key = "/proc/sys/net/bridge/bridge-nf-call-ip6tables"
	}
	set := func() error {
		b, err := os.ReadFile(key)
		if err == nil && len(b) > 0 && b[0] == '1' {
			return nil
		}
		return os.WriteFile(key, []byte("1"), 0o644)
	}
	var err error
	if e.cfg.NetNSFd > 0 {
		var ns *netns.NS
		if ns, err = netns.Open(fmt.Sprintf("/proc/self/fd/%d", e.cfg.NetNSFd)); err == nil {
			err = ns.Do(set)
			ns.Close()
		}
	} else {
		err = set()
	}
	if err != nil {
		return fmt.Errorf("netpol: enable bridge netfilter (%s): %w", key, err)
	}
	return nil
}

// Cleanup removes our table.
func (e *Enforcer) Cleanup() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := nft.Dial(e.cfg.NetNSFd)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.DeleteTable(e.cfg.Table, e.cfg.Family)
}

// Close releases the netlink connection.
func (e *Enforcer) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil
	}
	err := e.conn.Close()
	e.conn = nil
	return err
}

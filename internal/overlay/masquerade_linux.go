package overlay

import (
	"fmt"

	"kserver.dev/kserver/internal/nft"
)

// syncMasquerade re-creates our small table atomically.
func (o *Overlay) syncMasquerade() error {
	c, err := nft.Dial(o.cfg.NetNSFd)
	if err != nil {
		return err
	}
	defer c.Close()
	t := masqueradeTable(o.cfg)
	tx := c.Begin(t.Name, t.Family)
	tx.Recreate()
	tx.Full(t)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("overlay: masquerade table: %w", err)
	}
	return nil
}

// Package nft declares nftables tables as plain Go values and programs
// them into the kernel over netlink (github.com/google/nftables).
//
// A Table is the desired state of one table of our own: its chains (base
// chains with hook and priority, regular chains with rules), its named sets
// and verdict maps and their elements. Rules are written with a small
// builder (Family.Rule) that produces, in one pass, both the netlink
// expressions and the text `nft list` would print, so a golden test of the
// text is a test of what is programmed.
//
// Tx batches changes to one table into a single netlink transaction, which
// the kernel applies atomically or not at all. Callers (proxy, netpol,
// overlay) compute their desired state, diff it against what they applied
// last, and send only the difference; a full sync deletes and re-creates the
// table in one transaction, so no packet ever sees a half-built table.
//
// IPv4 and IPv6 go through the same code, parameterised by Family.
package nft

package overlay

import "kserver.dev/kserver/internal/nft"

// masqueradeTable is our table for pod egress: traffic from the pod
// network to outside it is masqueraded, except what the Service proxy
// already marked (it masquerades that itself), traffic inside the pod
// network and multicast. The forward chain accepts pod traffic so that a
// host firewall with a drop policy in another table does not cut the
// overlay (each table's verdicts are independent; accept here does not
// override a drop elsewhere, it documents the intent and counts).
func masqueradeTable(cfg Config) *nft.Table {
	f := nft.IPv4
	t := nft.NewTable(cfg.Table, f)
	mark := uint32(1) << cfg.MasqueradeBit
	cluster := cfg.ClusterCIDR.Masked()
	rules := []nft.Rule{f.Rule().MarkSet(mark, false).Verdict(nft.Return)}
	if !cfg.NoMasquerade {
		rules = append(rules,
			f.Rule().SAddr(cluster, false).DAddr(cluster, false).Verdict(nft.Return),
			f.Rule().SAddr(cluster, false).DAddr(f.Multicast(), false).Verdict(nft.Return),
			f.Rule().SAddr(cluster, false).Masquerade())
	}
	t.AddChain(&nft.Chain{Name: "nat-postrouting", Base: &nft.Base{Type: "nat", Hook: nft.Postrouting, Priority: nft.PrioritySrcNAT}, Rules: rules})
	t.AddChain(&nft.Chain{Name: "filter-forward", Base: &nft.Base{Type: "filter", Hook: nft.Forward, Priority: nft.PriorityFilter}, Rules: []nft.Rule{
		f.Rule().SAddr(cluster, false).Verdict(nft.Accept),
		f.Rule().DAddr(cluster, false).Verdict(nft.Accept),
	}})
	return t
}

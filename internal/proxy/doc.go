// Package proxy routes Service traffic with nftables, in one table of our
// own per address family ("kserver-proxy"), shaped like kube-proxy's
// nftables mode.
//
// The agent hands it the desired Service ports with their endpoints
// (Service); the proxy never talks to the API. Ruleset computes the whole
// table, which is what the golden tests in testdata/ print:
//
//   - nat-prerouting and nat-output jump to "services", which dispatches in
//     O(1) through the verdict map service-ips (daddr . l4proto . dport:
//     ClusterIPs, externalIPs, LoadBalancer IPs) and, for addresses of this
//     host, service-nodeports (l4proto . dport).
//   - Each Service port has a chain "service-<ns>/<name>/<proto>/<port>"
//     that picks an endpoint chain with `numgen random mod N vmap`, first
//     honouring session affinity (one dynamic timeout set per endpoint);
//     "local-…" does the same over the node's own endpoints, and
//     "external-…" decides masquerade and policy for external traffic.
//   - Endpoint chains mark hairpin traffic for masquerade and DNAT.
//   - Services without usable endpoints sit in no-endpoint-services /
//     no-endpoint-nodeports, checked from filter chains before DNAT: TCP is
//     reset, other protocols get ICMP port-unreachable (drop when only
//     other nodes have endpoints for a Local policy, as upstream).
//   - Masquerading is requested with mark bit 14 (0x4000) and done in
//     nat-postrouting, the bit kube-proxy and flannel agree on.
//
// Proxier.Sync keeps, per Service port, the fragment it programmed and
// sends only the difference to the new one in one netlink transaction
// (google/nftables, no `nft` binary). The first sync, a failed transaction
// and drift found by Resync rebuild the table in one atomic transaction.
// Cleanup deletes our table and nothing else. See docs/proxy.md.
package proxy

// Package netpol enforces NetworkPolicies for the pods of this node with
// nftables, in a table of our own per family ("kserver-netpol").
//
// The agent resolves the API objects into Policy values: the local pods a
// policy selects, and per rule the peers as addresses (pods matched by pod
// and namespace selectors) and ipBlocks with their exceptions, and the
// ports (named ports already resolved). The package never talks to the API.
//
// Semantics follow upstream: a pod selected by any policy of a direction
// is isolated in that direction and only traffic some rule of some such
// policy allows gets through; replies of allowed connections pass
// (conntrack established/related, accepted first); policies add up.
// Filtering happens in the forward hook, after the Service proxy's DNAT, so
// Service traffic is judged by its real endpoint. Traffic between a pod and
// its own node (probes, the node-local DNS server) is not forwarded and so
// never filtered; DNS keeps working whatever the egress policies say.
// Pods on one bridge reach each other bridged: the bridge's netfilter hook
// (bridge-nf-call-iptables, switched on by Sync) brings that traffic
// through the forward hook too.
//
// Layout: the forward chain jumps, through verdict maps keyed by pod
// address, to a per-pod chain per direction, which jumps to each selecting
// policy's chain; a rule that matches sets an "allowed" mark bit and
// returns; the forward chain drops isolated traffic without the bit. Peer
// addresses of a rule live in an interval set (ipBlock minus except,
// merged with the pod addresses). Every Sync rebuilds the table in one
// atomic transaction; established connections are unaffected.
package netpol

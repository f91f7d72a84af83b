// Package nodeipam is the node IPAM controller (upstream's range
// allocator): it gives each node a pod subnet — a /24 of --cluster-cidr by
// default (a /64 for an IPv6 cluster CIDR) — in spec.podCIDR and
// spec.podCIDRs, and takes it back when the node is deleted. Nothing is
// stored besides the nodes themselves: when it starts, it reads every
// node's subnet back before giving out new ones, so allocations survive
// restarts. When the range is exhausted the node gets the Event
// CIDRNotAvailable and waits for a subnet to be freed. Subnets are kept per
// Node object (UID), so a node deleted and re-created under the same name
// before the deletion was processed does not leak the old one's subnet.
package nodeipam

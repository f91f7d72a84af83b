// Package nodenet drives a node's cluster network from API objects: the
// overlay (internal/overlay) from the Node list, the Service proxy
// (internal/proxy) from Services and EndpointSlices, and NetworkPolicy
// enforcement (internal/netpol) from NetworkPolicies, Pods and Namespaces,
// all inside the node's network namespace. It runs on every node: in the
// embedded agent of `kserver server` and in `kserver agent`. The kernel
// packages receive desired state; this package turns objects into it.
// See docs/network.md.
package nodenet

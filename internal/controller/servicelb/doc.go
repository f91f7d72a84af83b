// Package servicelb is kserver's built-in load balancer for Services of
// type LoadBalancer, k3s's ServiceLB without its DaemonSets: a
// LoadBalancer Service gets the addresses of the eligible nodes in
// status.loadBalancer.ingress, and every node's proxy already accepts
// traffic to a LoadBalancer address (internal/proxy puts the ingress IPs
// in its service-ips map), so a client reaching any listed node on the
// Service's port reaches the Service.
//
// Which nodes, as k3s decides it:
//   - Ready nodes that are not being deleted and do not carry upstream's
//     node.kubernetes.io/exclude-from-external-load-balancers label;
//   - when any node carries svccontroller.k3s.cattle.io/enablelb, only the
//     nodes where it is "true"; a Service labelled
//     svccontroller.k3s.cattle.io/lbpool=<pool> then uses only the nodes
//     with the same lbpool label;
//   - with externalTrafficPolicy: Local, only the nodes that run a ready
//     endpoint of the Service.
//
// Each chosen node contributes its ExternalIP addresses (kserver server /
// agent --node-external-ip) when any chosen node has one, else its
// InternalIP addresses, of the Service's IP families, sorted. The choice
// is made per family (k3s makes it across families, which leaves an IPv4
// Service without any address when the only external IPs are IPv6). The list follows nodes joining, leaving, turning
// NotReady and being relabelled, and is cleared when the Service stops
// being a LoadBalancer. Services with a spec.loadBalancerClass other than
// Class are left to their own implementation. No finalizer is added:
// there is nothing outside the API to release.
package servicelb

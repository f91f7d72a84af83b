// Package dns is kserver's cluster DNS server, in-process on every node in
// place of the CoreDNS pods k3s runs. It answers names under the cluster
// domain (cluster.local) the way CoreDNS's kubernetes plugin does — the
// records of the Kubernetes DNS specification, and the same choice between
// NXDOMAIN and NODATA for every other name and type — and forwards the
// rest to the node's upstream resolvers.
//
// Answers come from an index (index.go) of compact copies of what DNS
// needs of Services, EndpointSlices and Namespaces, kept current by
// handlers on the shared informers (events.go); a query takes a read lock,
// never an API call. records.go takes a name apart and finds what it stands
// for; answer.go turns that into records per query type; handler.go serves
// a query: cluster zone, reverse lookups for Service and endpoint
// addresses, or forwarding (forward.go) through a small cache of forwarded
// answers (cache.go). Replies honour EDNS0 and are truncated (TC) to what
// UDP carries, so clients retry over TCP.
//
// Pods reach the server at the kube-dns Service address: service.go builds
// that Service (kube-system/kube-dns, labelled as k3s's); how the address
// leads to the server on each node is the network wiring's choice. The
// pod side — each pod's /etc/resolv.conf for its dnsPolicy — is package
// dns/resolvconf. See docs/dns.md.
package dns

// Package leader elects one leader among several kserver servers with a
// coordination.k8s.io/v1 Lease, as upstream controllers do, so that
// controllers and the scheduler never run twice in one cluster.
//
// The timings favour small, mostly idle clusters: a lease of 60 s renewed
// every 15 s costs one datastore write per 15 s (upstream renews every 2 s),
// and a second server takes over at most a minute after the leader dies.
package leader

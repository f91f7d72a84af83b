// Package endpointslice is the EndpointSlice controller: for every Service
// with a selector it keeps discovery.k8s.io/v1 EndpointSlices — labelled
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by:
// endpointslice-controller.k8s.io, owned by the Service — holding one
// endpoint per selected pod with the conditions ready, serving and
// terminating, the pod's node name, its node's zone and, for pods naming the
// Service as their subdomain, their hostname. Slices hold at most 100
// endpoints and one port set each, per address type; a Service without
// endpoints keeps one empty placeholder slice, as upstream.
//
// The reconcile keeps churn low the way upstream does: endpoints that did
// not change stay in the slice they are in, changed ones are replaced in
// place, new ones fill slices that are being written anyway, then slices
// with room, then new slices; a slice left empty is deleted. After writing,
// the controller waits for its own writes to reach the informer cache
// before reconciling the same Service again, so a lagging cache never
// makes it create duplicates. Deleted Services' slices go with the garbage
// collector (owner references), as upstream.
package endpointslice

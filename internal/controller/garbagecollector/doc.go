// Package garbagecollector is the garbage collector: it deletes objects
// whose owners (metadata.ownerReferences) are gone, and carries out the
// two deletion finalizers the API server adds for `kubectl delete
// --cascade=foreground|orphan`, as upstream's garbage-collector-controller:
//
//   - background (the default): the owner goes at once; when the collector
//     sees it gone, every dependent whose owners are all gone is deleted
//     (dependents that still have another owner only lose the dangling
//     reference);
//   - foreground (finalizer foregroundDeletion): the owner stays, marked,
//     while its dependents are deleted (themselves in the foreground when
//     they have dependents of their own); the finalizer is removed when no
//     dependent with blockOwnerDeletion is left, and the owner goes;
//   - orphan (finalizer orphan): the owner's reference is removed from each
//     dependent, then the finalizer, and the owner goes; dependents stay.
//
// # Keeping it cheap
//
// The collector must see every object of every resource that can have an
// owner — about forty resource types. Watching all of them in full would
// hold a second copy of the cluster in memory. Instead:
//
//   - resources some controller already watches through the shared
//     informer factory (pods, ReplicaSets, Deployments, …) are read from
//     those same informers: no second watch;
//   - every other resource is followed by a bare reflector of the
//     collector's own that lists and watches it as PartialObjectMetadata
//     (the API server's as=PartialObjectMetadata conversion) and feeds the
//     graph directly: no informer cache, no handler queue, nothing kept of
//     the objects (monitor.go). A relist tells the graph which of its
//     nodes of that resource went while the watch was down;
//   - the dependency graph holds a node only for objects that take part:
//     those with owner references, those named as owners, and those being
//     deleted with a deletion finalizer. A cluster of ownerless ConfigMaps
//     and Secrets costs the graph nothing.
//
// Events (core and events.k8s.io) are never owners or dependents and are
// not watched, as upstream. kserver serves a fixed set of resources (no
// CustomResourceDefinitions), so discovery runs once when the collector
// starts; nothing polls.
//
// Deletions are decided on the latest object read from the API (a
// metadata GET), never on the cache alone, and are made with a UID
// precondition; owner references and finalizers are changed with merge
// patches carrying the resourceVersion they were computed from.
package garbagecollector

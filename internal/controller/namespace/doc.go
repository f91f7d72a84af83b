// Package namespace is the namespace controller: when a namespace is
// deleted (the API server marks it Terminating and keeps it while its
// spec.finalizers holds "kubernetes") it deletes every namespaced object in
// it — every served resource with list and delete, by collection where
// the resource allows, background propagation — then, once nothing is
// left, removes the "kubernetes" finalizer through namespaces/<ns>/finalize,
// upon which the namespace goes. While it works it reports upstream's
// conditions on the namespace (NamespaceDeletionDiscoveryFailure,
// NamespaceDeletionGroupVersionParsingFailure,
// NamespaceDeletionContentFailure, NamespaceContentRemaining,
// NamespaceFinalizersRemaining) with the same reasons and messages, which
// `kubectl describe namespace` shows.
//
// Content that takes time to go (pods in their grace period, objects with
// finalizers) makes it look again after upstream's estimate; a pod deleted
// from a terminating namespace makes it look again at once, so a namespace
// goes as soon as its last pod has.
package namespace

// Package podgc is the pod garbage collector, as upstream's podgc
// controller: it force-deletes
//
//   - finished (Succeeded/Failed) pods beyond --terminated-pod-gc-threshold
//     (12500), oldest first;
//   - pods bound to a node that no longer exists, once the node has been
//     missing for 40 s and a read of the API confirms it, after marking
//     them Failed with the DisruptionTarget condition DeletionByPodGC
//     "PodGC: node no longer exists";
//   - terminating pods on a node that is not ready and carries the
//     node.kubernetes.io/out-of-service taint (marked Failed first);
//   - terminating pods that were never scheduled.
//
// Upstream scans every 20 s; here the informer events that can create
// work (a pod finishing, a pod bound to an unknown node, a node going or
// getting the out-of-service taint) queue one pass, so an idle cluster
// costs nothing.
package podgc

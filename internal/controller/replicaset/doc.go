// Package replicaset is the ReplicaSet controller: it keeps
// spec.replicas active pods matching each ReplicaSet's selector — creating
// them from the template in slow-start batches, deleting the least
// valuable first — adopts and releases pods by selector, and reports
// replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
// (minReadySeconds), terminatingReplicas, observedGeneration and the
// ReplicaFailure condition as upstream.
//
// The same controller runs ReplicationControllers through an Adapter (see
// package replicationcontroller), as upstream converts one to the other.
package replicaset

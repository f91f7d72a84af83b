// Package podcontrol is what the workload controllers (ReplicaSet,
// ReplicationController, Deployment, StatefulSet, DaemonSet, Job) share
// about the objects they own, as upstream's controller_utils and
// ControllerRefManager do:
//
//   - Control creates pods from a template with the controller's
//     ownerReference and deletes them, recording upstream's Events
//     (SuccessfulCreate "Created pod: x", FailedCreate, SuccessfulDelete,
//     FailedDelete) on the owner;
//   - Expectations remember creations and deletions a controller has asked
//     for until its informer has seen them, so a sync never acts twice on a
//     stale cache;
//   - Claim adopts orphans that match a controller's selector and releases
//     owned objects that no longer match (the ControllerRefManager rules);
//   - the pod predicates and orderings the controllers agree on: active,
//     ready, available after minReadySeconds, and which pods to delete first.
package podcontrol

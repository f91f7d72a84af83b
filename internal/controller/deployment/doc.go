// Package deployment is the Deployment controller. It behaves as
// upstream's: a Deployment owns one ReplicaSet per pod template, named
// "<deployment>-<pod-template-hash>" where the hash is computed from the
// template exactly as upstream does (so the same template gets the same
// name as on any Kubernetes cluster), with the pod-template-hash label added
// to the ReplicaSet's selector, template and pods.
//
// A rollout scales the new ReplicaSet up and the old ones down within
// maxSurge/maxUnavailable (RollingUpdate), or all old ones to zero first
// (Recreate); a change of spec.replicas alone scales proportionally. The
// revision annotations (deployment.kubernetes.io/revision,
// revision-history, desired-replicas, max-replicas) and the copied
// kubernetes.io/change-cause are what `kubectl rollout history` and
// `kubectl rollout undo` read — undo is done by kubectl copying an old
// ReplicaSet's template back, which this controller sees as that
// ReplicaSet becoming the new one again with the next revision number.
// Status carries replicas, updatedReplicas, readyReplicas,
// availableReplicas, unavailableReplicas, terminatingReplicas and the
// Available, Progressing (with progressDeadlineSeconds, pause/resume
// reasons) and ReplicaFailure conditions; old ReplicaSets beyond
// revisionHistoryLimit are deleted.
package deployment

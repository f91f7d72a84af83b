// Package statefulset is the StatefulSet controller, behaving as
// upstream's:
//
//   - pods have stable names "<set>-<ordinal>" (from spec.ordinals.start),
//     hostname and subdomain (spec.serviceName) and the labels
//     statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index;
//     each volumeClaimTemplate gives every pod its own claim
//     "<template>-<set>-<ordinal>", created before the pod and kept
//     (or owned by the set or the pod, for the persistentVolumeClaimRetentionPolicy
//     Delete settings) when pods go;
//   - OrderedReady creates pods one at a time in ordinal order, each
//     waiting for the one before to be Running and Ready, and removes them
//     from the highest ordinal down; Parallel does both all at once;
//   - every pod template is recorded as a ControllerRevision (see package
//     history) and pods carry controller-revision-hash; status reports
//     currentRevision/updateRevision with currentReplicas/updatedReplicas;
//   - RollingUpdate replaces pods from the highest ordinal down to the
//     partition, maxUnavailable at a time, each after the previous is
//     healthy again; OnDelete only uses the new template for pods the user
//     deletes;
//   - replicas, readyReplicas, availableReplicas (minReadySeconds),
//     observedGeneration and collisionCount are reported, and revisions
//     beyond revisionHistoryLimit that no pod uses are deleted.
//
// Events are upstream's: "create Pod web-0 in StatefulSet web successful",
// "create Claim data-web-0 Pod web-0 in StatefulSet web success",
// "delete Pod web-2 in StatefulSet web successful".
package statefulset

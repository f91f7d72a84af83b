// Package disruption is the PodDisruptionBudget controller: it keeps each
// budget's status — expectedPods, currentHealthy (ready pods not being
// deleted and not recently evicted), desiredHealthy (minAvailable, or
// expectedPods minus maxUnavailable; percentages are taken of the summed
// replicas of the pods' controllers: Deployments, ReplicaSets,
// ReplicationControllers, StatefulSets), disruptionsAllowed, observedGeneration
// and the DisruptionAllowed condition (SufficientPods / InsufficientPods /
// SyncFailed) — with upstream's Events (NoPods, UnmanagedPods,
// CalculateExpectedPodCountFailed).
//
// The API server's eviction subresource reads that status: it refuses an
// eviction with 429 when disruptionsAllowed is 0 (or the status is older
// than the budget's generation), else takes one disruption and records the
// pod in status.disruptedPods. This controller counts such a pod as
// unhealthy until it is deleted, for at most two minutes (upstream's
// DeletionTimeout), after which the entry is dropped.
package disruption

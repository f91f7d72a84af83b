// Package quota says how much of a ResourceQuota an object uses, as
// upstream's quota evaluators do: object counts (pods, services,
// configmaps, secrets, replicationcontrollers, resourcequotas,
// persistentvolumeclaims, services.loadbalancers, services.nodeports and
// count/<resource>.<group> for anything), pods' compute resources
// (requests.*, limits.*, cpu, memory, ephemeral-storage, hugepages,
// extended resources) counted while the pod has not finished, claims'
// storage by storage class, and the pod scopes (Terminating,
// NotTerminating, BestEffort, NotBestEffort, PriorityClass,
// CrossNamespacePodAffinity).
//
// Two places need this and must agree: the API server's admission, which
// refuses a create that would exceed a quota, and the resourcequota
// controller, which recomputes status.used. It is pure (API types in,
// resource lists out), so it sits below both.
package quota

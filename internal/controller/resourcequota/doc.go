// Package resourcequota is the ResourceQuota controller: it keeps each
// quota's status.hard equal to spec.hard and status.used equal to what the
// objects in its namespace use — counted as internal/quota counts them,
// the same rules the API server's quota admission applies to a create.
//
// Admission charges a quota as objects are created; this controller
// brings status.used back to the truth when objects go, pods finish, or a
// quota's limits change. It watches pods, services and claims through the
// shared typed informers and, for other counted resources
// (count/deployments.apps, configmaps, secrets, …), the shared
// metadata-only informers, created the first time a quota names them. A
// namespace without quotas costs nothing: events there are dropped after
// one cache lookup. Nothing resyncs periodically.
package resourcequota

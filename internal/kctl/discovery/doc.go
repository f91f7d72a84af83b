// Package discovery is kctl's discovery client and REST mapper: which API
// groups, versions and resources a server serves, cached on disk exactly
// where and how kubectl caches them (~/.kube/cache/discovery/<host>/
// servergroups.json and <group>/<version>/serverresources.json, six hours),
// so both tools share one cache.
//
// It speaks aggregated discovery (apidiscovery.k8s.io/v2: one request for
// /api and one for /apis) and falls back to the legacy per-group-version
// documents when a server answers with the plain shapes, as client-go does.
//
// kctl does not use client-go's discovery, disk-cache and restmapper
// packages because they import client-go's kubernetes/scheme, which
// registers every API group and version ever published (alphas and betas
// included): about 8 MB of a 40 MB binary, and registration work at every
// start. Everything here decodes plain JSON into the metav1 discovery types.
package discovery

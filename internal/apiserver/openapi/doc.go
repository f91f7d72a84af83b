// Package openapi generates the OpenAPI documents kserver serves — the
// Swagger 2.0 document at /openapi/v2 (JSON and protobuf) and one OpenAPI 3.0
// document per discovery path under /openapi/v3 — and the merge schema
// server-side apply uses (TypeConverter).
//
// Schemas are built from the k8s.io/api Go types by reflection: JSON field
// names and omitempty, formats, SwaggerDoc() descriptions, patchStrategy
// and patchMergeKey tags, GVKs from the scheme. What reflection cannot see —
// the +required/+optional, +listType, +listMapKey, +mapType, +structType and
// +default comment markers — comes from markers_table.go, generated from the
// k8s.io/api sources and checked against them by a test; another test checks
// the resulting merge schemas against the ones client-go ships. Paths come
// from the resource catalog (internal/apiserver/registry).
//
// Nothing is built up front: each kind's merge schema on its first write,
// the v2 document on the first /openapi/v2 request, all v3 documents on the
// first /openapi/v3 request. Only gzip-compressed documents are kept. See
// docs/openapi.md.
package openapi

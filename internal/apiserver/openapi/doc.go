// Package openapi generates the OpenAPI documents kserver serves — the
// Swagger 2.0 document at /openapi/v2 (JSON and protobuf) and one OpenAPI 3.0
// document per group/version under /openapi/v3 — and the structured-merge
// schema server-side apply merges by.
//
// The documents are built from the k8s.io/api Go types by reflection: JSON
// field names and omitempty, formats, SwaggerDoc() descriptions and the
// patchStrategy/patchMergeKey struct tags; list types, list-map keys, map
// types and defaults are read from the structured-merge-diff schema that
// client-go ships for the same types. Paths come from the resource catalog
// (internal/apiserver/registry). Documents are built on first request and
// only their gzip-compressed bytes are kept. See docs/openapi.md.
package openapi

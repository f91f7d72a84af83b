// Package registry is the API server's knowledge of every served resource:
// names, scope, verbs and subresources for discovery, and per-type defaulting,
// validation, status handling, server-side printing (Tables) and field
// selectors, matching upstream Kubernetes. It is pure and never touches the
// store; see registry.go for the contract with internal/apiserver.
package registry

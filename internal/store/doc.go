// Package store is kserver's datastore: a revisioned key-value store that
// knows nothing of Kubernetes. See Backend for the contract and
// docs/store.md for the design of the SQLite implementation.
package store

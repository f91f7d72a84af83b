// Package multinode holds the multi-node end-to-end tests: one `kserver
// server` and two `kserver agent`s, each in a network namespace of its own
// on an underlay bridge (e2e.StartMultiNode), real containers, stock
// kubectl. One cluster is shared by every subtest of TestMultiNode. Root
// only; see docs/e2e.md.
package multinode

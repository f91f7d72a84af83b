// Package e2e is the end-to-end test harness: it runs `kserver server`
// in-process on a free loopback port with its own data directory (Start,
// Restart) and finds a stock kubectl to drive it (FindKubectl): the newest
// kubectl.1.NN ≥ 1.28 installed beside the kubectl on PATH, or one built
// from k8s.io/kubectl at a pinned version from the separate module in
// internal/e2e/kubectl, so that kubectl's dependencies never enter
// kserver's go.mod. The tests in this package are the API server's
// end-to-end tests with stock kubectl and client-go.
package e2e

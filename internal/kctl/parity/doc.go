// Package parity holds the kctl/kubectl parity suite (parity_test.go): a
// corpus of command lines, each run with stock kubectl and with kctl
// against the same kserver, output and exit code compared after
// normalising ages, generated names, addresses and timestamps. It is a test
// only; it starts a server through internal/e2e and skips when none can be
// started or KCTL_PARITY=0.
package parity

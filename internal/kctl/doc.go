// Package kctl implements kctl, kserver's kubectl-compatible command line.
//
// The rule every command follows: the same command line gives the same
// output and the same exit code as stock kubectl (the newest release, 1.37)
// against the same cluster. kctl is built on cobra, client-go (clientcmd,
// discovery, the dynamic client, remotecommand, portforward) and
// k8s.io/cli-runtime (the resource builder and its printers); it does not
// import kubectl's own command code.
//
// Layout: one file per verb (get.go, describe.go, apply.go, ...); the
// Factory in factory.go builds clients lazily from the global flags;
// errors.go prints errors the way kubectl does and chooses the exit code.
// The describers live in the describe sub-package and the table and column
// printers in the printers sub-package. Beyond kubectl, kctl teaches: `why`,
// `tree`, old-apiVersion conversion and "did you mean" (learn*.go).
package kctl

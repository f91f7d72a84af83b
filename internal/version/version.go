// Package version reports what this build is. The linker stamps Version,
// GitCommit and BuildDate (see the Makefile); Kubernetes is the upstream API
// version kserver implements, which is the version of the k8s.io modules it
// is built against.
package version

import (
	"fmt"
	"runtime"
)

// Stamped by the linker with -X; these are the only package-level variables
// in the project and nothing writes them at run time.
var (
	Version   = "v0.0.0-dev"
	GitCommit = "unknown"
	BuildDate = "1970-01-01T00:00:00Z"
)

// Kubernetes is the Kubernetes release whose API kserver serves.
const Kubernetes = "v1.37.2"

// String is the one-line form printed by --version.
func String(program string) string {
	return fmt.Sprintf("%s version %s (kubernetes %s, commit %s, %s, %s/%s)",
		program, Version, Kubernetes, GitCommit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

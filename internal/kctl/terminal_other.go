//go:build !unix

package kctl

import "os"

// resizeSignals: no resize notifications on this platform; the initial
// size is all that is sent.
func resizeSignals() (<-chan os.Signal, func()) { return nil, func() {} }

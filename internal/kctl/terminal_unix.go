//go:build unix

package kctl

import (
	"os"
	"os/signal"
	"syscall"
)

// resizeSignals delivers SIGWINCH, the signal a terminal sends its
// foreground process when the window changes size.
func resizeSignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	return ch, func() { signal.Stop(ch) }
}

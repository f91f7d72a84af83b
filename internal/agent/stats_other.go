//go:build !linux

package agent

import "errors"

// hostUsage is not read off Linux.
func hostUsage() (hostStats, error) {
	return hostStats{}, errors.New("host usage is read on Linux only")
}

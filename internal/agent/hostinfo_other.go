//go:build !linux

package agent

// diskSpace is unknown off Linux.
func diskSpace(string) (total, avail int64) { return 0, 0 }

//go:build !linux

package memtrim

import "errors"

var errUnsupported = errors.New("memory trimming needs Linux")

type status struct {
	rss, file int64
}

func readStatus() (status, error) { return status{}, errUnsupported }

// AdviseRandom does nothing off Linux.
func AdviseRandom() error { return errUnsupported }

func pageOut() (int, int64, error) { return 0, 0, errUnsupported }

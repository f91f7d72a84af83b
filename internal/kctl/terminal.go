package kctl

import (
	"os"
	"sync"

	"k8s.io/client-go/tools/remotecommand"
)

// sizeQueue feeds remotecommand the terminal's size: the size when the
// session starts, then the new size after each resize, so that a full
// screen program in the container redraws for the new window. Next
// returns nil once the queue is stopped, which ends remotecommand's
// monitoring.
type sizeQueue struct {
	sizes    chan remotecommand.TerminalSize
	done     chan struct{}
	stopOnce sync.Once
	release  func()
}

// watchTerminalSize starts a queue that reads size() now and whenever a
// value arrives on resized; release is called when the queue stops. A size
// that cannot be read is skipped; only the newest pending size is kept.
func watchTerminalSize(size func() (remotecommand.TerminalSize, bool), resized <-chan os.Signal, release func()) *sizeQueue {
	q := &sizeQueue{sizes: make(chan remotecommand.TerminalSize, 1), done: make(chan struct{}), release: release}
	q.offer(size)
	go func() {
		for {
			select {
			case <-q.done:
				return
			case <-resized:
				q.offer(size)
			}
		}
	}()
	return q
}

func (q *sizeQueue) offer(size func() (remotecommand.TerminalSize, bool)) {
	s, ok := size()
	if !ok {
		return
	}
	for {
		select {
		case q.sizes <- s:
			return
		default:
		}
		// Drop the older pending size for the newer one.
		select {
		case <-q.sizes:
		default:
		}
	}
}

// Next blocks until the next size, or returns nil once stopped.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case s := <-q.sizes:
		return &s
	case <-q.done:
		return nil
	}
}

func (q *sizeQueue) stop() {
	q.stopOnce.Do(func() {
		q.release()
		close(q.done)
	})
}

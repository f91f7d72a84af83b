package kctl

import (
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

func TestSizeQueueReportsResizes(t *testing.T) {
	var width atomic.Int32
	width.Store(80)
	size := func() (remotecommand.TerminalSize, bool) {
		return remotecommand.TerminalSize{Width: uint16(width.Load()), Height: 24}, true
	}
	resized := make(chan os.Signal, 1)
	released := false
	q := watchTerminalSize(size, resized, func() { released = true })
	if s := q.Next(); s == nil || s.Width != 80 {
		t.Fatalf("first size %+v, want 80 columns", s)
	}
	width.Store(132)
	resized <- syscall.SIGWINCH
	got := make(chan *remotecommand.TerminalSize, 1)
	go func() { got <- q.Next() }()
	select {
	case s := <-got:
		if s == nil || s.Width != 132 || s.Height != 24 {
			t.Errorf("size after resize %+v, want 132x24", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no size after a resize")
	}
	q.stop()
	q.stop()
	if s := q.Next(); s != nil || !released {
		t.Errorf("after stop: Next %+v, released %v", s, released)
	}
}

func TestSizeQueueKeepsOnlyTheNewestSize(t *testing.T) {
	n := int32(0)
	size := func() (remotecommand.TerminalSize, bool) {
		n++
		return remotecommand.TerminalSize{Width: uint16(n), Height: 1}, true
	}
	q := watchTerminalSize(size, nil, func() {})
	defer q.stop()
	q.offer(size)
	q.offer(size)
	if s := q.Next(); s == nil || s.Width != 3 {
		t.Errorf("pending size %+v, want the newest (3)", s)
	}
}

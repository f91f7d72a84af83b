package crilog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"kserver.dev/kserver/internal/runtime"
)

// pollInterval is how often a follower looks at the file when no inotify
// event arrives (a fallback; inotify normally wakes it at once).
const pollInterval = time.Second

// ReadFile writes the log file at path to w according to opts. With Follow
// it keeps reading while running reports true, follows the file across a
// rotation (rename and reopen), and returns after the last line once
// running reports false. A missing file is an empty log unless following,
// in which case it is waited for.
func ReadFile(ctx context.Context, path string, opts runtime.LogOptions, w io.Writer, running func() bool) error {
	r := &reader{path: path, opts: opts, out: NewOutput(w, opts), running: running}
	err := r.run(ctx)
	if r.f != nil {
		_ = r.f.Close()
	}
	if r.watch != nil {
		_ = r.watch.Close()
	}
	if errors.Is(err, ErrLimitReached) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

type reader struct {
	path    string
	opts    runtime.LogOptions
	out     *Output
	running func() bool
	f       *os.File
	br      *bufio.Reader
	pending []byte // a line read without its newline yet
	watch   *fsnotify.Watcher
}

func (r *reader) run(ctx context.Context) error {
	if err := r.open(ctx); err != nil || r.f == nil {
		return err
	}
	if r.opts.TailLines != nil {
		if err := r.seekTail(*r.opts.TailLines); err != nil {
			return err
		}
	}
	for {
		if err := r.drain(); err != nil {
			return err
		}
		if !r.opts.Follow {
			return nil
		}
		rotated, err := r.rotated()
		if err != nil {
			return err
		}
		switch {
		case rotated:
			if err := r.reopen(); err != nil {
				return err
			}
			continue
		case !r.running():
			// The writer is done; whatever it wrote before exiting is in
			// the file now.
			return r.drain()
		}
		if err := r.wait(ctx); err != nil {
			return err
		}
	}
}

// open opens the file, waiting for it when following.
func (r *reader) open(ctx context.Context) error {
	for {
		f, err := os.Open(r.path)
		if err == nil {
			r.f, r.br = f, bufio.NewReaderSize(f, 64<<10)
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open log: %w", err)
		}
		if !r.opts.Follow || !r.running() {
			return nil
		}
		if err := r.wait(ctx); err != nil {
			return err
		}
	}
}

// drain writes every complete line up to the end of the file.
func (r *reader) drain() error {
	for {
		chunk, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.pending = append(r.pending, chunk...)
			continue
		}
		if err != nil {
			r.pending = append(r.pending, chunk...)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read log: %w", err)
		}
		line := chunk
		if len(r.pending) > 0 {
			line = append(r.pending, chunk...)
			r.pending = r.pending[:0]
		}
		e, perr := Parse(line)
		if perr != nil {
			continue // a torn or foreign line: skip it, as the kubelet does
		}
		if err := r.out.Write(e); err != nil {
			return err
		}
	}
}

// seekTail positions the reader at the start of the last n lines.
func (r *reader) seekTail(n int64) error {
	if n < 0 {
		return nil
	}
	// starts[i%len] is the offset where a logical line begins; a logical
	// line ends with an F entry.
	starts := make([]int64, n+1)
	count := int64(0)
	var off, lineStart int64
	br := bufio.NewReaderSize(r.f, 64<<10)
	for {
		b, err := br.ReadSlice('\n')
		off += int64(len(b))
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			break
		}
		// "<ts> <stream> F ..." — find the tag after the second space.
		if full, ok := fullLine(b); ok && full {
			starts[count%(n+1)] = lineStart
			count++
			lineStart = off
		}
	}
	pos := int64(0)
	if count > n {
		pos = starts[(count-n)%(n+1)]
		if n == 0 {
			pos = lineStart
		}
	}
	if _, err := r.f.Seek(pos, io.SeekStart); err != nil {
		return fmt.Errorf("seek log: %w", err)
	}
	r.br.Reset(r.f)
	return nil
}

// fullLine reports whether a raw log line carries the F tag.
func fullLine(b []byte) (full, ok bool) {
	spaces := 0
	for i, c := range b {
		if c == ' ' {
			spaces++
			if spaces == 2 && i+1 < len(b) {
				return b[i+1] == 'F', true
			}
		}
	}
	return false, false
}

// rotated reports whether path now names another file than the one open.
func (r *reader) rotated() (bool, error) {
	st, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // renamed away, the new one not created yet
	}
	if err != nil {
		return false, fmt.Errorf("stat log: %w", err)
	}
	cur, err := r.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat log: %w", err)
	}
	return !os.SameFile(st, cur) && inode(st) != 0, nil
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// reopen finishes the old file and continues with the new one.
func (r *reader) reopen() error {
	if err := r.drain(); err != nil {
		return err
	}
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("reopen log: %w", err)
	}
	_ = r.f.Close()
	r.f = f
	r.br.Reset(f)
	r.pending = r.pending[:0]
	return nil
}

// wait blocks until the log directory changes, the poll interval passes or
// ctx ends.
func (r *reader) wait(ctx context.Context) error {
	if r.watch == nil {
		if w, err := fsnotify.NewWatcher(); err == nil {
			if err := w.Add(filepath.Dir(r.path)); err == nil {
				r.watch = w
			} else {
				_ = w.Close()
			}
		}
	}
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	var events <-chan fsnotify.Event
	if r.watch != nil {
		events = r.watch.Events
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-events:
	}
	return nil
}

// Package crilog reads and writes the CRI container log format, the format
// of every file under /var/log/pods:
//
//	2026-11-21T21:16:15.520641025+00:00 stdout F hello
//	<RFC3339Nano time> SP <stdout|stderr> SP <F|P> SP <content> LF
//
// F ends a line; P is a part of a longer line whose rest follows. conmon
// writes these files for runtime/oci; runtime/sim produces entries in memory.
// Output applies the pods/log options (since, timestamps, limitBytes) to a
// sequence of entries, and ReadFile adds tail and follow for a file that
// is still being written and may be rotated under the reader.
package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"kserver.dev/kserver/internal/runtime"
)

// Streams.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Entry is one line of a CRI log file.
type Entry struct {
	Time    time.Time
	Stream  string
	Partial bool
	Content []byte // without the trailing newline
}

// ErrLimitReached is returned by Output.Write once LimitBytes have been
// written; readers stop there without reporting an error.
var ErrLimitReached = errors.New("log byte limit reached")

// Parse reads one line (with or without its trailing newline).
func Parse(line []byte) (Entry, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return Entry{}, fmt.Errorf("log line %.40q: no timestamp separator", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Entry{}, fmt.Errorf("log line %.40q: %w", line, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != Stdout && string(stream) != Stderr) {
		return Entry{}, fmt.Errorf("log line %.40q: bad stream", line)
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// conmon writes "… stdout F " for an empty line; tolerate a missing
		// final space.
		tag, content = rest, nil
	}
	if len(tag) != 1 || (tag[0] != 'F' && tag[0] != 'P') {
		return Entry{}, fmt.Errorf("log line %.40q: bad tag %q", line, tag)
	}
	return Entry{Time: t, Stream: string(stream), Partial: tag[0] == 'P', Content: content}, nil
}

// Append formats e as one line of a log file and appends it to buf.
func Append(buf []byte, e Entry) []byte {
	buf = e.Time.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, ' ')
	buf = append(buf, e.Stream...)
	if e.Partial {
		buf = append(buf, " P "...)
	} else {
		buf = append(buf, " F "...)
	}
	buf = append(buf, e.Content...)
	return append(buf, '\n')
}

// Output writes log entries to a client the way pods/log does: entries
// before Since are skipped, a line that is complete gets its newline back,
// Timestamps puts the entry's time in front of each line, and LimitBytes
// cuts the output off. Partial entries are joined to the rest of their line
// (per stream), so a timestamp is only ever written at the start of a line.
type Output struct {
	w       io.Writer
	opts    runtime.LogOptions
	written int64
	midLine map[string]bool // stream → inside a partial line
	buf     []byte
}

// NewOutput writes to w with opts (TailLines, Follow and Previous are the
// reader's business and are ignored here).
func NewOutput(w io.Writer, opts runtime.LogOptions) *Output {
	return &Output{w: w, opts: opts, midLine: map[string]bool{}}
}

// Write writes one entry. It returns ErrLimitReached when the byte limit
// has been reached (the entry may have been written in part).
func (o *Output) Write(e Entry) error {
	if o.opts.LimitBytes > 0 && o.written >= o.opts.LimitBytes {
		return ErrLimitReached
	}
	if !o.opts.Since.IsZero() && e.Time.Before(o.opts.Since) {
		return nil
	}
	b := o.buf[:0]
	if o.opts.Timestamps && !o.midLine[e.Stream] {
		b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
	}
	b = append(b, e.Content...)
	if !e.Partial {
		b = append(b, '\n')
	}
	o.midLine[e.Stream] = e.Partial
	o.buf = b
	limited := false
	if o.opts.LimitBytes > 0 && o.written+int64(len(b)) > o.opts.LimitBytes {
		b = b[:o.opts.LimitBytes-o.written]
		limited = true
	}
	n, err := o.w.Write(b)
	o.written += int64(n)
	if err != nil {
		return err
	}
	if limited {
		return ErrLimitReached
	}
	return nil
}

// Tail returns the entries that make up the last n lines of entries (a
// line is a run of partial entries ended by a full one).
func Tail(entries []Entry, n int64) []Entry {
	if n < 0 {
		return entries
	}
	lines := int64(0)
	for i := len(entries) - 1; i >= 0; i-- {
		if !entries[i].Partial {
			if lines == n {
				return entries[i+1:]
			}
			lines++
		}
	}
	return entries
}

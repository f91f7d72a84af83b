package crilog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kserver.dev/kserver/internal/runtime"
)

// Lines as conmon writes them on this machine class.
const conmonLog = `2026-11-21T21:16:15.520641025+00:00 stdout F hello-out
2026-11-21T21:16:15.520641025+00:00 stdout P partial-no-newline
2026-11-21T21:16:15.520700545+00:00 stderr F hello-err
2026-11-21T21:16:16.521576976+00:00 stdout F 
2026-11-21T21:16:16.521576976+00:00 stdout F tick 1
`

func TestParseAppendRoundTrip(t *testing.T) {
	for _, line := range strings.SplitAfter(conmonLog, "\n") {
		if line == "" {
			continue
		}
		e, err := Parse([]byte(line))
		if err != nil {
			t.Fatalf("Parse(%q): %v", line, err)
		}
		back, err := Parse(Append(nil, e))
		if err != nil || !back.Time.Equal(e.Time) || back.Stream != e.Stream || back.Partial != e.Partial ||
			string(back.Content) != string(e.Content) {
			t.Errorf("Parse(Append(Parse(%q))) = %+v, %v", line, back, err)
		}
	}
	for _, bad := range []string{"", "nonsense", "2026-11-21T21:16:15Z stdin F x", "2026-11-21T21:16:15Z stdout X x"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadFileOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	write(t, path, conmonLog)
	n := func(v int64) *int64 { return &v }
	cases := []struct {
		name string
		opts runtime.LogOptions
		want string
	}{
		// stdout and stderr share the output, as in pods/log: the stderr line
		// lands after the partial stdout one, whose newline comes later.
		{"all", runtime.LogOptions{}, "hello-out\npartial-no-newlinehello-err\n\ntick 1\n"},
		{"tail 1", runtime.LogOptions{TailLines: n(1)}, "tick 1\n"},
		{"tail 3 (a partial belongs to its line)", runtime.LogOptions{TailLines: n(3)}, "partial-no-newlinehello-err\n\ntick 1\n"},
		{"since", runtime.LogOptions{Since: time.Date(2026, 11, 21, 21, 16, 16, 0, time.UTC)}, "\ntick 1\n"},
		{"limit", runtime.LogOptions{LimitBytes: 12}, "hello-out\npa"},
		{"timestamps once per line", runtime.LogOptions{Timestamps: true, TailLines: n(3)},
			"2026-11-21T21:16:15.520641025Z partial-no-newline" +
				"2026-11-21T21:16:15.520700545Z hello-err\n\n2026-11-21T21:16:16.521576976Z tick 1\n"},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		if err := ReadFile(context.Background(), path, tc.opts, &buf, func() bool { return false }); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if buf.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, buf.String(), tc.want)
		}
	}
	var buf bytes.Buffer
	if err := ReadFile(context.Background(), path+".missing", runtime.LogOptions{}, &buf, nil); err != nil || buf.Len() != 0 {
		t.Errorf("missing file: %q, %v; want an empty log", buf.String(), err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Follow sees lines appended later, follows a rotation (rename, then a new
// file, as conmon does on a reopen request) and ends when the writer is
// done.
func TestReadFileFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	write(t, path, "")
	var mu sync.Mutex
	running := true
	isRunning := func() bool { mu.Lock(); defer mu.Unlock(); return running }
	out := &syncBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- ReadFile(context.Background(), path, runtime.LogOptions{Follow: true}, out, isRunning) }()

	appendLine := func(p, text string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().Format(time.RFC3339Nano), text)
	}
	waitOut := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("follower never printed %q (got %q)", want, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	appendLine(path, "one")
	waitOut("one\n")
	appendLine(path, "two")
	if err := os.Rename(path, path+".20261121-000000"); err != nil {
		t.Fatal(err)
	}
	appendLine(path, "three")
	waitOut("three\n")
	// The container's last line is written before it is seen stopped (the
	// monitor drains its output before it writes the exit file).
	appendLine(path, "last words")
	mu.Lock()
	running = false
	mu.Unlock()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when the writer stopped")
	}
	if got := out.String(); got != "one\ntwo\nthree\nlast words\n" {
		t.Errorf("followed %q", got)
	}
}

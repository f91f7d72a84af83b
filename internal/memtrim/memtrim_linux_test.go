package memtrim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseSmaps(t *testing.T) {
	data := "00400000-00a00000 r-xp 00000000 fd:01 1234                               /usr/bin/kserver\n" +
		"Size:               6144 kB\n" +
		"Anonymous:             0 kB\n" +
		"VmFlags: rd ex mr mw me\n" +
		"00a00000-01000000 r--p 00600000 fd:01 1234                               /usr/bin/kserver\n" +
		"Anonymous:             8 kB\n" +
		"01000000-01100000 rw-p 00c00000 fd:01 1234                               /usr/bin/kserver\n" +
		"c000000000-c004000000 rw-p 00000000 00:00 0 \n" +
		"7f0000000000-7f0000001000 r--p 00000000 fd:01 99 /opt/my dir/kserver (deleted)\n"
	maps, err := parseSmaps([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 5 {
		t.Fatalf("got %d mappings, want 5", len(maps))
	}
	first := mapping{start: 0x400000, end: 0xa00000, perms: "r-xp", inode: 1234, path: "/usr/bin/kserver"}
	if maps[0] != first {
		t.Errorf("first mapping %+v, want %+v", maps[0], first)
	}
	if maps[1].anon != 8<<10 {
		t.Errorf("Anonymous of the second mapping read as %d", maps[1].anon)
	}
	if maps[3].path != "" || maps[3].inode != 0 {
		t.Errorf("anonymous mapping parsed as %+v", maps[3])
	}
	if maps[4].path != "/opt/my dir/kserver (deleted)" {
		t.Errorf("path with spaces parsed as %q", maps[4].path)
	}

	own := executableMappings(maps, "/usr/bin/kserver", 1234)
	if len(own) != 2 || own[0].perms != "r-xp" || own[1].perms != "r--p" {
		t.Errorf("executable mappings %+v, want the r-xp and r--p ones only", own)
	}
	if got := executableMappings(maps, "/usr/bin/kserver", 77); len(got) != 0 {
		t.Errorf("another inode at the same path matched: %+v", got)
	}

	for _, bad := range []string{"00400000 r-xp 0 fd:01 1 /x\n", "zz-01 r-xp 0 fd:01 1 /x\n", "1-2 r-xp\n", "1-2 r-xp 0 fd:01 1 /x\nAnonymous: many kB\n"} {
		if _, err := parseSmaps([]byte(bad)); err == nil {
			t.Errorf("parseSmaps(%q) gave no error", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	st, err := parseStatus([]byte("Name:\tkserver\nVmRSS:\t   40960 kB\nRssAnon:\t 20480 kB\nRssFile:\t   19456 kB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st.rss != 40960<<10 || st.file != 19456<<10 {
		t.Errorf("got %+v", st)
	}
	if _, err := parseStatus([]byte("VmRSS:\t1 kB\n")); err == nil {
		t.Error("status without RssFile gave no error")
	}
}

// TestTrimPagesOutExecutable trims this test binary: its file-backed
// resident set must shrink.
func TestTrimPagesOutExecutable(t *testing.T) {
	if err := AdviseRandom(); err != nil {
		t.Fatal(err)
	}
	r, err := Trim()
	if errors.Is(err, unix.EINVAL) {
		t.Skipf("kernel without MADV_PAGEOUT: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Mappings == 0 || r.Bytes == 0 {
		t.Fatalf("no executable mapping advised: %+v", r)
	}
	if r.FileAfter >= r.FileBefore {
		t.Errorf("file-backed RSS %d KiB → %d KiB; want it smaller", r.FileBefore>>10, r.FileAfter>>10)
	}
	t.Logf("RSS %d → %d KiB, file-backed %d → %d KiB, %d mappings of %d KiB",
		r.RSSBefore>>10, r.RSSAfter>>10, r.FileBefore>>10, r.FileAfter>>10, r.Mappings, r.Bytes>>10)
}

func TestRunTrimsOnceAndStops(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	done := make(chan error, 1)
	go func() {
		done <- New(Config{After: 10 * time.Millisecond}, logger).Run(context.Background())
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run with no interval did not return after its one trim")
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- New(DefaultConfig(), logger).Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// TestRegrowth: the baseline is the first reading after a trim (the
// working set mapped back), lowered when the kernel takes pages away; only
// growth by the threshold above it trims again.
func TestRegrowth(t *testing.T) {
	const mib = 1 << 20
	g := regrowth{threshold: 8 * mib}
	for i, c := range []struct {
		file int64
		want bool
	}{
		{12 * mib, false}, // first check after the trim: the baseline
		{15 * mib, false},
		{19 * mib, false},
		{10 * mib, false}, // reclaimed by the kernel: new baseline
		{17 * mib, false},
		{18 * mib, true},
	} {
		if got := g.check(c.file); got != c.want {
			t.Errorf("check %d (%d MiB): %v, want %v", i, c.file/mib, got, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{After: -1}, {Interval: -time.Second}, {Regrowth: -1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

package memtrim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mapping is one mapping of /proc/self/smaps.
type mapping struct {
	start, end uint64
	perms      string
	inode      uint64
	path       string
	anon       int64 // bytes of private copies (Anonymous:), e.g. relocated RELRO pages
}

// parseSmaps reads /proc/<pid>/smaps content (or maps content, which has
// the header lines only).
func parseSmaps(data []byte) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		first, _, _ := strings.Cut(line, " ")
		if strings.HasSuffix(first, ":") {
			if first == "Anonymous:" && len(out) > 0 {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(line[len(first):]), " kB"), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("smaps line %q: %w", line, err)
				}
				out[len(out)-1].anon = kb << 10
			}
			continue
		}
		m, err := parseMapLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// parseMapLine reads a header line: range, perms, offset, dev, inode, path.
func parseMapLine(line string) (mapping, error) {
	var f [5]string
	rest := line
	for i := range f {
		rest = strings.TrimLeft(rest, " ")
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, " "); !ok && i < 4 {
			return mapping{}, fmt.Errorf("maps line %q: too few fields", line)
		}
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return mapping{}, fmt.Errorf("maps line %q: bad address range", line)
	}
	m := mapping{perms: f[1], path: strings.TrimLeft(rest, " ")}
	var err error
	if m.start, err = strconv.ParseUint(lo, 16, 64); err == nil {
		if m.end, err = strconv.ParseUint(hi, 16, 64); err == nil {
			m.inode, err = strconv.ParseUint(f[4], 10, 64)
		}
	}
	if err != nil {
		return mapping{}, fmt.Errorf("maps line %q: %w", line, err)
	}
	return m, nil
}

// executableMappings are the read-only mappings of the file at exe with the
// given inode: text, read-only data, symbol tables. Writable ones (data,
// BSS) hold private copies and are left alone.
func executableMappings(maps []mapping, exe string, inode uint64) []mapping {
	var out []mapping
	for _, m := range maps {
		if m.path == exe && m.inode == inode && len(m.perms) >= 2 && m.perms[0] == 'r' && m.perms[1] != 'w' {
			out = append(out, m)
		}
	}
	return out
}

// ownMappings finds this process's executable mappings.
func ownMappings() ([]mapping, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("find executable: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return nil, fmt.Errorf("stat executable: %w", err)
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	maps, err := parseSmaps(data)
	if err != nil {
		return nil, err
	}
	own := executableMappings(maps, exe, uint64(st.Ino))
	if len(own) == 0 {
		return nil, errors.New("no read-only mapping of the executable found")
	}
	return own, nil
}

// madvise applies one advice to a mapping.
func madvise(m mapping, advice int) error {
	_, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), uintptr(advice))
	if e != 0 {
		return fmt.Errorf("madvise %#x-%#x: %w", m.start, m.end, e)
	}
	return nil
}

// AdviseRandom tells the kernel the executable is read at random, so a
// fault on a page not resident reads that page and no readahead window.
func AdviseRandom() error {
	own, err := ownMappings()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range own {
		errs = append(errs, madvise(m, unix.MADV_RANDOM))
	}
	return errors.Join(errs...)
}

// pageOut reclaims the executable's resident read-only pages
// (MADV_PAGEOUT). The kernel skips pages another process maps too (a second
// kserver on the same machine); those are then unmapped from this process
// only (MADV_DONTNEED), so that the other process's trim can reclaim them.
// DONTNEED is safe only where every page is still the file's: a mapping
// with private copies (the RELRO page of relocated pointers, made read-only
// after the dynamic loader wrote it) would lose them, so it is skipped.
// Last, the executable's cached pages that no process maps any more are
// dropped (POSIX_FADV_DONTNEED): they would otherwise stay in the page
// cache as large folios, which later faults map 64 KiB at a time, and
// hold memory the idle process does not use.
func pageOut() (n int, size int64, err error) {
	own, err := ownMappings()
	if err != nil {
		return 0, 0, err
	}
	var errs []error
	for _, m := range own {
		if err := madvise(m, unix.MADV_PAGEOUT); err != nil {
			errs = append(errs, err)
			continue
		}
		if m.anon == 0 {
			errs = append(errs, madvise(m, unix.MADV_DONTNEED))
		}
		n++
		size += int64(m.end - m.start)
	}
	errs = append(errs, dropUnmapped())
	return n, size, errors.Join(errs...)
}

// dropUnmapped asks the kernel to drop the executable's clean page-cache
// pages that nothing maps.
func dropUnmapped() error {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("open executable: %w", err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("drop executable's cached pages: %w", err)
	}
	return nil
}

// status holds the memory lines of /proc/self/status, in bytes.
type status struct {
	rss, file int64
}

func readStatus() (status, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return status{}, fmt.Errorf("read status: %w", err)
	}
	return parseStatus(data)
}

// parseStatus reads VmRSS and RssFile (kB) from /proc/<pid>/status.
func parseStatus(data []byte) (status, error) {
	var st status
	found := 0
	for line := range strings.Lines(string(data)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "RssFile") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return st, fmt.Errorf("status %s: %w", key, err)
		}
		if key == "VmRSS" {
			st.rss = kb << 10
		} else {
			st.file = kb << 10
		}
		found++
	}
	if found != 2 {
		return st, errors.New("status: VmRSS or RssFile missing")
	}
	return st, nil
}

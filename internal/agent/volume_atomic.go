package agent

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The kubelet's atomic writer layout, which configMap, secret,
// downwardAPI and projected volumes use so that a reader never sees half
// an update:
//
//	<dir>/..2024_05_01_10_00_00.123456789/<files>   one complete version
//	<dir>/..data -> ..2024_05_01_10_00_00.123456789  swapped by rename(2)
//	<dir>/<key>  -> ..data/<key>                      what containers open
//
// A new version is written beside the old one, then ..data is replaced
// atomically, then the old version is removed.

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// fileProjection is one file of a payload.
type fileProjection struct {
	data []byte
	mode os.FileMode
	// uid owns the file when >= 0 (service-account tokens of pods that
	// run as one non-root user without fsGroup); -1 keeps root.
	uid int
}

// payloadOwner is the group ownership applied to a payload (fsGroup).
type payloadOwner struct {
	gid int // -1: none
}

// writeAtomic makes dir hold exactly payload. It reports whether it wrote
// a new version (false when the current one already matches).
func writeAtomic(dir string, payload map[string]fileProjection, owner payloadOwner) (bool, error) {
	for p := range payload {
		if err := validPayloadPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	oldTS, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if oldTS != "" && payloadMatches(filepath.Join(dir, oldTS), payload, owner) {
		return false, nil
	}
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := writePayload(tsDir, payload, owner); err != nil {
		_ = os.RemoveAll(tsDir)
		return false, err
	}
	tmpLink := filepath.Join(dir, newDataDirName)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		_ = os.RemoveAll(tsDir)
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		_ = os.RemoveAll(tsDir)
		return false, err
	}
	if err := syncUserLinks(dir, payload); err != nil {
		return true, err
	}
	if oldTS != "" && oldTS != filepath.Base(tsDir) {
		_ = os.RemoveAll(filepath.Join(dir, oldTS))
	}
	return true, nil
}

// validPayloadPath refuses absolute paths, backsteps and names that clash
// with the writer's own.
func validPayloadPath(p string) error {
	switch {
	case p == "" || filepath.IsAbs(p):
		return fmt.Errorf("invalid path %q: must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	return nil
}

func writePayload(dir string, payload map[string]fileProjection, owner payloadOwner) error {
	for p, f := range payload {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, 0o600); err != nil {
			return err
		}
		if err := os.Chmod(full, f.mode); err != nil {
			return err
		}
		if f.uid >= 0 || owner.gid >= 0 {
			if err := os.Lchown(full, f.uid, owner.gid); err != nil {
				return err
			}
		}
	}
	if owner.gid >= 0 {
		return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			return os.Lchown(p, -1, owner.gid)
		})
	}
	return nil
}

// payloadMatches reports whether the version in dir has exactly the
// payload's files, contents and modes.
func payloadMatches(dir string, payload map[string]fileProjection, owner payloadOwner) bool {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		f, ok := payload[rel]
		if !ok {
			return errors.New("extra file")
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.mode.Perm() {
			return errors.New("mode differs")
		}
		if !sameOwner(info, f.uid, owner.gid) {
			return errors.New("owner differs")
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, f.data) {
			return errors.New("content differs")
		}
		n++
		return nil
	})
	return err == nil && n == len(payload)
}

// syncUserLinks makes <dir>/<top> -> ..data/<top> for each top-level name
// of the payload and removes links of names that left it.
func syncUserLinks(dir string, payload map[string]fileProjection) error {
	want := map[string]bool{}
	for p := range payload {
		top, _, _ := strings.Cut(p, "/")
		want[top] = true
	}
	for _, top := range slices.Sorted(maps.Keys(want)) {
		link := filepath.Join(dir, top)
		target := filepath.Join(dataDirName, top)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") || want[name] {
			continue
		}
		if e.Type()&os.ModeSymlink != 0 {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return nil
}

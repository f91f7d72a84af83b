package oci

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// user is a resolved process identity.
type user struct {
	uid, gid   uint32
	additional []uint32
}

// resolveUser turns the container's user settings into numeric IDs, the
// way container runtimes read an image's USER: a name is looked up in the
// rootfs's /etc/passwd, a group name in /etc/group, a number needs no
// lookup; the user's supplementary groups come from /etc/group.
func resolveUser(rootfs string, u runtime.User) (user, error) {
	passwd := readDB(rootfs, "/etc/passwd", 7)
	group := readDB(rootfs, "/etc/group", 4)
	name, grp, hasGroup := strings.Cut(u.Name, ":")
	res, login, err := lookupUser(passwd, u.UID, name)
	if err != nil {
		return res, err
	}
	switch {
	case u.GID != nil:
		res.gid = uint32(*u.GID)
	case hasGroup && isNumber(grp):
		res.gid = atou(grp)
	case hasGroup:
		found := false
		for _, g := range group {
			if g[0] == grp {
				res.gid, found = atou(g[2]), true
				break
			}
		}
		if !found {
			return res, fmt.Errorf("unable to find group %s: no matching entries in group file: %w", grp, runtime.ErrInvalidConfig)
		}
	}
	seen := map[uint32]bool{res.gid: true}
	add := func(gid uint32) {
		if !seen[gid] {
			seen[gid] = true
			res.additional = append(res.additional, gid)
		}
	}
	for _, g := range group {
		for _, m := range strings.Split(g[3], ",") {
			if login != "" && m == login {
				add(atou(g[2]))
			}
		}
	}
	for _, g := range u.SupplementalGroups {
		add(uint32(g))
	}
	return res, nil
}

// lookupUser finds the UID, primary GID and login name: by the security
// context's UID, or by the image's user name or number.
func lookupUser(passwd [][]string, uid *int64, name string) (user, string, error) {
	var res user
	byUID := func(id string) string {
		for _, p := range passwd {
			if p[2] == id {
				res.gid = atou(p[3])
				return p[0]
			}
		}
		return ""
	}
	switch {
	case uid != nil:
		res.uid = uint32(*uid)
		return res, byUID(strconv.FormatInt(*uid, 10)), nil
	case name == "":
		return res, "", nil
	case isNumber(name):
		res.uid = atou(name)
		return res, byUID(name), nil
	}
	for _, p := range passwd {
		if p[0] == name {
			res.uid, res.gid = atou(p[2]), atou(p[3])
			return res, name, nil
		}
	}
	return res, "", fmt.Errorf("unable to find user %s: no matching entries in passwd file: %w", name, runtime.ErrInvalidConfig)
}

// readDB reads a colon-separated database file of the rootfs, resolving
// symlinks inside the rootfs only. A missing or unreadable file is empty.
func readDB(rootfs, name string, fields int) [][]string {
	f, err := openInRoot(rootfs, name)
	if err != nil {
		return nil
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < fields {
			continue
		}
		rows = append(rows, parts)
	}
	return rows
}

// openInRoot opens name as if rootfs were "/": symlinks cannot lead out.
func openInRoot(rootfs, name string) (*os.File, error) {
	dir, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, strings.TrimPrefix(name, "/"), &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		fd, err = unix.Openat(dir, strings.TrimPrefix(name, "/"), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func atou(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

package agent

import "syscall"

// diskSpace returns the size and free space of the file system holding
// path (or /), in bytes.
func diskSpace(path string) (total, avail int64) {
	if path == "" {
		path = "/"
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		if err := syscall.Statfs("/", &st); err != nil {
			return 0, 0
		}
	}
	return int64(st.Blocks) * st.Bsize, int64(st.Bavail) * st.Bsize
}

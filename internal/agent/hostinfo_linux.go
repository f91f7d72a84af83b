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
	bsize := int64(st.Bsize) // int32 on 32-bit ARM
	return int64(st.Blocks) * bsize, int64(st.Bavail) * bsize
}

package kctl

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newCpCommand(f *Factory) *cobra.Command {
	var container string
	var noPreserve bool
	cmd := &cobra.Command{
		Use:   "cp <file-spec-src> <file-spec-dest>",
		Short: "Copy files and directories to and from containers",
		Long: `Copy files and directories to and from containers. Requires the 'tar' binary in the container image.
A file spec is a local path or [namespace/]pod:path.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError(cmd.CommandPath(), "source and destination are required")
			}
			src, dst := parseFileSpec(args[0]), parseFileSpec(args[1])
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			switch {
			case src.pod != "" && dst.pod == "":
				return copyFromPod(f, cmd, orNS(src.ns, ns), src, dst.path, container)
			case src.pod == "" && dst.pod != "":
				return copyToPod(f, cmd, orNS(dst.ns, ns), src.path, dst, container, noPreserve)
			}
			return fmt.Errorf("one of src or dest must be a local file specification")
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen")
	cmd.Flags().BoolVar(&noPreserve, "no-preserve", false, "The copied file/directory's ownership and permissions will not be preserved in the container")
	cmd.Flags().Int("retries", 0, "Set number of retries to complete a copy operation from a container.")
	return cmd
}

type fileSpec struct{ ns, pod, path string }

// parseFileSpec reads `[namespace/]pod:path` or a local path (a path
// starting with / or . or containing no colon is local).
func parseFileSpec(s string) fileSpec {
	i := strings.Index(s, ":")
	if i <= 0 || strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return fileSpec{path: s}
	}
	pod, p := s[:i], s[i+1:]
	if ns, name, ok := strings.Cut(pod, "/"); ok {
		return fileSpec{ns: ns, pod: name, path: p}
	}
	return fileSpec{pod: pod, path: p}
}

func orNS(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cpContainer is -c or the pod's default container; the note about the
// default goes to note (kubectl's exec writes it to the session's stderr,
// which for copies from a pod is kubectl's stdout).
func cpContainer(f *Factory, cmd *cobra.Command, ns, pod, container string, note io.Writer) (string, error) {
	if container != "" {
		return container, nil
	}
	p, _, err := podFor(cmd.Context(), f, ns, pod)
	if err != nil {
		return "", err
	}
	return defaultContainerTo(note, p, false), nil
}

// copyToPod tars the local path under the destination's base name and
// unpacks it in the container with `tar -xmf - -C <dir>`.
func copyToPod(f *Factory, cmd *cobra.Command, ns, local string, dst fileSpec, container string, noPreserve bool) error {
	if _, err := os.Stat(local); err != nil {
		return fmt.Errorf("%s doesn't exist in local filesystem", local)
	}
	c, err := cpContainer(f, cmd, ns, dst.pod, container, f.IO.ErrOut)
	if err != nil {
		return err
	}
	destFile := dst.path
	if destFile == "" || strings.HasSuffix(destFile, "/") {
		destFile = path.Join(destFile, filepath.Base(local))
	}
	var buf bytes.Buffer
	if err := writeTar(&buf, local, path.Base(destFile)); err != nil {
		return err
	}
	command := []string{"tar", "-xmf", "-"}
	if noPreserve {
		command = []string{"tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-"}
	}
	if dir := path.Dir(destFile); dir != "" {
		command = append(command, "-C", dir)
	}
	return remoteExit(streamTo(cmd.Context(), f, ns, dst.pod, "exec", c, command, &buf, io.Discard, f.IO.ErrOut, false, nil))
}

// writeTar archives local (a file or a directory tree) with its top entry
// renamed to name.
func writeTar(w io.Writer, local, name string) error {
	tw := tar.NewWriter(w)
	base := filepath.Clean(local)
	err := filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = path.Join(name, filepath.ToSlash(rel))
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			fh, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, fh)
			fh.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// copyFromPod runs `tar cf - <path>` in the container and unpacks the
// stream locally, the source's last element becoming dest.
func copyFromPod(f *Factory, cmd *cobra.Command, ns string, src fileSpec, dest, container string) error {
	if src.path == "" {
		return errors.New("filepath can not be empty")
	}
	c, err := cpContainer(f, cmd, ns, src.pod, container, f.IO.Out)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		// kubectl sends tar's stderr to its stdout here.
		pw.CloseWithError(remoteExit(streamTo(cmd.Context(), f, ns, src.pod, "exec", c, []string{"tar", "cf", "-", src.path}, nil, pw, f.IO.Out, false, nil)))
	}()
	prefix := strings.TrimPrefix(path.Clean(src.path), "/")
	return untar(pr, prefix, dest)
}

// untar writes the entries under prefix into dest, refusing paths that
// would escape it.
func untar(r io.Reader, prefix, dest string) error {
	tr := tar.NewReader(r)
	wrote := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if !wrote {
				return fmt.Errorf("%s: no such file or directory", prefix)
			}
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "/")
		rel := strings.TrimPrefix(strings.TrimPrefix(name, prefix), "/")
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if rel != "" && !strings.HasPrefix(target, filepath.Clean(dest)+string(os.PathSeparator)) {
			fmt.Fprintf(os.Stderr, "warning: skipping %q, it is outside the destination\n", h.Name)
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			fh, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			if _, err := io.Copy(fh, tr); err != nil {
				fh.Close()
				return err
			}
			fh.Close()
		}
		wrote = true
	}
}

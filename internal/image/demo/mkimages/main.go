// Command mkimages writes kserver's offline demo images (busybox and the
// kubia variants) as one docker-save archive. `make images` runs it; see
// docs/image.md.
//
//	mkimages -busybox /bin/busybox -kubia bin/kubia -out DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"kserver.dev/kserver/internal/image/demo"
)

// ArchiveName is the file mkimages writes into -out.
const ArchiveName = "kserver-demo-images.tar"

func main() {
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary")
	kubia := flag.String("kubia", "", "static kubia binary (go build ./cmd/kubia)")
	out := flag.String("out", "", "directory to write "+ArchiveName+" into")
	flag.Parse()
	if *kubia == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "mkimages: -kubia and -out are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*busybox, *kubia, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkimages:", err)
		os.Exit(1)
	}
}

func run(busybox, kubia, out string) error {
	created := time.Unix(0, 0)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
		}
		created = time.Unix(sec, 0)
	}
	imgs, err := demo.Build(demo.Options{Busybox: busybox, Kubia: kubia, Created: created})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(out, ArchiveName)
	changed, err := demo.WriteArchive(path, imgs)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	for _, im := range imgs {
		size, err := demo.Size(im.Image)
		if err != nil {
			return err
		}
		fmt.Printf("%-40s %7.2f MB  (+%d more names)\n", im.Tags[0], float64(size)/1e6, len(im.Tags)-1)
	}
	verb := "wrote"
	if !changed {
		verb = "unchanged:"
	}
	fmt.Printf("%s %s (%.2f MB, %d images)\n", verb, path, float64(fi.Size())/1e6, len(imgs))
	return nil
}

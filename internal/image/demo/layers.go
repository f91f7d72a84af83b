package demo

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one file of a layer; directories are implied by paths and
// listed only when they need a special mode.
type entry struct {
	name string
	mode int64
	dir  bool
	link string
	body []byte
}

// layer writes entries into a reproducible tar: sorted, root-owned, one
// timestamp, parents before children.
func layer(created time.Time, entries []entry) (v1.Layer, error) {
	all := map[string]entry{}
	for _, e := range entries {
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			if _, ok := all[d]; !ok {
				all[d] = entry{name: d, dir: true, mode: 0o755}
			}
		}
		all[e.name] = e
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := all[n]
		h := &tar.Header{Name: n, Mode: e.mode, ModTime: created.UTC(), Format: tar.FormatPAX}
		switch {
		case e.dir:
			h.Typeflag, h.Name = tar.TypeDir, n+"/"
		case e.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// busyboxLayer is a root filesystem of the static busybox, its applet
// links and the few files a shell session expects.
func busyboxLayer(o Options) (v1.Layer, error) {
	bin, err := readBinary(o.Busybox)
	if err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	links, err := applets(o.Busybox)
	if err != nil {
		return nil, err
	}
	es := []entry{
		{name: "bin/busybox", mode: 0o755, body: bin},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n")},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\ndaemon:x:1:\nnobody:x:65534:\n")},
		{name: "root", dir: true, mode: 0o700},
		{name: "tmp", dir: true, mode: 0o1777},
		{name: "home", dir: true, mode: 0o755},
		{name: "var", dir: true, mode: 0o755},
		{name: "var/tmp", dir: true, mode: 0o1777},
		{name: "usr/local/bin", dir: true, mode: 0o755},
	}
	for _, l := range links {
		es = append(es, entry{name: l, link: "/bin/busybox"})
	}
	return layer(o.Created, es)
}

// kubiaLayer holds the kubia binary, curl as a link to it, a bash stand-in
// (the book's kubia images are Debian based: `kubectl exec -it kubia --
// bash` works there) and the data directory the pet variants write to.
func kubiaLayer(o Options) (v1.Layer, error) {
	bin, err := readBinary(o.Kubia)
	if err != nil {
		return nil, fmt.Errorf("kubia: %w", err)
	}
	return layer(o.Created, []entry{
		{name: "kubia", mode: 0o755, body: bin},
		{name: "usr/local/bin/curl", link: "/kubia"},
		{name: "bin/bash", mode: 0o755, body: []byte("#!/bin/sh\n# bash stand-in: this image has busybox's shell\nexec /bin/sh \"$@\"\n")},
		{name: "var/data", dir: true, mode: 0o755},
	})
}

// fortuneFiles are the luksa/fortune image's loop script and a handful of
// fortunes. The interval comes from the first argument (the :args image),
// else $INTERVAL (the :env image), else 10 seconds.
func fortuneFiles() []entry {
	script := `#!/bin/sh
trap "exit" TERM INT
INTERVAL=${1:-${INTERVAL:-10}}
echo "Configured to generate new fortune every $INTERVAL seconds"
mkdir -p /var/htdocs
while :
do
  echo "$(date) Writing fortune to /var/htdocs/index.html"
  shuf -n 1 /usr/share/fortunes > /var/htdocs/index.html
  sleep "$INTERVAL" & wait $!
done
`
	fortunes := strings.Join([]string{
		"A pod is the smallest deployable unit of computing that you can create and manage in Kubernetes.",
		"Cattle, not pets.",
		"Declarative beats imperative: say what you want, let the controllers work out how.",
		"If it is not in version control, it does not exist.",
		"Labels are for selecting; annotations are for everything else.",
		"The best time to set resource requests was yesterday. The second best time is now.",
		"Readiness tells the Service; liveness tells the kubelet.",
		"Everything fails, all the time.",
		"kubectl explain is cheaper than a search engine.",
		"A ReplicaSet keeps N pods running; a Deployment keeps N ReplicaSets honest.",
	}, "\n") + "\n"
	return []entry{
		{name: "bin/fortuneloop.sh", mode: 0o755, body: []byte(script)},
		{name: "usr/share/fortunes", mode: 0o644, body: []byte(fortunes)},
	}
}

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/image/demo"
	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/runtime/oci"
	"kserver.dev/kserver/internal/server"
)

// Real-runtime node benchmarks (S2, S3, F1, F6-RUNC): `kserver server
// --runtime runc` runs as a child process inside a network namespace the
// benchmark made (its CNI bridge, pod routes and hostPort rules live
// there; the root namespace is never changed), with the offline demo
// images imported at start as `make run` does. The benchmark reaches its
// API through sockets opened inside that namespace. Whatever the node
// leaves when it stops — containers and their monitors, mounts, pod
// cgroups, log folders — is removed afterwards.

// nodeImages builds the offline demo image archive (busybox, kubia) from
// the static busybox and bin/kubia beside this program, into dir.
func nodeImages(env *Env, dir string) (string, error) {
	const busybox = "/bin/busybox"
	kubia := filepath.Join(filepath.Dir(env.Exe), "kubia")
	if _, err := os.Stat(kubia); err != nil {
		return "", fmt.Errorf("needs bin/kubia beside kbench (make build): %w", err)
	}
	imgs, err := demo.Build(demo.Options{Busybox: busybox, Kubia: kubia})
	if err != nil {
		return "", fmt.Errorf("demo images (needs busybox-static): %w", err)
	}
	out := filepath.Join(dir, "demo-images.tar")
	if _, err := demo.WriteArchive(out, imgs); err != nil {
		return "", err
	}
	return out, nil
}

// realNode is one `kserver server --runtime …` child in its own network
// namespace.
type realNode struct {
	*apiServer
	ns      *netns.NS
	topo    topo
	runtime string

	mu   sync.Mutex
	uids []string // of every pod created, for their log folders
}

// startRealNode starts kserver on a fresh data directory with the image
// archive linked into its air-gap folder, and waits for /readyz.
func startRealNode(ctx context.Context, env *Env, rtName, archive string) (*realNode, error) {
	if err := needRoot(); err != nil {
		return nil, err
	}
	for _, tool := range []string{rtName, "conmon", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("needs %s (scripts/setup.sh run)", tool)
		}
	}
	bin, err := kserverBinary(env)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(env.Dir, "node-")
	if err != nil {
		return nil, err
	}
	n := &realNode{apiServer: &apiServer{dir: dir, url: "https://127.0.0.1:6443"}, runtime: rtName}
	if n.ns, err = n.topo.ns("node"); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	images := filepath.Join(dir, "agent", "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	if err := os.Symlink(archive, filepath.Join(images, "demo.tar")); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	n.cmd = exec.Command(bin, "server", "--data-dir", dir, "--runtime", rtName, "--bind-address", "127.0.0.1",
		"--node-ip", "127.0.0.1", "--https-listen-port", "6443", "--node-name", "bench",
		"--write-kubeconfig", filepath.Join(dir, "kubeconfig.yaml"), "--config", "")
	n.cmd.Stderr = &n.stderr
	n.cmd.Env = append(os.Environ(), "KSERVER_CONFIG=")
	// The child inherits the network namespace of the thread that forks it.
	err = n.ns.Do(func() error {
		n.started = time.Now()
		return n.cmd.Start()
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start kserver: %w", err), n.Close())
	}
	if err := n.waitAPI(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("%w\n%s", err, n.stderr.String()), n.Close())
	}
	return n, nil
}

// waitAPI builds the admin client (dialling inside the namespace) once the
// certificates exist, then waits for /readyz.
func (n *realNode) waitAPI(ctx context.Context) error {
	tlsDir := filepath.Join(n.dir, "server", "tls")
	deadline := time.Now().Add(30 * time.Second)
	for n.client == nil {
		if c, err := adminClient(tlsDir); err == nil {
			tr := c.Transport.(*http.Transport)
			tr.DialContext = func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
				err = n.ns.Do(func() error {
					var d net.Dialer
					conn, err = d.DialContext(ctx, network, addr)
					return err
				})
				return conn, err
			}
			n.client = c
			break
		}
		if n.cmd.ProcessState != nil || time.Now().After(deadline) {
			return errors.New("kserver wrote no certificates")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return n.waitReady(ctx, tlsDir)
}

// Close deletes the benchmark's pods (so the agent tears them down as in
// normal use), stops kserver, removes what its runtime still holds, the
// mounts below the data directory, the pods' log folders and the
// namespace.
func (n *realNode) Close() error {
	var errs []error
	if n.client != nil && n.cmd.ProcessState == nil {
		errs = append(errs, n.deleteAllPods(context.Background(), 60*time.Second), n.waitTornDown(60*time.Second))
	}
	n.stop()
	errs = append(errs, n.cleanRuntime())
	for _, uid := range n.uids {
		matches, _ := filepath.Glob(filepath.Join("/var/log/pods", "*_"+uid))
		for _, m := range matches {
			errs = append(errs, os.RemoveAll(m))
		}
	}
	errs = append(errs, n.topo.Close(), os.RemoveAll(n.dir))
	return errors.Join(errs...)
}

// waitTornDown waits until the agent has removed every sandbox and pod
// folder (the API forgets a pod before its sandbox is gone).
func (n *realNode) waitTornDown(within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		left := 0
		for _, d := range []string{"runtime/sandboxes", "pods"} {
			entries, _ := os.ReadDir(filepath.Join(n.dir, "agent", d))
			left += len(entries)
		}
		if left == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the agent did not tear every pod down within %v", within)
}

// cleanRuntime removes the sandboxes kserver left (there are none after a
// clean deletion), then the mounts below the data directory and the
// runtime's run folder.
func (n *realNode) cleanRuntime() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	runDir := server.RuntimeRunDir(n.dir)
	if _, err := os.Stat(runDir); err == nil {
		rt, err := oci.Open(ctx, oci.Config{Runtime: n.runtime, RunDir: runDir, StateDir: filepath.Join(n.dir, "agent", "runtime")})
		if err != nil {
			errs = append(errs, err)
		} else {
			sbs, _ := rt.ListSandboxes(ctx)
			for _, sb := range sbs {
				errs = append(errs, rt.RemoveSandbox(ctx, sb.ID))
			}
		}
	}
	for _, mp := range mountsUnder(n.dir) {
		errs = append(errs, unix.Unmount(mp, unix.MNT_DETACH))
	}
	errs = append(errs, os.RemoveAll(filepath.Dir(runDir)))
	return errors.Join(errs...)
}

// mountsUnder lists mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append([]string{f[4]}, out...)
		}
	}
	return out
}

// busyboxPod is a BestEffort pod whose one container sleeps and stops at
// once on SIGTERM.
func busyboxPod(name, label string) []byte { return busyboxPodCPU(name, label, "") }

// busyboxPodCPU is busyboxPod requesting cpu (a Burstable pod) unless
// empty.
func busyboxPodCPU(name, label, cpu string) []byte {
	res := ""
	if cpu != "" {
		res = fmt.Sprintf(`,"resources":{"requests":{"cpu":%q}}`, cpu)
	}
	return []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"labels":{"bench":%q}},`+
		`"spec":{"terminationGracePeriodSeconds":5,"containers":[{"name":"c","image":"busybox","imagePullPolicy":"IfNotPresent",`+
		`"command":["sh","-c","trap 'exit 0' TERM; sleep 3600 & wait"]%s}]}}`, name, label, res))
}

// createPod posts a pod to the default namespace.
func (n *realNode) createPod(ctx context.Context, body []byte) error {
	code, resp, err := n.do(ctx, http.MethodPost, "/api/v1/namespaces/default/pods", "application/json", body, true)
	if err != nil {
		return n.failed(err)
	}
	if code != http.StatusCreated {
		return fmt.Errorf("create pod: %d %s", code, resp)
	}
	var p struct{ Metadata struct{ UID string } }
	if json.Unmarshal(resp, &p) == nil && p.Metadata.UID != "" {
		n.mu.Lock()
		n.uids = append(n.uids, p.Metadata.UID)
		n.mu.Unlock()
	}
	return nil
}

// failed adds the end of kserver's log to an error.
func (n *realNode) failed(err error) error {
	b := n.stderr.Bytes()
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return fmt.Errorf("%w (%v after kserver started)\nkserver log ends:\n%s", err, time.Since(n.started).Round(time.Millisecond), b)
}

// deleteAllPods deletes every pod of the default namespace and waits
// until they are gone (the agent has stopped their containers).
func (n *realNode) deleteAllPods(ctx context.Context, within time.Duration) error {
	code, resp, err := n.do(ctx, http.MethodDelete, "/api/v1/namespaces/default/pods", "", nil, false)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("delete pods: %d %s", code, resp)
	}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		_, body, err := n.do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods", "", nil, true)
		var list struct{ Items []json.RawMessage }
		if err == nil && json.Unmarshal(body, &list) == nil && len(list.Items) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pods not gone within %v", within)
}

// podWatch records when each pod of a label was first seen Running.
type podWatch struct {
	mu      sync.Mutex
	running map[string]time.Time
	changed chan struct{}
	err     error
	cancel  context.CancelFunc
	done    chan struct{}
}

// watchRunning watches the pods labelled bench=label.
func (n *realNode) watchRunning(ctx context.Context, label string) (*podWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		n.url+"/api/v1/namespaces/default/pods?watch=true&labelSelector=bench%3D"+label, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("watch pods: %d", resp.StatusCode)
	}
	w := &podWatch{running: map[string]time.Time{}, changed: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer resp.Body.Close()
		dec := json.NewDecoder(bufio.NewReader(resp.Body))
		for {
			var ev struct {
				Object struct {
					Metadata struct{ Name string }
					Status   struct{ Phase string }
				}
			}
			if err := dec.Decode(&ev); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			if ev.Object.Status.Phase != "Running" {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			if _, seen := w.running[ev.Object.Metadata.Name]; !seen {
				w.running[ev.Object.Metadata.Name] = now
			}
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}()
	return w, nil
}

// wait returns when the named pods have all been seen Running, with the
// time each was.
func (w *podWatch) wait(ctx context.Context, within time.Duration, names ...string) ([]time.Time, error) {
	timeout := time.After(within)
	for {
		w.mu.Lock()
		out := make([]time.Time, 0, len(names))
		for _, name := range names {
			if at, ok := w.running[name]; ok {
				out = append(out, at)
			}
		}
		err := w.err
		w.mu.Unlock()
		if len(out) == len(names) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("watch ended: %w", err)
		}
		select {
		case <-w.changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			return nil, fmt.Errorf("%d of %d pods Running after %v", len(out), len(names), within)
		}
	}
}

// pollRunning reads a pod every 5 ms until its phase is Running and
// returns when that was seen.
func (n *realNode) pollRunning(ctx context.Context, name string, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		code, body, err := n.do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods/"+name, "", nil, true)
		var p struct{ Status struct{ Phase string } }
		if err == nil && code == http.StatusOK && json.Unmarshal(body, &p) == nil && p.Status.Phase == "Running" {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return time.Time{}, n.failed(fmt.Errorf("pod %s not Running after %v", name, within))
}

// podState is a pod's status, for errors.
func (n *realNode) podState(ctx context.Context, name string) string {
	_, body, err := n.do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods/"+name, "", nil, true)
	if err != nil {
		return err.Error()
	}
	var p struct{ Status json.RawMessage }
	_ = json.Unmarshal(body, &p)
	return string(p.Status)
}

func (w *podWatch) Close() {
	w.cancel()
	<-w.done
}

// procCPU is the CPU time process pid has used itself and the CPU time of
// its children it has waited for (user+system, /proc/<pid>/stat fields
// 14–17, clock ticks of 10 ms).
func procCPU(pid int) (self, children time.Duration) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 15 {
		return 0, 0
	}
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(v) * 10 * time.Millisecond
	}
	return tick(11) + tick(12), tick(13) + tick(14)
}

// memory sums VmRSS, RssAnon and Pss (KiB) over the processes given.
type memory struct{ rss, anon, pss int64 }

func procMemory(pid int) (memory, error) {
	var m memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	m.rss, m.anon = statusField(status, "VmRSS"), statusField(status, "RssAnon")
	if rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		m.pss = statusField(rollup, "Pss")
	}
	return m, nil
}

func statusField(b []byte, field string) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// monitors finds the conmon processes of this node (their command line
// names its runtime root).
func (n *realNode) monitors() []int {
	root := server.RuntimeRunDir(n.dir)
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "conmon" && strings.Contains(string(cmdline), root) {
			out = append(out, pid)
		}
	}
	return out
}

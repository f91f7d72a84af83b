package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// apiServer is a `kserver server --disable-agent` child process started by
// an API benchmark, with an HTTPS client authenticated as the admin.
type apiServer struct {
	cmd     *exec.Cmd
	dir     string
	url     string
	client  *http.Client
	started time.Time
	ready   time.Duration // process start → /readyz ok
	settled time.Duration // last setup request → server idle again (settle)
	stderr  bytes.Buffer
}

// kserverBinary is bin/kserver beside this program (make bench builds
// both), or $KSERVER_BIN.
func kserverBinary(env *Env) (string, error) {
	if p := os.Getenv("KSERVER_BIN"); p != "" {
		return p, nil
	}
	p := filepath.Join(filepath.Dir(env.Exe), "kserver")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("API benchmarks need the kserver binary beside kbench (make build), or KSERVER_BIN: %w", err)
	}
	return p, nil
}

// startAPIServer starts kserver in a fresh folder under env.Dir (or in dir
// when given, to restart on existing data) and waits until /readyz is ok.
func startAPIServer(ctx context.Context, env *Env, dir string) (*apiServer, error) {
	bin, err := kserverBinary(env)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp(env.Dir, "api-"); err != nil {
			return nil, err
		}
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	s := &apiServer{dir: dir, url: "https://127.0.0.1:" + strconv.Itoa(port)}
	s.cmd = exec.Command(bin, "server", "--data-dir", dir, "--disable-agent", "--bind-address", "127.0.0.1",
		"--node-ip", "127.0.0.1", "--https-listen-port", strconv.Itoa(port), "--node-name", "bench",
		"--write-kubeconfig", filepath.Join(dir, "kubeconfig.yaml"), "--config", filepath.Join(dir, "none.yaml"))
	s.cmd.Stderr = &s.stderr
	s.cmd.Env = append(os.Environ(), "KSERVER_CONFIG=")
	_ = os.WriteFile(filepath.Join(dir, "none.yaml"), nil, 0o600)
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kserver: %w", err)
	}
	if err := s.waitReady(ctx, filepath.Join(dir, "server", "tls")); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.stderr.String())
	}
	return s, nil
}

// waitReady polls /readyz every 2 ms (the certificates appear on first
// start, so the client is built as soon as they exist).
func (s *apiServer) waitReady(ctx context.Context, tlsDir string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s.client == nil {
			if c, err := adminClient(tlsDir); err == nil {
				s.client = c
			}
		}
		if s.client != nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/readyz", nil)
			if resp, err := s.client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					s.ready = time.Since(s.started)
					return nil
				}
			}
		}
		if s.cmd.ProcessState != nil {
			return errors.New("kserver exited")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return errors.New("kserver not ready after 30s")
}

// adminClient is an HTTP/2 client with the admin certificate.
func adminClient(tlsDir string) (*http.Client, error) {
	ca, err := os.ReadFile(filepath.Join(tlsDir, "server-ca.crt"))
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "client-admin.crt"), filepath.Join(tlsDir, "client-admin.key"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
	}
	return &http.Client{Transport: tr}, nil
}

func (s *apiServer) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// Close stops the server and removes its folder.
func (s *apiServer) Close() error {
	s.stop()
	return os.RemoveAll(s.dir)
}

// do sends one request and returns the status and body size; the body is
// read fully (and discarded unless keep).
func (s *apiServer) do(ctx context.Context, method, path, contentType string, body []byte, keep bool) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if keep || resp.StatusCode >= 300 {
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil, err
}

// revision is the server's current store revision: the resourceVersion
// of a one-item list of namespaces.
func (s *apiServer) revision(ctx context.Context) (int64, error) {
	code, b, err := s.do(ctx, http.MethodGet, "/api/v1/namespaces?limit=1", "", nil, true)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("list namespaces: HTTP %d: %s", code, b)
	}
	if err != nil {
		return 0, err
	}
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return 0, fmt.Errorf("list namespaces: %w", err)
	}
	return strconv.ParseInt(list.Metadata.ResourceVersion, 10, 64)
}

// Settling: a setup that writes thousands of objects sets the server's
// control plane working on them after the setup's last request has been
// answered — 10k new pods with no node to run on get, from the scheduler,
// one PodScheduled=False status write and one FailedScheduling Event each,
// about 20k writes over tens of seconds. A benchmark of reads against the
// stored objects waits until that is over, so that it measures the reads
// and not the tail of the setup.
const (
	settleWindow = time.Second
	// settleWrites: at most this many writes in a window is quiet — an
	// idle server writes only the leader-election leases of its scheduler
	// and controllers, each renewed every 15 s.
	settleWrites = 3
	// settleWindows quiet windows in a row: one could be a stall of a busy
	// server on a loaded machine.
	settleWindows = 2
	settleLimit   = 5 * time.Minute
)

// settle waits until the server's store revision has moved by at most
// settleWrites in each of settleWindows windows (of length window) in a
// row, and returns how long that took.
func (s *apiServer) settle(ctx context.Context, window time.Duration) (time.Duration, error) {
	start := time.Now()
	last, err := s.revision(ctx)
	if err != nil {
		return 0, err
	}
	for quiet := 0; time.Since(start) < settleLimit; {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(window):
		}
		rev, err := s.revision(ctx)
		if err != nil {
			return 0, err
		}
		if rev-last > settleWrites {
			quiet = 0
		} else if quiet++; quiet == settleWindows {
			return time.Since(start), nil
		}
		last = rev
	}
	return 0, fmt.Errorf("server still writing %s after the setup (revision %d)", settleLimit, last)
}

// rssKiB reads VmRSS or VmHWM of the server process.
func (s *apiServer) procStatus(field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, s.cmd.Process.Pid)
}

// resetPeakRSS resets VmHWM to the current RSS.
func (s *apiServer) resetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

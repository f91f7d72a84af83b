package oci

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// monitorSpec is one conmon invocation: a container, or an exec session
// (execSpec set) in an existing container.
type monitorSpec struct {
	containerID string // -c: the runtime's container ID and the exit file's name
	uuid        string // -u: names the attach socket link in the socket dir
	name        string
	bundle      string // -b and conmon's working directory
	exitDir     string
	logPath     string // "" = no log (-l none)
	tty         bool
	stdin       bool
	leaveStdin  bool
	execSpec    string   // process.json of an exec session
	cgroupProcs []string // cgroup.procs files conmon is moved into before it forks
}

// monitor is a started conmon. For an exec session, the start pipe stays
// open for the second release and the sync pipe gives the exit code.
type monitor struct {
	// times of the launch: conmon started, launcher gone, container
	// created (PID read), daemon moved into its cgroups (beside the create)
	started, forked, created, moved time.Time

	pid       int // the container's or exec's process
	conmonPID int
	sync      *bufio.Reader
	syncFile  *os.File
	start     *os.File
	attach    *os.File
}

func (m *monitor) close() {
	for _, f := range []*os.File{m.syncFile, m.start, m.attach} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// launch starts conmon with the protocol the runtime notes describe: sync
// pipe on fd 3, start pipe on fd 4 (and attach pipe on fd 5 for exec);
// conmon waits on the start pipe before forking, which is when it is moved
// into the pod's cgroup; the launcher exits once the daemon is forked.
// For a container launch returns after the sync pipe gave the container's
// PID; for an exec it returns after the attach socket exists, and the
// caller releases the second start and reads the PID and exit code.
func (r *Runtime) launch(s monitorSpec) (*monitor, error) {
	m, child, err := monitorPipes(s.execSpec != "")
	if err != nil {
		return nil, err
	}
	env := []string{"PATH=" + defaultPath, "TMPDIR=" + filepath.Join(r.cfg.RunDir, "tmp"),
		"_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4"}
	if s.execSpec != "" {
		env = append(env, "_OCI_ATTACHPIPE=5")
	}
	stderr, err := os.OpenFile(filepath.Join(s.bundle, "conmon.stderr"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		m.close()
		closeAll(child)
		return nil, fmt.Errorf("conmon: %w", err)
	}
	defer stderr.Close()
	cmd := exec.Command(r.cfg.ConmonPath, r.conmonArgs(&s)...)
	cmd.Dir, cmd.Env, cmd.ExtraFiles, cmd.Stdout, cmd.Stderr = s.bundle, env, child, stderr, stderr
	err = cmd.Start()
	closeAll(child)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("start conmon: %w", err)
	}
	m.started = time.Now()
	// Release the first start; EOF would release it too, so a crash here
	// does not hang conmon.
	if _, err := m.start.Write([]byte("0")); err != nil {
		m.close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("release conmon: %w", err)
	}
	if s.execSpec == "" {
		_ = m.start.Close()
		m.start = nil
	}
	if err := cmd.Wait(); err != nil {
		m.close()
		out, _ := os.ReadFile(filepath.Join(s.bundle, "conmon.stderr"))
		return nil, fmt.Errorf("conmon: %w: %s", err, strings.TrimSpace(string(out)))
	}
	m.forked = time.Now()
	if b, err := os.ReadFile(filepath.Join(s.bundle, "conmon.pid")); err == nil {
		m.conmonPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	// The daemon is moved into its cgroups while it runs the OCI runtime's
	// create: the first migration of a process between v1 cgroups after a
	// quiet moment waits for an RCU grace period (5–20 ms here), which
	// then overlaps the create instead of preceding it. The runtime's
	// create, the daemon's child, stays where kserver is.
	moved := r.moveMonitor(m, s.cgroupProcs)
	defer func() { <-moved }()
	if s.execSpec != "" {
		if _, err := readSync(bufio.NewReader(m.attach)); err != nil {
			m.close()
			return nil, fmt.Errorf("exec attach socket: %w", err)
		}
		return m, nil
	}
	if m.pid, err = readSync(m.sync); err != nil {
		m.close()
		return nil, err
	}
	m.created = time.Now()
	return m, nil
}

// moveMonitor writes the monitor daemon's PID into each cgroup.procs file
// in the background; the channel closes when done.
func (r *Runtime) moveMonitor(m *monitor, procs []string) <-chan struct{} {
	done := make(chan struct{})
	if m.conmonPID <= 0 || len(procs) == 0 {
		close(done)
		return done
	}
	pid := []byte(strconv.Itoa(m.conmonPID))
	go func() {
		defer close(done)
		for _, f := range procs {
			if err := os.WriteFile(f, pid, 0o644); err != nil {
				r.log.Debug("move conmon into its cgroup", "file", f, "err", err)
			}
		}
		m.moved = time.Now()
	}()
	return done
}

// monitorPipes makes the sync and start pipes (and the attach pipe for an
// exec session): the monitor's ends, and the child's ends for fds 3, 4, 5.
func monitorPipes(exec bool) (*monitor, []*os.File, error) {
	n := 2
	if exec {
		n = 3
	}
	var r, w [3]*os.File
	for i := range n {
		var err error
		if r[i], w[i], err = os.Pipe(); err != nil {
			closeAll(r[:i])
			closeAll(w[:i])
			return nil, nil, fmt.Errorf("conmon pipes: %w", err)
		}
	}
	// conmon writes sync (3) and attach (5), and reads start (4).
	m := &monitor{sync: bufio.NewReader(r[0]), syncFile: r[0], start: w[1], attach: r[2]}
	child := []*os.File{w[0], r[1]}
	if exec {
		child = append(child, w[2])
	}
	return m, child, nil
}

func (r *Runtime) conmonArgs(s *monitorSpec) []string {
	args := []string{"--api-version", "1", "-c", s.containerID, "-u", s.uuid, "-n", s.name,
		"-r", r.cfg.RuntimePath, "--runtime-arg", "--root=" + r.runtimeRoot(),
		"-b", s.bundle, "-p", filepath.Join(s.bundle, "pidfile"), "-P", filepath.Join(s.bundle, "conmon.pid"),
		"--exit-dir", s.exitDir, "--socket-dir-path", r.socketDir(), "--log-level", "error",
		// No fsync of the log before the exit file is written (it delayed
		// every exit report by a disk flush); as with containerd, a
		// container's last lines may be lost in a power cut, not in a
		// restart of kserver.
		"--no-sync-log"}
	if s.logPath != "" {
		args = append(args, "-l", "k8s-file:"+s.logPath)
	} else {
		args = append(args, "-l", "none")
	}
	if s.tty {
		args = append(args, "-t")
	}
	if s.stdin {
		args = append(args, "-i")
		if s.leaveStdin {
			args = append(args, "--leave-stdin-open")
		}
	}
	if s.execSpec != "" {
		args = append(args, "-e", "--exec-attach", "--exec-process-spec", s.execSpec)
	}
	return args
}

// syncMessage is a line conmon writes on the sync and attach pipes.
type syncMessage struct {
	Data    int    `json:"data"`
	Message string `json:"message"`
}

// readSync reads one message: a PID or exit code, or the runtime's error.
func readSync(r *bufio.Reader) (int, error) {
	line, err := r.ReadBytes('\n')
	if len(line) == 0 && err != nil {
		return 0, errors.New("conmon exited without reporting (see conmon.stderr in the bundle)")
	}
	var m syncMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return 0, fmt.Errorf("conmon sent %q: %w", line, err)
	}
	if m.Data < 0 {
		msg := strings.TrimSpace(m.Message)
		if msg == "" {
			msg = "the OCI runtime failed without a message"
		}
		return 0, errors.New(msg)
	}
	return m.Data, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

package oci

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"kserver.dev/kserver/internal/runtime"
)

// adopt rebuilds the in-memory view from the records a previous process
// left and the OCI runtime's own list, following the decision table of
// the runtime notes:
//
//   - running, monitor alive           → adopted as Running;
//   - exit file present                → Exited with its code;
//   - running, monitor gone, no exit   → killed, Exited 255 Unknown;
//   - running but unknown to the OCI runtime and no exit file (the machine
//     rebooted) → Exited 255 Unknown;
//   - created                          → stays Created (a half-done start
//     is deleted from the OCI runtime so it can be started again);
//   - known to the OCI runtime without a record, or a directory without a
//     record → deleted.
func (r *Runtime) adopt(ctx context.Context) error {
	sbs, cs, orphans, loadErr := r.loadRecords()
	if loadErr != nil {
		r.log.Warn("unreadable runtime records skipped", "err", loadErr)
	}
	states, err := r.list(ctx)
	if err != nil {
		return err
	}
	for _, dir := range orphans {
		r.removeOrphanDir(dir)
	}
	for _, rec := range sbs {
		if rec.State == runtime.SandboxReady && !sandboxIntact(rec) {
			rec.State = runtime.SandboxNotReady
			_ = r.saveSandbox(rec)
		}
		r.sandboxes[rec.ID] = &sandbox{rec: *rec}
	}
	for _, rec := range cs {
		if r.sandboxes[rec.SandboxID] == nil {
			// Its sandbox was removed but the process died before this
			// container was: finish the removal.
			_, _ = r.cli(ctx, "delete", "--force", rec.ID)
			_ = r.removeBundle(rec)
			continue
		}
		c := &container{rec: *rec}
		r.containers[rec.ID] = c
		_, known := states[rec.ID]
		delete(states, rec.ID)
		switch rec.State {
		case runtime.StateCreated:
			if known {
				_, _ = r.cli(ctx, "delete", "--force", rec.ID)
			}
			if rec.MonitorPID != 0 {
				// Prepared but never started: its conmon ends with the
				// deleted process; a start launches a new one.
				waitGone(ctx, rec.MonitorPID, rec.MonitorStart, 2*time.Second)
				_ = os.Remove(r.exitFile(rec.ID))
				c.rec.PID, c.rec.MonitorPID, c.rec.MonitorStart = 0, 0, 0
				_ = r.saveContainer(&c.rec)
			}
		case runtime.StateRunning:
			c.done = make(chan struct{})
			_, exitErr := os.Stat(r.exitFile(rec.ID))
			if !known && exitErr != nil {
				r.finishLocked(c, 255, runtime.ReasonUnknown,
					"the container's state was lost (the machine restarted, or the runtime state was removed)", rec.Started)
				continue
			}
			r.refreshLocked(c)
		}
	}
	for id := range states {
		r.log.Info("removing a container without a record", "container", id)
		_, _ = r.cli(ctx, "delete", "--force", id)
	}
	r.removeStaleNamespaces()
	return nil
}

// sandboxIntact reports whether the namespaces a sandbox pinned are still
// mounted (they are not after a reboot) and a supplied one still exists.
func sandboxIntact(rec *sandboxRecord) bool {
	for _, p := range []string{rec.IPCNS, rec.UTSNS} {
		if p != "" && !pinned(p) {
			return false
		}
	}
	if rec.NetNS != "" {
		if rec.OwnNetNS {
			return pinned(rec.NetNS)
		}
		if _, err := os.Stat(rec.NetNS); err != nil {
			return false
		}
	}
	return true
}

// removeOrphanDir removes a sandbox or bundle directory that has no
// record (a creation interrupted before its record was written).
func (r *Runtime) removeOrphanDir(dir string) {
	for _, m := range []string{"shm", "rootfs"} {
		_ = unix.Unmount(filepath.Join(dir, m), unix.MNT_DETACH)
	}
	if err := os.RemoveAll(dir); err != nil {
		r.log.Warn("remove leftover directory", "dir", dir, "err", err)
	}
}

// removeStaleNamespaces unpins namespaces of sandboxes that have no record.
func (r *Runtime) removeStaleNamespaces() {
	entries, err := os.ReadDir(filepath.Join(r.cfg.RunDir, "ns"))
	if err != nil {
		return
	}
	for _, e := range entries {
		if r.sandboxes[e.Name()] != nil {
			continue
		}
		dir := filepath.Join(r.cfg.RunDir, "ns", e.Name())
		var errs []error
		for _, k := range []string{"ipc", "uts", "net"} {
			errs = append(errs, unpin(filepath.Join(dir, k)))
		}
		errs = append(errs, os.Remove(dir))
		if err := errors.Join(errs...); err != nil {
			r.log.Warn("remove leftover namespaces", "dir", dir, "err", err)
		}
	}
}

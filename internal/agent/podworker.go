package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/runtime"
)

// podWorkers holds one worker per pod the node runs (or still has to tear
// down). A worker has no goroutine of its own: enqueue starts one when the
// pod has work and it ends when the work is done, so syncs of one pod never
// overlap and an idle pod costs only its struct and, at most, one timer.
type podWorkers struct {
	a *Agent

	mu        sync.Mutex
	ctx       context.Context // set by start
	started   bool
	stopped   bool
	workers   map[types.UID]*podWorker
	bySandbox map[string]types.UID
	running   sync.WaitGroup
}

// podWorker is what the agent knows about one pod between syncs.
type podWorker struct {
	ws  *podWorkers
	uid types.UID

	mu      sync.Mutex
	pod     *corev1.Pod // latest object; nil once deleted from the API
	lastPod *corev1.Pod // last object seen, for the teardown after deletion
	pending bool
	running bool
	done    bool
	timer   clock.Timer

	// The fields below belong to the sync goroutine (one at a time).
	known   []runtime.SandboxStatus // the pod's sandboxes found at start
	sandbox *runtime.SandboxStatus  // current sandbox
	ips     []netip.Addr
	attach  *pendingAttach // an attach running beside the current sync
	volumes PodVolumes
	// messages caches the termination messages of exited containers.
	messages  map[string]string
	startTime *metav1.Time
	probes    map[string]*containerProbes
	// attempts continues restart counts that the runtime no longer knows
	// (a reboot, a new sandbox): the next attempt of each container.
	attempts   map[string]uint32
	seeded     bool // attempts seeded from the API status
	killed     bool // containers stopped for termination
	terminated bool // sandbox stopped, final status written
	// conds are the pod conditions the last sync computed.
	conds []corev1.PodCondition
	// trace times the pod's first start (debug log); nil once logged.
	trace *startTrace
}

func newPodWorkers(a *Agent) *podWorkers {
	return &podWorkers{a: a, workers: map[types.UID]*podWorker{}, bySandbox: map[string]types.UID{}}
}

// update records the newest object of a pod and syncs it.
func (p *podWorkers) update(pod *corev1.Pod) {
	p.mu.Lock()
	w := p.workers[pod.UID]
	if w == nil {
		w = &podWorker{ws: p, uid: pod.UID, probes: map[string]*containerProbes{}, attempts: map[string]uint32{}}
		if p.a.log.Enabled(context.Background(), slog.LevelDebug) {
			w.trace = newStartTrace(p.a.clock.Now())
		}
		p.workers[pod.UID] = w
	}
	started := p.started
	p.mu.Unlock()
	w.mu.Lock()
	w.pod, w.lastPod = pod, pod
	w.mu.Unlock()
	if started {
		w.enqueue()
	}
}

// deleted records that a pod is gone from the API; its worker tears down
// what is left and ends.
func (p *podWorkers) deleted(pod *corev1.Pod) {
	p.mu.Lock()
	w := p.workers[pod.UID]
	started := p.started
	p.mu.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.pod = nil
	w.mu.Unlock()
	if started {
		w.enqueue()
	}
}

// start adopts what the runtime runs: sandboxes of known pods go to their
// workers, sandboxes of pods the API no longer has get a worker that tears
// them down. Then every worker syncs.
func (p *podWorkers) start(ctx context.Context) error {
	sandboxes, err := p.a.parts.Runtime.ListSandboxes(ctx)
	if err != nil {
		return fmt.Errorf("list sandboxes: %w", err)
	}
	for _, pod := range p.a.src.pods() {
		if !isMirrorPod(pod) {
			p.update(pod)
		}
	}
	p.mu.Lock()
	for _, sb := range sandboxes {
		uid := types.UID(sb.UID)
		w := p.workers[uid]
		if w == nil { // an orphan: the pod was deleted while the agent was away
			orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: sb.Name, Namespace: sb.Namespace, UID: uid}}
			w = &podWorker{ws: p, uid: uid, lastPod: orphan, probes: map[string]*containerProbes{}, attempts: map[string]uint32{}}
			p.workers[uid] = w
		}
		w.known = append(w.known, sb)
		p.bySandbox[sb.ID] = uid
	}
	p.ctx, p.started = ctx, true
	all := make([]*podWorker, 0, len(p.workers))
	for _, w := range p.workers {
		all = append(all, w)
	}
	p.mu.Unlock()
	for _, w := range all {
		w.enqueue()
	}
	p.a.log.Info("pod workers started", "pods", len(all), "sandboxes", len(sandboxes))
	return nil
}

// stop waits for running syncs and starts no more. Containers keep
// running: a restarted agent adopts them.
func (p *podWorkers) stop() {
	p.mu.Lock()
	p.stopped = true
	ws := make([]*podWorker, 0, len(p.workers))
	for _, w := range p.workers {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.setTimer(nil)
	}
	p.running.Wait()
}

// sandboxChanged syncs the pod owning a sandbox (runtime events).
func (p *podWorkers) sandboxChanged(id string) {
	p.mu.Lock()
	w := p.workers[p.bySandbox[id]]
	p.mu.Unlock()
	if w != nil {
		w.enqueue()
	}
}

func (p *podWorkers) trackSandbox(id string, uid types.UID) {
	p.mu.Lock()
	p.bySandbox[id] = uid
	p.mu.Unlock()
}

func (p *podWorkers) forget(w *podWorker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.workers[w.uid] == w {
		delete(p.workers, w.uid)
	}
	for id, uid := range p.bySandbox {
		if uid == w.uid {
			delete(p.bySandbox, id)
		}
	}
}

// count is the number of pods with a worker (tests, metrics).
func (p *podWorkers) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.workers)
}

// enqueue asks for a sync; it starts the worker's goroutine if none runs.
func (w *podWorker) enqueue() {
	p := w.ws
	p.mu.Lock()
	if p.stopped || !p.started {
		p.mu.Unlock()
		return
	}
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		p.mu.Unlock()
		return
	}
	w.pending = true
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		p.running.Add(1)
	}
	ctx := p.ctx
	p.mu.Unlock()
	if start {
		go w.loop(ctx)
	}
}

// loop syncs while syncs are pending, then ends.
func (w *podWorker) loop(ctx context.Context) {
	defer w.ws.running.Done()
	for {
		w.mu.Lock()
		if !w.pending || ctx.Err() != nil {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.pending = false
		pod := w.pod
		w.mu.Unlock()
		next, finished := w.sync(ctx, pod)
		if finished {
			w.mu.Lock()
			w.done, w.running = true, false
			w.mu.Unlock()
			w.setTimer(nil)
			w.ws.forget(w)
			return
		}
		w.schedule(next)
	}
}

// schedule arms the worker's one timer for the next sync it needs (back-off
// expiry, probe due); zero means none. The clock is never called with the
// worker's lock held: a fake clock runs timer callbacks under its own lock.
func (w *podWorker) schedule(next time.Time) {
	c := w.ws.a.clock
	var t clock.Timer
	if !next.IsZero() {
		d := next.Sub(c.Now())
		if d <= 0 {
			w.setTimer(nil)
			w.enqueue()
			return
		}
		t = c.AfterFunc(d, w.enqueue)
	}
	w.setTimer(t)
}

// setTimer replaces the worker's timer, stopping the old one.
func (w *podWorker) setTimer(t clock.Timer) {
	w.mu.Lock()
	old := w.timer
	w.timer = t
	w.mu.Unlock()
	if old != nil {
		old.Stop()
	}
}

// idle reports whether no sync runs or waits (tests step a fake clock
// only when the workers have settled).
func (p *podWorkers) idle() bool {
	p.mu.Lock()
	ws := make([]*podWorker, 0, len(p.workers))
	for _, w := range p.workers {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		busy := w.running || w.pending
		w.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

// enqueueUID syncs one pod, if it has a worker.
func (p *podWorkers) enqueueUID(uid types.UID) {
	p.mu.Lock()
	w := p.workers[uid]
	p.mu.Unlock()
	if w != nil {
		w.enqueue()
	}
}

// enqueueAll syncs every pod (the pod network became ready).
func (p *podWorkers) enqueueAll() {
	p.mu.Lock()
	ws := make([]*podWorker, 0, len(p.workers))
	for _, w := range p.workers {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.enqueue()
	}
}

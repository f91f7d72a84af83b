package agent

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func running(p *corev1.Pod) bool {
	cs := containerState(p, "c")
	return p.Status.Phase == corev1.PodRunning && cs != nil && cs.State.Running != nil
}

func ready(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

func TestPodRunningAndReady(t *testing.T) {
	set := startAPI(t)
	startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	createPod(t, set, simPod("web", "n1", nil, corev1.RestartPolicyAlways))
	p := waitPod(t, set, "default", "web", "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })

	cs := containerState(p, "c")
	if !cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 {
		t.Errorf("container status %+v", cs)
	}
	if !strings.HasPrefix(cs.ContainerID, "sim://") || cs.Image != "docker.io/library/nginx:1.27" ||
		!strings.HasPrefix(cs.ImageID, "docker.io/library/nginx@sha256:") {
		t.Errorf("ids: container %q image %q imageID %q", cs.ContainerID, cs.Image, cs.ImageID)
	}
	ip, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil || !netip.MustParsePrefix("10.42.7.0/24").Contains(ip) || len(p.Status.PodIPs) != 1 {
		t.Errorf("pod IP %q %v", p.Status.PodIP, p.Status.PodIPs)
	}
	if p.Status.HostIP != "127.0.0.1" || len(p.Status.HostIPs) != 1 || p.Status.StartTime == nil {
		t.Errorf("host IP %q, start time %v", p.Status.HostIP, p.Status.StartTime)
	}
	if p.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("qosClass changed to %q", p.Status.QOSClass)
	}
	var types []string
	for _, c := range p.Status.Conditions {
		types = append(types, string(c.Type)+"="+string(c.Status))
	}
	if got := strings.Join(types, ","); got != "PodReadyToStartContainers=True,Initialized=True,Ready=True,ContainersReady=True,PodScheduled=True" {
		t.Errorf("conditions %s", got)
	}
	waitFor(t, "pod events", func() (bool, error) {
		evs := events(t, set, "default", "Pod", "web")
		return hasEvent(evs, "Pulling", `Pulling image "nginx:1.27"`) && hasEvent(evs, "Pulled", "") &&
			hasEvent(evs, "Created", "Created container: c") && hasEvent(evs, "Started", "Started container c"), nil
	})
	for _, e := range events(t, set, "default", "Pod", "web") {
		if e.InvolvedObject.FieldPath != "spec.containers{c}" || e.Source.Host != "n1" {
			t.Errorf("event %s: %+v %+v", e.Reason, e.InvolvedObject, e.Source)
		}
	}

	// A second pod of the same image finds it present.
	createPod(t, set, simPod("web2", "n1", nil, corev1.RestartPolicyAlways))
	waitPod(t, set, "default", "web2", "Running", running)
	waitFor(t, "image present event", func() (bool, error) {
		return hasEvent(events(t, set, "default", "Pod", "web2"), "Pulled", `Container image "nginx:1.27" already present on machine`), nil
	})
	p2, _ := set.Pods("default").Get(context.Background(), "web2", metav1.GetOptions{})
	if p2.Status.PodIP == p.Status.PodIP {
		t.Errorf("two pods share the address %s", p.Status.PodIP)
	}
}

func TestPodCompletes(t *testing.T) {
	set := startAPI(t)
	startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	createPod(t, set, simPod("job", "n1", map[string]string{"sim.kserver.dev/run-for": "200ms"}, corev1.RestartPolicyNever))
	p := waitPod(t, set, "default", "job", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	cs := containerState(p, "c")
	if cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" || cs.State.Terminated.ExitCode != 0 ||
		cs.Ready || *cs.Started || cs.State.Terminated.ContainerID != cs.ContainerID {
		t.Errorf("container status %+v", cs)
	}
	for typ, want := range map[corev1.PodConditionType]string{
		corev1.PodReady: "False/PodCompleted", corev1.ContainersReady: "False/PodCompleted",
		corev1.PodInitialized: "True/", corev1.PodReadyToStartContainers: "False/",
	} {
		c := podCondition(p, typ)
		if c == nil || string(c.Status)+"/"+c.Reason != want {
			t.Errorf("condition %s: %+v, want %s", typ, c, want)
		}
	}
}

func TestRestartPolicies(t *testing.T) {
	set := startAPI(t)
	startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	fail := map[string]string{"sim.kserver.dev/run-for": "100ms", "sim.kserver.dev/exit-code": "3"}
	createPod(t, set, simPod("never", "n1", fail, corev1.RestartPolicyNever))
	healing := map[string]string{"sim.kserver.dev/run-for": "100ms", "sim.kserver.dev/exit-code": "1", "sim.kserver.dev/fail-attempts": "1"}
	createPod(t, set, simPod("onfailure", "n1", healing, corev1.RestartPolicyOnFailure))
	createPod(t, set, simPod("onfailure-ok", "n1", map[string]string{"sim.kserver.dev/run-for": "100ms"}, corev1.RestartPolicyOnFailure))
	createPod(t, set, simPod("oom", "n1", map[string]string{"sim.kserver.dev/oom-after": "100ms"}, corev1.RestartPolicyNever))

	p := waitPod(t, set, "default", "never", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if cs := containerState(p, "c"); cs.State.Terminated == nil || cs.State.Terminated.Reason != "Error" ||
		cs.State.Terminated.ExitCode != 3 || cs.RestartCount != 0 {
		t.Errorf("never: %+v", cs)
	}
	// OnFailure: the failed first attempt is restarted at once (no back-off
	// yet) and the healed second one keeps running; an exit 0 is final.
	p = waitPod(t, set, "default", "onfailure", "restarted", func(p *corev1.Pod) bool {
		cs := containerState(p, "c")
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	if cs := containerState(p, "c"); cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
		t.Errorf("onfailure: %+v", cs)
	}
	p = waitPod(t, set, "default", "onfailure-ok", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if cs := containerState(p, "c"); cs.RestartCount != 0 || cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" {
		t.Errorf("onfailure-ok: %+v", cs)
	}
	p = waitPod(t, set, "default", "oom", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if cs := containerState(p, "c"); cs.State.Terminated == nil || cs.State.Terminated.Reason != "OOMKilled" || cs.State.Terminated.ExitCode != 137 {
		t.Errorf("oom: %+v", cs)
	}
}

// The crash-loop back-off follows upstream's timings: restart at once,
// then after 10 s, 20 s, 40 s, … with CrashLoopBackOff in between.
func TestCrashLoopBackOff(t *testing.T) {
	set := startAPI(t)
	n := startNode(t, set, simConfig("n1", nil), true)
	waitNodeReady(t, set, "n1")
	crash := map[string]string{"sim.kserver.dev/run-for": "1s", "sim.kserver.dev/exit-code": "1"}
	createPod(t, set, simPod("crash", "n1", crash, corev1.RestartPolicyAlways))
	waitPod(t, set, "default", "crash", "first run", running)

	restarts := func(want int32) func(*corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cs := containerState(p, "c")
			return cs.RestartCount == want && cs.State.Running != nil
		}
	}
	backingOff := func(delay string) func(*corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cs := containerState(p, "c")
			return cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" &&
				strings.HasPrefix(cs.State.Waiting.Message, "back-off "+delay+" restarting failed container=c pod=crash_default(")
		}
	}
	n.clock.Step(time.Second) // exit 1: restarted at once
	waitPod(t, set, "default", "crash", "restart 1", restarts(1))
	n.clock.Step(time.Second) // exit 2: 10 s back-off
	p := waitPod(t, set, "default", "crash", "back-off 10s", backingOff("10s"))
	cs := containerState(p, "c")
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.Reason != "Error" || cs.Ready ||
		p.Status.Phase != corev1.PodRunning {
		t.Errorf("in back-off: phase %s, %+v", p.Status.Phase, cs)
	}
	n.clock.Step(9 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if p := waitPod(t, set, "default", "crash", "still backing off", backingOff("10s")); containerState(p, "c").RestartCount != 1 {
		t.Fatal("restarted before the back-off ended")
	}
	n.clock.Step(time.Second)
	waitPod(t, set, "default", "crash", "restart 2", restarts(2))
	n.clock.Step(time.Second)
	waitPod(t, set, "default", "crash", "back-off 20s", backingOff("20s"))
	n.clock.Step(20 * time.Second)
	waitPod(t, set, "default", "crash", "restart 3", restarts(3))
	n.clock.Step(time.Second)
	waitPod(t, set, "default", "crash", "back-off 40s", backingOff("40s"))
	waitFor(t, "BackOff event", func() (bool, error) {
		evs := events(t, set, "default", "Pod", "crash")
		return hasEvent(evs, "BackOff", "Back-off restarting failed container c in pod crash_default("+string(p.UID)+")"), nil
	})
}

func TestBackoffCapAndReset(t *testing.T) {
	set := startAPI(t)
	n := startNode(t, set, simConfig("n1", nil), true)
	b := n.a.backoff
	start := n.clock.Now()
	var delays []time.Duration
	for range 7 {
		exited := n.clock.Now()
		if in, _, until := b.inBackOff("k", exited); in {
			n.clock.SetTime(until)
		}
		b.next("k", exited)
		_, d, _ := b.inBackOff("k", n.clock.Now())
		delays = append(delays, d)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
		300 * time.Second, 300 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v (from %s)", delays, want, start)
		}
	}
	// A container that ran for more than 10 minutes starts over at 10 s.
	n.clock.Step(11 * time.Minute)
	b.next("k", n.clock.Now())
	if _, d, _ := b.inBackOff("k", n.clock.Now()); d != 10*time.Second {
		t.Errorf("after 11 min of running the delay is %s", d)
	}
	_ = set
}

func TestGracefulDeletion(t *testing.T) {
	set := startAPI(t)
	n := startNode(t, set, simConfig("n1", nil), true)
	waitNodeReady(t, set, "n1")
	ctx := context.Background()
	p := simPod("stubborn", "n1", map[string]string{"sim.kserver.dev/ignore-term": "true"}, corev1.RestartPolicyAlways)
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	createPod(t, set, p)
	createPod(t, set, simPod("polite", "n1", nil, corev1.RestartPolicyAlways))
	waitPod(t, set, "default", "stubborn", "Running", running)
	waitPod(t, set, "default", "polite", "Running", running)

	for _, name := range []string{"stubborn", "polite"} {
		if err := set.Pods("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(name string) func() (bool, error) {
		return func() (bool, error) {
			_, err := set.Pods("default").Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}
	}
	// The polite container exits on SIGTERM: the pod goes at once.
	waitFor(t, "polite pod deleted", gone("polite"))
	// The stubborn one is killed only when its 30 s are up.
	time.Sleep(200 * time.Millisecond)
	if ok, _ := gone("stubborn")(); ok {
		t.Fatal("pod deleted before its grace period ended")
	}
	waitFor(t, "stop timer armed", func() (bool, error) { return n.clock.HasWaiters(), nil })
	n.clock.Step(30 * time.Second)
	waitFor(t, "stubborn pod deleted", gone("stubborn"))
	waitFor(t, "Killing event", func() (bool, error) {
		return hasEvent(events(t, set, "default", "Pod", "stubborn"), "Killing", "Stopping container c"), nil
	})
	waitFor(t, "sandboxes removed", func() (bool, error) {
		sbs, err := n.rt.ListSandboxes(ctx)
		return err == nil && len(sbs) == 0 && n.a.workers.count() == 0, err
	})
}

func TestInitContainers(t *testing.T) {
	set := startAPI(t)
	startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	p := simPod("init", "n1", map[string]string{"sim.kserver.dev/run-for.setup": "300ms"}, corev1.RestartPolicyAlways)
	p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox:1.36"}}
	createPod(t, set, p)
	p = waitPod(t, set, "default", "init", "initializing", func(p *corev1.Pod) bool {
		return len(p.Status.InitContainerStatuses) == 1 && p.Status.InitContainerStatuses[0].State.Running != nil
	})
	if cs := containerState(p, "c"); cs == nil || cs.State.Waiting == nil || cs.State.Waiting.Reason != "PodInitializing" {
		t.Errorf("app container while initializing: %+v", cs)
	}
	if c := podCondition(p, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" ||
		c.Message != "containers with incomplete status: [setup]" {
		t.Errorf("Initialized: %+v", c)
	}
	p = waitPod(t, set, "default", "init", "Running", running)
	if ic := p.Status.InitContainerStatuses[0]; ic.State.Terminated == nil || ic.State.Terminated.Reason != "Completed" {
		t.Errorf("init container after init: %+v", ic)
	}
}

func TestProbes(t *testing.T) {
	set := startAPI(t)
	n := startNode(t, set, simConfig("n1", nil), true)
	waitNodeReady(t, set, "n1")
	p := simPod("probed", "n1", map[string]string{"sim.kserver.dev/ready-after": "15s", "sim.kserver.dev/liveness-fail-after": "60s"},
		corev1.RestartPolicyAlways)
	handler := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstrPort(80)}}
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: handler, PeriodSeconds: 10, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 1}
	p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: handler, PeriodSeconds: 10, FailureThreshold: 2, SuccessThreshold: 1, TimeoutSeconds: 1}
	createPod(t, set, p)
	p = waitPod(t, set, "default", "probed", "Running", running)
	if ready(p) || containerState(p, "c").Ready {
		t.Fatal("ready before the readiness probe passed")
	}
	if c := podCondition(p, corev1.PodReady); c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [c]" {
		t.Errorf("Ready condition %+v", c)
	}
	step := func(d time.Duration) {
		time.Sleep(20 * time.Millisecond)
		waitFor(t, "workers idle", func() (bool, error) { return n.a.workers.idle(), nil })
		n.clock.Step(d)
	}
	step(10 * time.Second) // probe at 10 s: not ready yet
	step(10 * time.Second) // probe at 20 s: ready
	waitPod(t, set, "default", "probed", "Ready", ready)
	waitFor(t, "Unhealthy readiness event", func() (bool, error) {
		return hasEvent(events(t, set, "default", "Pod", "probed"), "Unhealthy", "Readiness probe failed: the simulated container does not pass its Readiness probe"), nil
	})
	for range 5 { // liveness fails from 60 s on, twice in a row → restart
		step(10 * time.Second)
	}
	waitPod(t, set, "default", "probed", "restarted by liveness", func(p *corev1.Pod) bool {
		cs := containerState(p, "c")
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	waitFor(t, "Killing event", func() (bool, error) {
		return hasEvent(events(t, set, "default", "Pod", "probed"), "Killing", "Container c failed liveness probe, will be restarted"), nil
	})
}

// Restarting the agent adopts the running containers: same container,
// no restart, same address.
func TestAgentRestartKeepsPods(t *testing.T) {
	set := startAPI(t)
	cfg := simConfig("n1", nil)
	n := startNode(t, set, cfg, false)
	waitNodeReady(t, set, "n1")
	createPod(t, set, simPod("keep", "n1", nil, corev1.RestartPolicyAlways))
	before := waitPod(t, set, "default", "keep", "Running", running)
	n.stop()
	n.parts.Network = nil // a new process: the simulated IPAM starts empty
	n.run(t, set, cfg)
	time.Sleep(300 * time.Millisecond)
	createPod(t, set, simPod("after", "n1", nil, corev1.RestartPolicyAlways))
	waitPod(t, set, "default", "after", "Running", running) // the new agent works
	after := waitPod(t, set, "default", "keep", "Running", running)
	b, a := containerState(before, "c"), containerState(after, "c")
	if a.ContainerID != b.ContainerID || a.RestartCount != 0 || after.Status.PodIP != before.Status.PodIP {
		t.Errorf("pod changed over an agent restart: %s/%d/%s → %s/%d/%s",
			b.ContainerID, b.RestartCount, before.Status.PodIP, a.ContainerID, a.RestartCount, after.Status.PodIP)
	}
	sbs, _ := n.rt.ListSandboxes(context.Background())
	if len(sbs) != 2 {
		t.Errorf("%d sandboxes, want 2", len(sbs))
	}
}

func TestImagePullPolicyNever(t *testing.T) {
	set := startAPI(t)
	startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	p := simPod("never-pull", "n1", nil, corev1.RestartPolicyAlways)
	p.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	createPod(t, set, p)
	p = waitPod(t, set, "default", "never-pull", "ErrImageNeverPull", func(p *corev1.Pod) bool {
		cs := containerState(p, "c")
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == "ErrImageNeverPull"
	})
	if msg := containerState(p, "c").State.Waiting.Message; msg != `Container image "nginx:1.27" is not present with pull policy of Never` {
		t.Errorf("message %q", msg)
	}
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s", p.Status.Phase)
	}
}

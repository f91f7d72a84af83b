package agent

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/runtime"
)

// TestEphemeralContainer: an ephemeral container added to a running pod
// (what `kubectl debug` does) is started in the pod's sandbox, reported
// in ephemeralContainerStatuses (running, never ready), and after it exits
// it stays terminated — never restarted — while the app container runs on.
func TestEphemeralContainer(t *testing.T) {
	set := startAPI(t)
	n := startNode(t, set, simConfig("n1", nil), false)
	waitNodeReady(t, set, "n1")
	createPod(t, set, simPod("p", "n1", map[string]string{
		"sim.kserver.dev/run-for.dbg": "1s", "sim.kserver.dev/exit-code.dbg": "3"}, corev1.RestartPolicyAlways))
	waitPod(t, set, "default", "p", "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	patch := []byte(`{"spec":{"ephemeralContainers":[{"name":"dbg","image":"busybox","stdin":true,"tty":true}]}}`)
	if _, err := set.Pods("default").Patch(context.Background(), "p", types.StrategicMergePatchType, patch,
		metav1.PatchOptions{}, "ephemeralcontainers"); err != nil {
		t.Fatal(err)
	}
	running := waitPod(t, set, "default", "p", "ephemeral container running", func(p *corev1.Pod) bool {
		return len(p.Status.EphemeralContainerStatuses) == 1 && p.Status.EphemeralContainerStatuses[0].State.Running != nil
	})
	if st := running.Status.EphemeralContainerStatuses[0]; st.Name != "dbg" || st.Ready || st.ContainerID == "" {
		t.Errorf("running ephemeral status = %+v", st)
	}
	cs, err := n.rt.ListContainers(context.Background(), runtime.ContainerFilter{Name: "dbg"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("runtime containers named dbg: %v %v", cs, err)
	}
	done := waitPod(t, set, "default", "p", "ephemeral container exited", func(p *corev1.Pod) bool {
		return len(p.Status.EphemeralContainerStatuses) == 1 && p.Status.EphemeralContainerStatuses[0].State.Terminated != nil
	})
	st := done.Status.EphemeralContainerStatuses[0]
	if st.State.Terminated.ExitCode != 3 || st.RestartCount != 0 || done.Status.Phase != corev1.PodRunning ||
		done.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("after exit: ephemeral %+v, pod %s, app %+v", st, done.Status.Phase, done.Status.ContainerStatuses[0].State)
	}
	// Not restarted: one attempt, exited.
	cs, err = n.rt.ListContainers(context.Background(), runtime.ContainerFilter{Name: "dbg"})
	if err != nil || len(cs) != 1 || cs[0].State != runtime.StateExited {
		t.Errorf("runtime containers named dbg after exit: %+v %v", cs, err)
	}
}

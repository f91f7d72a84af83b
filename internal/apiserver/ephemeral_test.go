package apiserver

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestEphemeralContainersSubresource: what `kubectl debug` sends —
// a strategic merge patch of pods/ephemeralcontainers — adds a container
// and changes nothing else; existing ones cannot change or go, and the
// ephemeral rules are enforced.
func TestEphemeralContainersSubresource(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	pods := clientset(t, ts.admin).CoreV1().Pods("default")
	if _, err := pods.Create(ctx, testPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := func(body string) (*corev1.Pod, error) {
		return pods.Patch(ctx, "p", types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{}, "ephemeralcontainers")
	}
	got, err := patch(`{"spec":{"containers":[{"name":"c","image":"changed"}],"ephemeralContainers":[{"name":"dbg","image":"busybox","stdin":true,"tty":true}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.EphemeralContainers) != 1 || got.Spec.EphemeralContainers[0].Name != "dbg" ||
		got.Spec.EphemeralContainers[0].ImagePullPolicy != corev1.PullAlways || got.Spec.Containers[0].Image != "nginx" {
		t.Errorf("after adding dbg: ephemeral %+v, containers %+v", got.Spec.EphemeralContainers, got.Spec.Containers)
	}
	for body, want := range map[string]string{
		`{"spec":{"ephemeralContainers":[{"name":"dbg","image":"other"}]}}`:                                "existing ephemeral containers may not be changed",
		`{"spec":{"ephemeralContainers":[{"name":"c","image":"busybox"}]}}`:                                `Duplicate value: "c"`,
		`{"spec":{"ephemeralContainers":[{"name":"x","image":"busybox","ports":[{"containerPort":80}]}]}}`: "ports: Forbidden: cannot be set for an Ephemeral Container",
		`{"spec":{"ephemeralContainers":[{"name":"Bad_Name","image":"busybox"}]}}`:                         `name: Invalid value: "Bad_Name"`,
		`{"spec":{"ephemeralContainers":[{"name":"y"}]}}`:                                                  "image: Required value",
	} {
		_, err := patch(body)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("patch %s: %v, want 422 with %q", body, err, want)
		}
	}
	if _, err := pods.UpdateEphemeralContainers(ctx, "p", testPod("p", nil), metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), `existing ephemeral containers "dbg" may not be removed`) {
		t.Errorf("removing dbg: %v", err)
	}
}

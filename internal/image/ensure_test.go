package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
)

func reasons(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Reason)
	}
	return out
}

func pullError(t *testing.T, err error) *PullError {
	t.Helper()
	var pe *PullError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PullError", err)
	}
	return pe
}

func TestEnsurePullPolicies(t *testing.T) {
	reg := startRegistry(t, nil, false)
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "f", body: "x"}))
	ref := reg.host + "/app/web:1.0"
	reg.push(t, ref, img)
	s := newTestStore(t, nil)
	ctx := context.Background()

	// Never, absent.
	_, events, err := s.Ensure(ctx, EnsureRequest{Image: ref, PullPolicy: corev1.PullNever, PodUID: "u1"})
	pe := pullError(t, err)
	if pe.Reason != ReasonErrImageNeverPull || pe.Message != fmt.Sprintf("Container image %q is not present with pull policy of Never", ref) {
		t.Errorf("Never: %s %q", pe.Reason, pe.Message)
	}
	if !slices.Equal(reasons(events), []string{EventErrImageNeverPull, EventFailed}) || events[1].Message != "Error: ErrImageNeverPull" {
		t.Errorf("Never events: %+v", events)
	}

	// IfNotPresent, absent: pulls.
	before := reg.manifests.Load()
	im, events, err := s.Ensure(ctx, EnsureRequest{Image: ref, PullPolicy: corev1.PullIfNotPresent, PodUID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if reg.manifests.Load() == before || !slices.Equal(reasons(events), []string{EventPulling, EventPulled}) ||
		!strings.HasPrefix(events[1].Message, fmt.Sprintf("Successfully pulled image %q in ", ref)) ||
		!strings.HasSuffix(events[1].Message, fmt.Sprintf("Image size: %d bytes.", im.Size)) {
		t.Errorf("IfNotPresent pull events: %+v", events)
	}

	// IfNotPresent and Never, present: no registry traffic.
	for _, p := range []corev1.PullPolicy{corev1.PullIfNotPresent, corev1.PullNever} {
		before = reg.manifests.Load()
		got, events, err := s.Ensure(ctx, EnsureRequest{Image: ref, PullPolicy: p, PodUID: "u1"})
		if err != nil || got.ID != im.ID {
			t.Fatalf("%s present: %v", p, err)
		}
		if reg.manifests.Load() != before {
			t.Errorf("%s asked the registry although the image is present", p)
		}
		if want := fmt.Sprintf("Container image %q already present on machine", ref); len(events) != 1 || events[0].Message != want {
			t.Errorf("%s events: %+v", p, events)
		}
	}

	// Always: asks the registry again.
	before = reg.manifests.Load()
	if _, _, err := s.Ensure(ctx, EnsureRequest{Image: ref, PullPolicy: corev1.PullAlways, PodUID: "u1"}); err != nil {
		t.Fatal(err)
	}
	if reg.manifests.Load() == before {
		t.Error("Always did not ask the registry")
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for img, want := range map[string]corev1.PullPolicy{
		"busybox":                 corev1.PullAlways,
		"busybox:latest":          corev1.PullAlways,
		"luksa/kubia:v1":          corev1.PullIfNotPresent,
		"busybox@sha256:" + hex64: corev1.PullIfNotPresent,
	} {
		if got := DefaultPullPolicy(img); got != want {
			t.Errorf("DefaultPullPolicy(%s) = %s, want %s", img, got, want)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestEnsureInvalidName(t *testing.T) {
	s := newTestStore(t, nil)
	_, events, err := s.Ensure(context.Background(), EnsureRequest{Image: "Busybox", PodUID: "u"})
	pe := pullError(t, err)
	want := `Failed to apply default image tag "Busybox": couldn't parse image name "Busybox": invalid reference format: repository name (library/Busybox) must be lowercase`
	if pe.Reason != ReasonInvalidImageName || pe.Message != want {
		t.Errorf("got %s %q\nwant InvalidImageName %q", pe.Reason, pe.Message, want)
	}
	if !errors.Is(err, ErrInvalidName) {
		t.Error("error does not match ErrInvalidName")
	}
	if !slices.Equal(reasons(events), []string{EventInspectFailed, EventFailed}) {
		t.Errorf("events: %+v", events)
	}
}

func TestEnsureBackOff(t *testing.T) {
	reg := startRegistry(t, nil, false)
	clock := newFakeClock()
	s := newTestStore(t, func(c *Config) { c.Now = clock.Now })
	ctx := context.Background()
	ref := reg.host + "/missing/app:v1"
	req := EnsureRequest{Image: ref, PullPolicy: corev1.PullIfNotPresent, PodUID: "pod-a"}

	_, events, err := s.Ensure(ctx, req)
	pe := pullError(t, err)
	wantMsg := fmt.Sprintf("failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", ref, ref, ref)
	if pe.Reason != ReasonErrImagePull || pe.Message != wantMsg {
		t.Fatalf("first failure: %s %q", pe.Reason, pe.Message)
	}
	if !slices.Equal(reasons(events), []string{EventPulling, EventFailed, EventFailed}) ||
		events[1].Message != fmt.Sprintf("Failed to pull image %q: %s", ref, wantMsg) || events[2].Message != "Error: ErrImagePull" {
		t.Errorf("events: %+v", events)
	}

	// Inside the 10s back-off: no pull, ImagePullBackOff with the last error.
	before := reg.manifests.Load()
	clock.Advance(9 * time.Second)
	_, events, err = s.Ensure(ctx, req)
	pe = pullError(t, err)
	if want := fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", ref, wantMsg); pe.Reason != ReasonImagePullBackOff || pe.Message != want {
		t.Errorf("in back-off: %s %q", pe.Reason, pe.Message)
	}
	if !slices.Equal(reasons(events), []string{EventBackOff, EventFailed}) || events[0].Message != fmt.Sprintf("Back-off pulling image %q", ref) {
		t.Errorf("back-off events: %+v", events)
	}
	if reg.manifests.Load() != before {
		t.Error("pulled during back-off")
	}
	// Another pod is not held back by this pod's back-off.
	if _, _, err := s.Ensure(ctx, EnsureRequest{Image: ref, PodUID: "pod-b", PullPolicy: corev1.PullIfNotPresent}); Reason(err) != ReasonErrImagePull {
		t.Errorf("other pod: %v", err)
	}
	// After 10s it pulls again; the next back-off is 20s.
	clock.Advance(2 * time.Second)
	if _, _, err := s.Ensure(ctx, req); Reason(err) != ReasonErrImagePull {
		t.Errorf("after 11s: %v", err)
	}
	clock.Advance(19 * time.Second)
	if _, _, err := s.Ensure(ctx, req); Reason(err) != ReasonImagePullBackOff {
		t.Errorf("19s into the 20s back-off: %v", err)
	}
	// Once the image exists, the same pod gets it at once.
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "late"}))
	reg.push(t, ref, img)
	clock.Advance(2 * time.Second)
	if _, _, err := s.Ensure(ctx, req); err != nil {
		t.Errorf("after the back-off with the image pushed: %v", err)
	}
}

func TestBackOffDoublesUpToMax(t *testing.T) {
	clock := newFakeClock()
	b := NewBackOff(clock.Now)
	var got []time.Duration
	for range 7 {
		b.Next("k", "boom")
		got = append(got, b.Delay("k"))
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("delays = %v, want %v", got, want)
	}
	// Quiet for more than twice the maximum: forgotten, starts over.
	clock.Advance(601 * time.Second)
	if in, _ := b.InBackOff("k"); in {
		t.Error("still in back-off after 10 quiet minutes")
	}
	b.Next("k", "boom")
	if b.Delay("k") != 10*time.Second {
		t.Errorf("delay after a quiet period = %v, want 10s", b.Delay("k"))
	}
	b.GC()
	clock.Advance(601 * time.Second)
	b.GC()
	if b.Delay("k") != 0 {
		t.Error("GC kept an expired entry")
	}
}

func TestEnsureAlwaysFallsBackOfflineOnly(t *testing.T) {
	reg := startRegistry(t, nil, false)
	img := imageOf(t, linuxAMD64, v1.Config{}, layerOf(t, file{name: "f", body: "x"}))
	ref := reg.host + "/demo/app:latest"
	reg.push(t, ref, img)
	ctx := context.Background()
	for _, fallback := range []bool{true, false} {
		s := newTestStore(t, func(c *Config) { c.OfflineFallback = fallback })
		req := EnsureRequest{Image: ref, PullPolicy: corev1.PullAlways, PodUID: "p"}
		if _, _, err := s.Ensure(ctx, req); err != nil {
			t.Fatal(err)
		}
		// The registry answers but does not have the tag: no fallback,
		// although a local copy exists.
		reg2 := startRegistry(t, nil, false)
		gone := reg2.host + "/demo/app:latest"
		archive := t.TempDir() + "/gone.tar"
		dockerSave(t, archive, map[string]v1.Image{gone: img})
		if _, err := s.Import(ctx, archive); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Ensure(ctx, EnsureRequest{Image: gone, PullPolicy: corev1.PullAlways, PodUID: "p"}); Reason(err) != ReasonErrImagePull {
			t.Errorf("fallback=%v, tag deleted upstream: %v", fallback, err)
		}
	}
	reg.srv.Close()
	for _, fallback := range []bool{true, false} {
		s := newTestStore(t, func(c *Config) { c.OfflineFallback = fallback })
		archive := t.TempDir() + "/app.tar"
		dockerSave(t, archive, map[string]v1.Image{ref: img})
		if _, err := s.Import(ctx, archive); err != nil {
			t.Fatal(err)
		}
		im, events, err := s.Ensure(ctx, EnsureRequest{Image: ref, PullPolicy: corev1.PullAlways, PodUID: "p"})
		switch {
		case fallback && (err != nil || im.ID != mustDigest(t, img.ConfigName)):
			t.Errorf("offline with a local copy: %v", err)
		case fallback && !strings.Contains(events[len(events)-1].Message, "the registry is unreachable, so the local image is used"):
			t.Errorf("events %+v", events)
		case !fallback && Reason(err) != ReasonErrImagePull:
			t.Errorf("fallback disabled: %v, want ErrImagePull as upstream", err)
		}
	}
}

package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

func mustResource(t *testing.T, group, version, resource string) *Resource {
	t.Helper()
	r, ok := New().Lookup(schema.GroupVersionResource{Group: group, Version: version, Resource: resource})
	if !ok {
		t.Fatalf("%s/%s %s not served", group, version, resource)
	}
	return r
}

// createAs runs what the handlers run on create: defaulting, then
// prepare-for-create, and returns the object as kubectl -o yaml shows its
// given part.
func createAs(t *testing.T, res *Resource, obj runtime.Object) {
	t.Helper()
	res.Strategy.Default(obj)
	res.Strategy.PrepareForCreate(context.Background(), obj)
}

func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPodDefaultsAsKubectlRun(t *testing.T) {
	res := mustResource(t, "", "v1", "pods")
	// kubectl run nginx --image=nginx (before the ServiceAccount and
	// Priority admission plugins, which need cluster state).
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", Labels: map[string]string{"run": "nginx"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
	}
	createAs(t, res, pod)
	want := `containers:
- image: nginx
  imagePullPolicy: Always
  name: nginx
  resources: {}
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
dnsPolicy: ClusterFirst
enableServiceLinks: true
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
terminationGracePeriodSeconds: 30
tolerations:
- effect: NoExecute
  key: node.kubernetes.io/not-ready
  operator: Exists
  tolerationSeconds: 300
- effect: NoExecute
  key: node.kubernetes.io/unreachable
  operator: Exists
  tolerationSeconds: 300
`
	if got := toYAML(t, pod.Spec); got != want {
		t.Errorf("spec:\n%s\nwant:\n%s", got, want)
	}
	if got := toYAML(t, pod.Status); got != "phase: Pending\nqosClass: BestEffort\n" {
		t.Errorf("status: %s", got)
	}
	if pod.Generation != 1 {
		t.Errorf("generation %d, want 1", pod.Generation)
	}
}

func TestPodContainerDefaults(t *testing.T) {
	res := mustResource(t, "", "v1", "pods")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: "a", Image: "registry.local:5000/app:1.2",
				Ports:          []corev1.ContainerPort{{ContainerPort: 80}},
				LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intOrStr(80)}}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, PeriodSeconds: 5},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
			}, {
				Name: "b", Image: "busybox@sha256:abcd",
			}},
			Volumes: []corev1.Volume{{Name: "v"}, {Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}}},
		},
	}
	createAs(t, res, pod)
	a := pod.Spec.Containers[0]
	if a.ImagePullPolicy != corev1.PullIfNotPresent || pod.Spec.Containers[1].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pull policies %q %q", a.ImagePullPolicy, pod.Spec.Containers[1].ImagePullPolicy)
	}
	wantA := `image: registry.local:5000/app:1.2
imagePullPolicy: IfNotPresent
livenessProbe:
  failureThreshold: 3
  httpGet:
    path: /
    port: 80
    scheme: HTTP
  periodSeconds: 10
  successThreshold: 1
  timeoutSeconds: 1
name: a
ports:
- containerPort: 80
  protocol: TCP
readinessProbe:
  failureThreshold: 3
  grpc:
    port: 9000
    service: ""
  periodSeconds: 5
  successThreshold: 1
  timeoutSeconds: 1
resources:
  limits:
    cpu: 500m
    memory: 128Mi
  requests:
    cpu: 500m
    memory: 128Mi
terminationMessagePath: /dev/termination-log
terminationMessagePolicy: File
`
	if got := toYAML(t, a); got != wantA {
		t.Errorf("container:\n%s\nwant:\n%s", got, wantA)
	}
	if got := toYAML(t, pod.Spec.Volumes); got != "- emptyDir: {}\n  name: v\n- name: s\n  secret:\n    defaultMode: 420\n    secretName: x\n" {
		t.Errorf("volumes:\n%s", got)
	}
	// A toleration of everything already tolerates not-ready/unreachable.
	if len(pod.Spec.Tolerations) != 1 {
		t.Errorf("tolerations %v", pod.Spec.Tolerations)
	}
	// Limits set on one container only: Burstable.
	if pod.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qos %s", pod.Status.QOSClass)
	}
}

func intOrStr(i int) intstr.IntOrString { return intstr.FromInt32(int32(i)) }

func TestPodQOS(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	for _, tc := range []struct {
		name string
		res  []corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"nothing", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort},
		{"limits equal requests", []corev1.ResourceRequirements{{Limits: rl("1", "1Gi"), Requests: rl("1", "1Gi")}}, corev1.PodQOSGuaranteed},
		{"request below limit", []corev1.ResourceRequirements{{Limits: rl("1", "1Gi"), Requests: rl("500m", "1Gi")}}, corev1.PodQOSBurstable},
		{"cpu limit only", []corev1.ResourceRequirements{{Limits: rl("1", ""), Requests: rl("1", "")}}, corev1.PodQOSBurstable},
		{"one of two limited", []corev1.ResourceRequirements{{Limits: rl("1", "1Gi"), Requests: rl("1", "1Gi")}, {}}, corev1.PodQOSBurstable},
		{"zero requests ignored", []corev1.ResourceRequirements{{Requests: rl("0", "0")}}, corev1.PodQOSBestEffort},
	} {
		pod := &corev1.Pod{}
		for _, r := range tc.res {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Resources: r})
		}
		if got := podQOS(pod); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPodValidation(t *testing.T) {
	res := mustResource(t, "", "v1", "pods")
	valid := func() *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
		res.Strategy.Default(p)
		return p
	}
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string // ToAggregate lines, as in upstream's 422 message
	}{
		{"valid", func(p *corev1.Pod) {}, nil},
		{"bad name", func(p *corev1.Pod) { p.Name = "Web_1" },
			[]string{`metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, []string{"spec.containers: Required value"}},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{"spec.containers[0].image: Required value"}},
		{"bad restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"port out of range", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"request above limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}, Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
		}, []string{`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`}},
		{"mount of missing volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, []string{`spec.containers[0].volumeMounts[0].name: Not found: "data"`}},
		{"probe without handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
		}, []string{"spec.containers[0].livenessProbe: Required value: must specify a handler type"}},
		{"duplicate container", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) },
			[]string{`spec.containers[1].name: Duplicate value: "c"`}},
		{"cluster-scoped namespace missing", func(p *corev1.Pod) { p.Namespace = "" }, []string{"metadata.namespace: Required value"}},
	} {
		p := valid()
		tc.mutate(p)
		errs := res.Strategy.Validate(context.Background(), p)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestPodUpdate(t *testing.T) {
	res := mustResource(t, "", "v1", "pods")
	ctx := context.Background()
	old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "5"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}}}
	createAs(t, res, old)
	old.Status.Phase = corev1.PodRunning

	img := old.DeepCopy()
	img.Spec.Containers[0].Image = "nginx:2"
	img.Status = corev1.PodStatus{}
	res.Strategy.PrepareForUpdate(ctx, img, old)
	if errs := res.Strategy.ValidateUpdate(ctx, img, old); len(errs) != 0 {
		t.Errorf("image update refused: %v", errs)
	}
	if img.Generation != 2 || img.Status.Phase != corev1.PodRunning {
		t.Errorf("after image update: generation %d phase %q", img.Generation, img.Status.Phase)
	}

	labels := old.DeepCopy()
	labels.Labels = map[string]string{"a": "b"}
	res.Strategy.PrepareForUpdate(ctx, labels, old)
	if labels.Generation != 1 {
		t.Errorf("metadata-only update bumped generation to %d", labels.Generation)
	}

	bad := old.DeepCopy()
	bad.Spec.RestartPolicy = corev1.RestartPolicyNever
	errs := res.Strategy.ValidateUpdate(ctx, bad, old)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`") {
		t.Errorf("spec change: %v", errs)
	}

	// pods/status changes status and metadata but the spec and owner
	// references, as upstream's podStatusStrategy.
	status := old.DeepCopy()
	status.Spec.NodeName = "sneaky"
	status.Labels = map[string]string{"x": "y"}
	status.OwnerReferences = []metav1.OwnerReference{{Name: "corrupt"}}
	status.Status.Phase = corev1.PodSucceeded
	res.Strategy.PrepareForStatusUpdate(ctx, status, old)
	if status.Spec.NodeName != "" || status.Labels["x"] != "y" || status.OwnerReferences != nil || status.Status.Phase != corev1.PodSucceeded {
		t.Errorf("status update: node %q labels %v owners %v phase %q", status.Spec.NodeName, status.Labels, status.OwnerReferences, status.Status.Phase)
	}
}

func TestPodWarnings(t *testing.T) {
	res := mustResource(t, "", "v1", "pods")
	p := &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: map[string]string{"beta.kubernetes.io/os": "linux"},
		TerminationGracePeriodSeconds: ptr.To[int64](-1)}}
	got := res.Strategy.Warnings(context.Background(), p, nil)
	want := []string{
		`spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use "kubernetes.io/os" instead`,
		"spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings %q", got)
	}
}

func TestPodTable(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	created := ago(61 * time.Minute)
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	always := corev1.ContainerRestartPolicyAlways
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want []any
	}{
		{"pending", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			[]any{"p", "0/1", "Pending", "0", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"running with restarts", corev1.Pod{
			Spec: corev1.PodSpec{NodeName: "n1", Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}},
				ContainerStatuses: []corev1.ContainerStatus{{Ready: true, State: running, RestartCount: 2,
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(5 * time.Minute)}}}}}},
			[]any{"p", "1/1", "Running", "2 (5m ago)", "61m", "10.42.0.5", "n1", "<none>", "<none>"}},
		{"crash loop", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{RestartCount: 12,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(30 * time.Second)}}}}}},
			[]any{"p", "0/1", "CrashLoopBackOff", "12 (30s ago)", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"init waiting", corev1.Pod{Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 2), Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}}},
			[]any{"p", "0/1", "Init:1/2", "0", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"init failed", corev1.Pod{Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}}},
			[]any{"p", "0/1", "Init:ExitCode:3", "0", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"sidecar counted", corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "s", RestartPolicy: &always}}, Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "s", Started: ptr.To(true), Ready: true, State: running}},
				ContainerStatuses:     []corev1.ContainerStatus{{Ready: true, State: running}}}},
			[]any{"p", "2/2", "Running", "0", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"completed", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}}},
			[]any{"p", "0/1", "Completed", "0", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &created},
			Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			[]any{"p", "0/1", "Terminating", "0", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"evicted", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}},
			[]any{"p", "0/1", "Evicted", "0", "61m", "<none>", "<none>", "<none>", "<none>"}},
		{"readiness gates", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1),
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "a"}, {ConditionType: "b"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, NominatedNodeName: "n2", Conditions: []corev1.PodCondition{{Type: "a", Status: corev1.ConditionTrue}}}},
			[]any{"p", "0/1", "Running", "0", "61m", "<none>", "<none>", "n2", "1/2"}},
	} {
		pod := tc.pod
		pod.Name = "p"
		pod.CreationTimestamp = created
		cells, err := podRow(&pod, now)
		if err != nil {
			t.Fatal(err)
		}
		if toYAML(t, cells) != toYAML(t, tc.want) {
			t.Errorf("%s: cells %q, want %q", tc.name, cells, tc.want)
		}
	}
	var names []string
	for _, c := range podColumns() {
		if c.Priority == 1 {
			names = append(names, "*"+c.Name)
		} else {
			names = append(names, c.Name)
		}
	}
	if got := strings.Join(names, ","); got != "Name,Ready,Status,Restarts,Age,*IP,*Node,*Nominated Node,*Readiness Gates" {
		t.Errorf("columns %s", got)
	}
}

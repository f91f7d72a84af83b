package apiserver

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func TestPriorityAdmission(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	pcs := cs.SchedulingV1().PriorityClasses()
	for name, value := range map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000} {
		pc, err := pcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil || pc.Value != value || pc.GlobalDefault || ptr.Deref(pc.PreemptionPolicy, "") != corev1.PreemptLowerPriority {
			t.Errorf("built-in %s: %v %+v", name, err, pc)
		}
	}
	pods := cs.CoreV1().Pods("default")
	p, err := pods.Create(ctx, testPod("plain", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(p.Spec.Priority, -1) != 0 || p.Spec.PriorityClassName != "" || ptr.Deref(p.Spec.PreemptionPolicy, "") != corev1.PreemptLowerPriority {
		t.Errorf("no class: priority %v class %q policy %v", p.Spec.Priority, p.Spec.PriorityClassName, p.Spec.PreemptionPolicy)
	}
	crit := testPod("crit", nil)
	crit.Spec.PriorityClassName = "system-cluster-critical"
	if p, err = pods.Create(ctx, crit, metav1.CreateOptions{}); err != nil || ptr.Deref(p.Spec.Priority, 0) != 2000000000 {
		t.Errorf("system class: %v %v", err, p.Spec.Priority)
	}
	unknown := testPod("unknown", nil)
	unknown.Spec.PriorityClassName = "nope"
	_, err = pods.Create(ctx, unknown, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "unknown" is forbidden: no PriorityClass with name nope was found` {
		t.Errorf("unknown class: %v", err)
	}
	never := corev1.PreemptNever
	if _, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, GlobalDefault: true, PreemptionPolicy: &never}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err = pods.Create(ctx, testPod("defaulted", nil), metav1.CreateOptions{}); err != nil ||
		p.Spec.PriorityClassName != "high" || ptr.Deref(p.Spec.Priority, 0) != 1000 || ptr.Deref(p.Spec.PreemptionPolicy, "") != never {
		t.Errorf("global default: %v %q %v %v", err, p.Spec.PriorityClassName, p.Spec.Priority, p.Spec.PreemptionPolicy)
	}
	wrong := testPod("wrong", nil)
	wrong.Spec.Priority = ptr.To[int32](5)
	_, err = pods.Create(ctx, wrong, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.HasSuffix(err.Error(), "the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name") {
		t.Errorf("client priority: %v", err)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Value: 5, GlobalDefault: true}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PriorityClass high is already marked as default. Only one default can exist") {
		t.Errorf("second default: %v", err)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 5}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "priority class names with 'system-' prefix are reserved for system use only") {
		t.Errorf("reserved name: %v", err)
	}
	err = pcs.Delete(ctx, "system-node-critical", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "this is a system priority class and cannot be deleted") {
		t.Errorf("delete system class: %v", err)
	}
}

func TestServiceAccountAdmission(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	pods := cs.CoreV1().Pods("default")
	pod := testPod("web", nil)
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
	// No serviceaccount controller: the default account is taken as given.
	p, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.ServiceAccountName != "default" || len(p.Spec.Volumes) != 1 {
		t.Fatalf("serviceAccountName %q volumes %+v", p.Spec.ServiceAccountName, p.Spec.Volumes)
	}
	v := p.Spec.Volumes[0]
	if !strings.HasPrefix(v.Name, "kube-api-access-") || len(v.Name) != len("kube-api-access-")+5 || v.Projected == nil || len(v.Projected.Sources) != 3 ||
		ptr.Deref(v.Projected.DefaultMode, 0) != 0o644 || v.Projected.Sources[0].ServiceAccountToken.Path != "token" ||
		ptr.Deref(v.Projected.Sources[0].ServiceAccountToken.ExpirationSeconds, 0) != 3607 ||
		v.Projected.Sources[1].ConfigMap.Name != "kube-root-ca.crt" || v.Projected.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("token volume = %+v", v)
	}
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != v.Name || !c.VolumeMounts[0].ReadOnly || c.VolumeMounts[0].MountPath != "/var/run/secrets/kubernetes.io/serviceaccount" {
			t.Errorf("container %s mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	off := testPod("off", nil)
	off.Spec.AutomountServiceAccountToken = ptr.To(false)
	if p, err := pods.Create(ctx, off, metav1.CreateOptions{}); err != nil || len(p.Spec.Volumes) != 0 || len(p.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("automount off: %v %+v", err, p.Spec)
	}
	robot := testPod("robot", nil)
	robot.Spec.ServiceAccountName = "robot"
	_, err = pods.Create(ctx, robot, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "robot" is forbidden: error looking up service account default/robot: serviceaccount "robot" not found` {
		t.Errorf("missing account: %v", err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}, AutomountServiceAccountToken: ptr.To(false)}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err := pods.Create(ctx, robot, metav1.CreateOptions{}); err != nil || len(p.Spec.Volumes) != 0 {
		t.Errorf("account without automount: %v %+v", err, p.Spec.Volumes)
	}
}

// With default accounts being made (kube-system has one), a pod waits a
// moment for its namespace's default account, then is refused.
func TestServiceAccountAdmissionWaitsForDefaultAccount(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	makeSA := func(ns string) {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}
	makeSA("kube-system")
	go func() {
		time.Sleep(300 * time.Millisecond)
		makeSA("default")
	}()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod created while the default account appears: %v", err)
	}
	start := time.Now()
	_, err := cs.CoreV1().Pods("kube-public").Create(ctx, testPod("p", nil), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "p" is forbidden: error looking up service account kube-public/default: serviceaccount "default" not found` {
		t.Errorf("no default account: %v", err)
	}
	if d := time.Since(start); d < defaultAccountWait {
		t.Errorf("refused after %v, before the wait", d)
	}
}

func TestLimitRangerAdmission(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	q := resource.MustParse
	_, err := cs.CoreV1().LimitRanges("default").Create(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{Type: corev1.LimitTypeContainer, Default: corev1.ResourceList{"cpu": q("500m")}, DefaultRequest: corev1.ResourceList{"cpu": q("100m")},
				Max: corev1.ResourceList{"cpu": q("1")}},
			{Type: corev1.LimitTypePersistentVolumeClaim, Min: corev1.ResourceList{"storage": q("1Gi")}},
		}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := cs.CoreV1().Pods("default")
	p, err := pods.Create(ctx, testPod("small", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Spec.Containers[0].Resources
	if r.Requests.Cpu().String() != "100m" || r.Limits.Cpu().String() != "500m" || p.Status.QOSClass != corev1.PodQOSBurstable ||
		p.Annotations["kubernetes.io/limit-ranger"] != "LimitRanger plugin set: cpu request for container c; cpu limit for container c" {
		t.Errorf("defaults: %+v %q %v", r, p.Annotations["kubernetes.io/limit-ranger"], p.Status.QOSClass)
	}
	big := testPod("big", nil)
	big.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"cpu": q("2")}
	_, err = pods.Create(ctx, big, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2` {
		t.Errorf("over max: %v", err)
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "tiny"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": q("100Mi")}}}}
	_, err = cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.HasSuffix(err.Error(), "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 100Mi") {
		t.Errorf("claim under min: %v", err)
	}
}

func testClaim(name string, class *string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
		StorageClassName: class, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": resource.MustParse("1Gi")}}}}
}

func TestStorageAdmission(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	for i, name := range []string{"old-default", "local-path", "plain"} {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "rancher.io/local-path"}
		if name != "plain" {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		if _, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			time.Sleep(1100 * time.Millisecond) // creation times have second resolution
		}
	}
	claims := cs.CoreV1().PersistentVolumeClaims("default")
	c, err := claims.Create(ctx, testClaim("data", nil), metav1.CreateOptions{})
	if err != nil || ptr.Deref(c.Spec.StorageClassName, "") != "local-path" || len(c.Finalizers) != 1 || c.Finalizers[0] != "kubernetes.io/pvc-protection" {
		t.Fatalf("default class and finalizer: %v %v %v", err, c.Spec.StorageClassName, c.Finalizers)
	}
	if c, err := claims.Create(ctx, testClaim("none", ptr.To("")), metav1.CreateOptions{}); err != nil || ptr.Deref(c.Spec.StorageClassName, "x") != "" {
		t.Errorf("explicit empty class: %v %v", err, c.Spec.StorageClassName)
	}
	// A claim in use by a pod stays until the pod is gone.
	pod := testPod("user", nil)
	pod.Spec.Volumes = []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := claims.Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := claims.Delete(ctx, "none", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, cs, "none")
	time.Sleep(200 * time.Millisecond)
	if c, err := claims.Get(ctx, "data", metav1.GetOptions{}); err != nil || c.DeletionTimestamp == nil {
		t.Fatalf("claim in use: %v %+v", err, c)
	}
	if err := cs.CoreV1().Pods("default").Delete(ctx, "user", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, cs, "data")

	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		Capacity: corev1.ResourceList{"storage": resource.MustParse("1Gi")}, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/pv1"}}}}
	got, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil || len(got.Finalizers) != 1 || got.Finalizers[0] != "kubernetes.io/pv-protection" {
		t.Fatalf("pv finalizer: %v %v", err, got.Finalizers)
	}
	if err := cs.CoreV1().PersistentVolumes().Delete(ctx, "pv1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cs.CoreV1().PersistentVolumes().Get(ctx, "pv1", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unbound pv not released: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitGone(t *testing.T, cs kubernetes.Interface, claim string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cs.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), claim, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("claim %s not released: %v", claim, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNewNodesAreTaintedNotReady(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	nodes := clientset(t, ts.admin).CoreV1().Nodes()
	n, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil || len(n.Spec.Taints) != 0 {
		t.Fatalf("without controllers: %v %v", err, n.Spec.Taints)
	}
	ts.SetLifecycleControllers(true)
	n, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{})
	if err != nil || len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "node.kubernetes.io/not-ready" || n.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Fatalf("with controllers: %v %v", err, n.Spec.Taints)
	}
}

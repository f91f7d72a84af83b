package statefulset_test

import (
	"fmt"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/statefulset"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	c *statefulset.Controller
}

func setup(t *testing.T) *fixture {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, statefulset.Component)
	t.Cleanup(b.Shutdown)
	f := &fixture{Env: env, c: statefulset.New(statefulset.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})}
	env.Start()
	return f
}

func newSet(name string, replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	lbl := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         name,
			PodManagementPolicy: policy,
			Selector:            &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.25",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

// step syncs the set once its cache holds the latest pods and set.
func (f *fixture) step(name string) *appsv1.StatefulSet {
	f.T.Helper()
	ss, err := f.Set.StatefulSets("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.Cached(f.Inf.StatefulSets(), ss)
	sel := labels.SelectorFromSet(labels.Set{"app": name})
	f.CachedCount(f.Inf.Pods(), "default", sel, len(f.Pods("default", sel)))
	for _, p := range f.Pods("default", sel) {
		f.Cached(f.Inf.Pods(), &p)
	}
	if err := f.c.Sync(f.Ctx, "default/"+name); err != nil {
		f.T.Fatalf("sync: %v", err)
	}
	ss, err = f.Set.StatefulSets("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	return ss
}

func (f *fixture) podNames(name string) []string {
	var out []string
	for _, p := range f.Pods("default", labels.SelectorFromSet(labels.Set{"app": name})) {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func (f *fixture) ready(name string) {
	f.T.Helper()
	p, err := f.Set.Pods("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.SetPodStatus(p, corev1.PodRunning, true)
}

func TestOrderedCreationScaleDownAndPartitionedUpdate(t *testing.T) {
	f := setup(t)
	if _, err := f.Set.StatefulSets("default").Create(f.Ctx, newSet("web", 3, appsv1.OrderedReadyPodManagement), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One pod at a time, each after the previous is Running and Ready.
	for i := 0; i < 3; i++ {
		f.step("web")
		f.step("web") // a second sync must not run ahead of readiness
		want := []string{}
		for j := 0; j <= i; j++ {
			want = append(want, fmt.Sprintf("web-%d", j))
		}
		if got := f.podNames("web"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after %d ready: pods %v, want %v", i, got, want)
		}
		f.ready(fmt.Sprintf("web-%d", i))
	}
	p, _ := f.Set.Pods("default").Get(f.Ctx, "web-1", metav1.GetOptions{})
	if p.Spec.Hostname != "web-1" || p.Spec.Subdomain != "web" || p.Labels[appsv1.StatefulSetPodNameLabel] != "web-1" ||
		p.Labels[appsv1.PodIndexLabel] != "1" || p.Labels[appsv1.ControllerRevisionHashLabelKey] == "" {
		t.Fatalf("pod identity: hostname %q subdomain %q labels %v", p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
	}
	// The claim's volume comes first; the API server's ServiceAccount
	// admission adds the token volume after it.
	if v := p.Spec.Volumes; len(v) == 0 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != "data-web-1" {
		t.Fatalf("pod volumes %+v", v)
	}
	pvc, err := f.Set.PersistentVolumeClaims("default").Get(f.Ctx, "data-web-1", metav1.GetOptions{})
	if err != nil || pvc.Labels["app"] != "web" {
		t.Fatalf("claim data-web-1: %v %v", pvc, err)
	}
	f.WaitEvent("default", "StatefulSet", "web", "Normal SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success")
	f.WaitEvent("default", "StatefulSet", "web", "Normal SuccessfulCreate create Pod web-2 in StatefulSet web successful")
	ss := f.step("web")
	st := ss.Status
	if st.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 ||
		st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision || st.ObservedGeneration != ss.Generation {
		t.Fatalf("status %+v", st)
	}
	firstRev := st.CurrentRevision

	// A new template with partition 1: web-2 then web-1 move, web-0 stays.
	ss.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	ss.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}}
	if _, err := f.Set.StatefulSets("default").Update(f.Ctx, ss, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, victim := range []string{"web-2", "web-1"} {
		f.step("web") // deletes the victim
		f.step("web") // recreates it from the update revision
		p, err := f.Set.Pods("default").Get(f.Ctx, victim, metav1.GetOptions{})
		if err != nil || p.Spec.Containers[0].Image != "nginx:1.26" {
			t.Fatalf("%s after update: %v %v", victim, p, err)
		}
		f.ready(victim)
	}
	ss = f.step("web")
	if p, _ := f.Set.Pods("default").Get(f.Ctx, "web-0", metav1.GetOptions{}); p.Spec.Containers[0].Image != "nginx:1.25" {
		t.Fatal("partition did not hold web-0 back")
	}
	st = ss.Status
	if st.UpdatedReplicas != 2 || st.CurrentReplicas != 1 || st.CurrentRevision != firstRev || st.UpdateRevision == firstRev {
		t.Fatalf("partitioned status %+v", st)
	}
	revs, _ := f.Set.ControllerRevisions("default").List(f.Ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if len(revs.Items) != 2 {
		t.Fatalf("want 2 controller revisions, got %d", len(revs.Items))
	}
	for _, r := range revs.Items {
		if (r.Name == firstRev) != (r.Revision == 1) || !metav1.IsControlledBy(&r, ss) {
			t.Fatalf("revision %s number %d owner %v", r.Name, r.Revision, r.OwnerReferences)
		}
	}

	// Scale down removes the highest ordinal first; claims stay.
	ss.Spec.Replicas = ptr.To[int32](1)
	if _, err := f.Set.StatefulSets("default").Update(f.Ctx, ss, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.step("web")
	if got := f.podNames("web"); fmt.Sprint(got) != "[web-0 web-1]" {
		t.Fatalf("after first scale-down step: %v", got)
	}
	f.WaitEvent("default", "StatefulSet", "web", "Normal SuccessfulDelete delete Pod web-2 in StatefulSet web successful")
	f.step("web")
	if got := f.podNames("web"); fmt.Sprint(got) != "[web-0]" {
		t.Fatalf("after scale-down: %v", got)
	}
	if _, err := f.Set.PersistentVolumeClaims("default").Get(f.Ctx, "data-web-2", metav1.GetOptions{}); err != nil {
		t.Fatalf("claim of a removed pod must be retained: %v", err)
	}
}

func TestParallelCreatesAllAtOnce(t *testing.T) {
	f := setup(t)
	if _, err := f.Set.StatefulSets("default").Create(f.Ctx, newSet("par", 3, appsv1.ParallelPodManagement), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.step("par")
	if got := f.podNames("par"); fmt.Sprint(got) != "[par-0 par-1 par-2]" {
		t.Fatalf("pods %v", got)
	}
}

func TestRetentionPolicyWhenScaled(t *testing.T) {
	f := setup(t)
	ss := newSet("db", 2, appsv1.ParallelPodManagement)
	ss.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	created, err := f.Set.StatefulSets("default").Create(f.Ctx, ss, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.step("db")
	pvc, err := f.Set.PersistentVolumeClaims("default").Get(f.Ctx, "data-db-1", metav1.GetOptions{})
	if err != nil || len(pvc.OwnerReferences) != 1 || pvc.OwnerReferences[0].UID != created.UID {
		t.Fatalf("whenDeleted Delete: claim owners %v %v", pvc, err)
	}
	for _, n := range []string{"db-0", "db-1"} {
		f.ready(n)
	}
	cur, _ := f.Set.StatefulSets("default").Get(f.Ctx, "db", metav1.GetOptions{})
	cur.Spec.Replicas = ptr.To[int32](1)
	if _, err := f.Set.StatefulSets("default").Update(f.Ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Cached(f.Inf.PersistentVolumeClaims(), pvc)
	f.step("db")
	pvc, _ = f.Set.PersistentVolumeClaims("default").Get(f.Ctx, "data-db-1", metav1.GetOptions{})
	kinds := ""
	for _, r := range pvc.OwnerReferences {
		kinds += r.Kind + " "
	}
	if kinds != "StatefulSet Pod " {
		t.Fatalf("whenScaled Delete: claim of the removed pod owned by %q", kinds)
	}
}

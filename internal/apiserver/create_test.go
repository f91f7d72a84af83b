package apiserver

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// generateName is resolved before defaulting and PrepareForCreate, so what
// they derive from the name uses the real one, as upstream.
func TestGenerateNameBeforeCreateStrategy(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	cs := clientset(t, ts.admin)
	job, err := cs.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "pi-"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pi", Image: "perl"}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(job.Name, "pi-") || len(job.Name) != len("pi-")+5 {
		t.Fatalf("name = %q", job.Name)
	}
	for _, k := range []string{"job-name", "batch.kubernetes.io/job-name"} {
		if got := job.Spec.Template.Labels[k]; got != job.Name {
			t.Errorf("template label %s = %q, want %q", k, got, job.Name)
		}
	}
	if got := job.Spec.Template.Labels["batch.kubernetes.io/controller-uid"]; got != string(job.UID) {
		t.Errorf("controller-uid label = %q, want %q", got, job.UID)
	}
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "team-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["kubernetes.io/metadata.name"] != ns.Name || !strings.HasPrefix(ns.Name, "team-") {
		t.Errorf("namespace %q labels = %v", ns.Name, ns.Labels)
	}
}

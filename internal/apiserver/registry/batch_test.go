package registry

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func TestJobAsKubectlCreate(t *testing.T) {
	res := mustResource(t, "batch", "v1", "jobs")
	ctx := context.Background()
	// kubectl create job pi --image=perl
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "0f3c"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "pi", Image: "perl"}}}}}}
	createAs(t, res, j)
	spec := j.Spec.DeepCopy()
	spec.Template = corev1.PodTemplateSpec{ObjectMeta: spec.Template.ObjectMeta}
	want := lines("backoffLimit: 6", "completionMode: NonIndexed", "completions: 1", "manualSelector: false", "parallelism: 1",
		"podReplacementPolicy: TerminatingOrFailed", "selector:", "  matchLabels:", "    batch.kubernetes.io/controller-uid: 0f3c",
		"suspend: false", "template:", "  metadata:", "    labels:", "      batch.kubernetes.io/controller-uid: 0f3c",
		"      batch.kubernetes.io/job-name: pi", "      controller-uid: 0f3c", "      job-name: pi", "  spec:", "    containers: null", "")
	if got := toYAML(t, spec); got != want {
		t.Errorf("job spec:\n%s\nwant:\n%s", got, want)
	}
	if errs := res.Strategy.Validate(ctx, j); len(errs) != 0 {
		t.Errorf("valid job refused: %v", errs)
	}
	always := j.DeepCopy()
	always.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	if got := errStrings(res.Strategy.Validate(ctx, always)); got != `spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"` {
		t.Errorf("restart policy: %s", got)
	}
	j.ResourceVersion = "1"
	changed := j.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "perl:5"
	if got := errStrings(res.Strategy.ValidateUpdate(ctx, changed, j)); !strings.HasPrefix(got, "spec.template: Invalid value:") || !strings.HasSuffix(got, "field is immutable") {
		t.Errorf("template change: %s", got)
	}
	if fs := res.Strategy.FieldSet(j); fs["status.successful"] != "0" {
		t.Errorf("field set %v", fs)
	}
}

func TestJobAndCronJobTables(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-3 * time.Hour))
	start := metav1.NewTime(now.Add(-150 * time.Second))
	done := metav1.NewTime(now.Add(-30 * time.Second))
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pi", Image: "perl"}}}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u"}}
	cond := func(t batchv1.JobConditionType) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: t, Status: corev1.ConditionTrue}}
	}
	for _, tc := range []struct {
		name string
		job  batchv1.Job
		want string
	}{
		{"running", batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](3), Selector: sel, Template: tmpl},
			Status: batchv1.JobStatus{Succeeded: 1, StartTime: &start}},
			lines("- j", "- Running", "- 1/3", "- 2m30s", "- 3h", "- pi", "- perl", "- batch.kubernetes.io/controller-uid=u")},
		{"complete", batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](1), Template: tmpl},
			Status: batchv1.JobStatus{Succeeded: 1, StartTime: &start, CompletionTime: &done, Conditions: cond(batchv1.JobComplete)}},
			lines("- j", "- Complete", "- 1/1", "- 2m", "- 3h", "- pi", "- perl", "- <none>")},
		{"parallel work queue", batchv1.Job{Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](4), Template: tmpl},
			Status: batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended)}},
			lines("- j", "- Suspended", "- 0/1 of 4", `- ""`, "- 3h", "- pi", "- perl", "- <none>")},
		{"failed", batchv1.Job{Spec: batchv1.JobSpec{Template: tmpl}, Status: batchv1.JobStatus{Conditions: cond(batchv1.JobFailed)}},
			lines("- j", "- Failed", "- 0/1", `- ""`, "- 3h", "- pi", "- perl", "- <none>")},
	} {
		job := tc.job
		job.Name, job.CreationTimestamp = "j", created
		if got := rowOf(t, "batch", "v1", "jobs", &job, now); got != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
	last := metav1.NewTime(now.Add(-45 * time.Second))
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: created},
		Spec:   batchv1.CronJobSpec{Schedule: "*/1 * * * *", Suspend: ptr.To(false), JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}},
		Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "c-1"}}, LastScheduleTime: &last}}
	if got := rowOf(t, "batch", "v1", "cronjobs", cj, now); got != lines("- c", "- '*/1 * * * *'", "- <none>", "- \"False\"", "- 1", "- 45s", "- 3h", "- pi", "- perl", "- <none>") {
		t.Errorf("cronjob:\n%s", got)
	}
}

func TestCronJobDefaultsAndValidation(t *testing.T) {
	res := mustResource(t, "batch", "v1", "cronjobs")
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default"}, Spec: batchv1.CronJobSpec{
		Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}}}
	createAs(t, res, cj)
	if cj.Spec.ConcurrencyPolicy != batchv1.AllowConcurrent || *cj.Spec.Suspend || *cj.Spec.SuccessfulJobsHistoryLimit != 3 || *cj.Spec.FailedJobsHistoryLimit != 1 {
		t.Errorf("defaults %+v", cj.Spec)
	}
	if cj.Spec.JobTemplate.Spec.BackoffLimit != nil {
		t.Errorf("job template spec got Job defaults")
	}
	if errs := res.Strategy.Validate(context.Background(), cj); len(errs) != 0 {
		t.Errorf("valid cronjob refused: %v", errs)
	}
	bad := cj.DeepCopy()
	bad.Spec.Schedule = "every minute"
	if got := errStrings(res.Strategy.Validate(context.Background(), bad)); got != `spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: every minute` {
		t.Errorf("schedule: %s", got)
	}
}

func TestHPADefaultsTableAndConversion(t *testing.T) {
	v2 := mustResource(t, "autoscaling", "v2", "horizontalpodautoscalers")
	v1 := mustResource(t, "autoscaling", "v1", "horizontalpodautoscalers")
	if v1.Converter == nil || v1.StorageVersion != (schema.GroupVersion{Group: "autoscaling", Version: "v2"}) {
		t.Fatal("autoscaling/v1 is not converted to its v2 storage")
	}
	// kubectl autoscale deployment web --max=5 (no --cpu-percent)
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			Behavior:       &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}}}}
	createAs(t, v2, h)
	want := lines("behavior:", "  scaleDown:", "    policies:", "    - periodSeconds: 15", "      type: Percent", "      value: 100",
		"    selectPolicy: Max", "    stabilizationWindowSeconds: 60", "  scaleUp:", "    policies:", "    - periodSeconds: 15",
		"      type: Pods", "      value: 4", "    - periodSeconds: 15", "      type: Percent", "      value: 100",
		"    selectPolicy: Max", "    stabilizationWindowSeconds: 0", "maxReplicas: 5", "metrics:", "- resource:", "    name: cpu",
		"    target:", "      averageUtilization: 80", "      type: Utilization", "  type: Resource", "minReplicas: 1",
		"scaleTargetRef:", "  apiVersion: apps/v1", "  kind: Deployment", "  name: web", "")
	if got := toYAML(t, h.Spec); got != want {
		t.Errorf("hpa spec:\n%s\nwant:\n%s", got, want)
	}

	h.Spec.Metrics = append(h.Spec.Metrics, autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("500Mi"))}}})
	h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 2, CurrentMetrics: []autoscalingv2.MetricStatus{
		{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU,
			Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](45), AverageValue: ptr.To(resource.MustParse("45m"))}}}}}
	h.CreationTimestamp = metav1.NewTime(time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC))
	if got := rowOf(t, "autoscaling", "v2", "horizontalpodautoscalers", h, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)); got !=
		lines("- web", "- Deployment/web", "- 'cpu: 45%/80%, memory: <unknown>/500Mi'", `- "1"`, "- 5", "- 2", "- 60m") {
		t.Errorf("hpa row:\n%s", got)
	}

	out, err := v1.Converter.Convert(h, v1.GroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	old := out.(*autoscalingv1.HorizontalPodAutoscaler)
	if old.Spec.TargetCPUUtilizationPercentage == nil || *old.Spec.TargetCPUUtilizationPercentage != 80 ||
		old.Status.CurrentCPUUtilizationPercentage == nil || *old.Status.CurrentCPUUtilizationPercentage != 45 {
		t.Errorf("v1 cpu fields: %+v %+v", old.Spec, old.Status)
	}
	if got := old.Annotations[hpaMetricsAnnotation]; got != `[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]` {
		t.Errorf("metrics annotation %s", got)
	}
	if got := old.Annotations[hpaBehaviorAnnotation]; !strings.HasPrefix(got, `{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}`) {
		t.Errorf("behavior annotation %s", got)
	}
	back, err := v1.Converter.Convert(old, v2.GroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	round := back.(*autoscalingv2.HorizontalPodAutoscaler)
	// v1 lists other metrics first, then the CPU one, as upstream.
	if len(round.Spec.Metrics) != 2 || round.Spec.Metrics[0].Resource.Name != corev1.ResourceMemory || round.Spec.Metrics[1].Resource.Name != corev1.ResourceCPU {
		t.Errorf("metrics after round trip: %s", toYAML(t, round.Spec.Metrics))
	}
	if !reflect.DeepEqual(round.Spec.Behavior, h.Spec.Behavior) || len(round.Annotations) != 0 {
		t.Errorf("behavior/annotations after round trip: %s %v", toYAML(t, round.Spec.Behavior), round.Annotations)
	}
	if round.Status.CurrentMetrics[0].Resource.Current.AverageValue.String() != "45m" {
		t.Errorf("current metrics after round trip: %s", toYAML(t, round.Status))
	}

	// A plain v1 object without CPU target gets v2's explicit 80% default.
	plain := &autoscalingv1.HorizontalPodAutoscaler{Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MaxReplicas: 3}}
	conv, _ := v1.Converter.Convert(plain, v2.GroupVersion)
	if ms := conv.(*autoscalingv2.HorizontalPodAutoscaler).Spec.Metrics; len(ms) != 1 || *ms[0].Resource.Target.AverageUtilization != 80 {
		t.Errorf("implicit cpu target: %s", toYAML(t, ms))
	}
}

func TestTemplateWarnings(t *testing.T) {
	res := mustResource(t, "batch", "v1", "cronjobs")
	cj := &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{NodeSelector: map[string]string{"failure-domain.beta.kubernetes.io/zone": "a"}}}}}}}
	got := res.Strategy.Warnings(context.Background(), cj, nil)
	want := `spec.jobTemplate.spec.template.spec.nodeSelector[failure-domain.beta.kubernetes.io/zone]: deprecated since v1.17; use "topology.kubernetes.io/zone" instead`
	if len(got) != 1 || got[0] != want {
		t.Errorf("warnings %q", got)
	}
}

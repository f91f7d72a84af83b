package registry

import (
	"fmt"
	"math"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// batch/v1 Job and CronJob: SetDefaults_Job/CronJob, the job strategy's
// generated selector, validation and printJob/printCronJob.

func jobStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) { ifType(obj, defaultJob) },
		prepareCreate: func(obj runtime.Object) {
			ifType(obj, func(j *batchv1.Job) {
				if j.Spec.ManualSelector == nil || !*j.Spec.ManualSelector {
					generateJobSelector(j)
				}

			})
		},
		validate: func(obj runtime.Object) field.ErrorList {
			j, ok := obj.(*batchv1.Job)
			if !ok {
				return nil
			}
			return validateJobSpec(&j.Spec, field.NewPath("spec"))
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			j, ok1 := obj.(*batchv1.Job)
			o, ok2 := old.(*batchv1.Job)
			if !ok1 || !ok2 {
				return nil
			}
			sp := field.NewPath("spec")
			errs := immutable(j.Spec.Selector, o.Spec.Selector, sp.Child("selector"))
			errs = append(errs, immutable(j.Spec.CompletionMode, o.Spec.CompletionMode, sp.Child("completionMode"))...)
			if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion {
				errs = append(errs, immutable(j.Spec.Completions, o.Spec.Completions, sp.Child("completions"))...)
			}
			tmpl := j.Spec.Template.DeepCopy()
			if o.Spec.Suspend != nil && *o.Spec.Suspend && o.Status.StartTime == nil {
				// scheduling directives of a suspended job that never ran may change
				tmpl.Spec.NodeSelector, tmpl.Spec.Tolerations, tmpl.Spec.Affinity = o.Spec.Template.Spec.NodeSelector, o.Spec.Template.Spec.Tolerations, o.Spec.Template.Spec.Affinity
				tmpl.Labels, tmpl.Annotations, tmpl.Spec.SchedulingGates = o.Spec.Template.Labels, o.Spec.Template.Annotations, o.Spec.Template.Spec.SchedulingGates
			}
			return append(errs, immutable(*tmpl, o.Spec.Template, sp.Child("template"))...)
		},
		columns: nameColumn().
			add("Status", "string", "Status of the job.").
			add("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]).
			add("Duration", "string", "Time required to complete the job.").
			age().templateWide(batchv1.JobSpec{}.SwaggerDoc()["selector"]),
		row:    jobRow,
		fields: jobFields,
	}
}

func defaultJob(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions, s.Parallelism = ptr.To[int32](1), ptr.To[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr.To[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = ptr.To[int32](6)
		}
	}
	if s.Template.Labels != nil && len(j.Labels) == 0 {
		j.Labels = s.Template.Labels
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if p := s.PodFailurePolicy; p != nil {
		for _, rule := range p.Rules {
			for i := range rule.OnPodConditions {
				if rule.OnPodConditions[i].Status == "" {
					rule.OnPodConditions[i].Status = corev1.ConditionTrue
				}
			}
		}
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil {
		s.ManualSelector = ptr.To(false)
	}
	defaultPodTemplate(&s.Template)
}

// generateJobSelector labels the template with the job's name and uid
// (new and legacy label keys) and selects on the uid. The handlers set the
// uid before PrepareForCreate, as upstream does.
func generateJobSelector(j *batchv1.Job) {
	t := &j.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	for _, k := range []string{"job-name", batchv1.JobNameLabel} {
		if _, ok := t.Labels[k]; !ok {
			t.Labels[k] = j.Name
		}
	}
	for _, k := range []string{"controller-uid", batchv1.ControllerUidLabel} {
		if _, ok := t.Labels[k]; !ok {
			t.Labels[k] = string(j.UID)
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(j.UID)
	}
}

func validateJobSpec(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := nonNegativePtr(s.Parallelism, p.Child("parallelism"))
	errs = append(errs, nonNegativePtr(s.Completions, p.Child("completions"))...)
	errs = append(errs, nonNegativePtr(s.BackoffLimit, p.Child("backoffLimit"))...)
	if s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *s.ActiveDeadlineSeconds, "must be greater than 0"))
	}
	if s.CompletionMode != nil {
		errs = append(errs, validateEnum(string(*s.CompletionMode), p.Child("completionMode"),
			string(batchv1.NonIndexedCompletion), string(batchv1.IndexedCompletion))...)
		if *s.CompletionMode == batchv1.IndexedCompletion && s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
	}
	sel, serrs := validateSelector(s.Selector, p.Child("selector"), "empty selector is invalid for job")
	errs = append(errs, serrs...)
	errs = append(errs, validateTemplate(&s.Template, sel, p.Child("template"), false, "Job")...)
	if rp := s.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(p.Child("template", "spec", "restartPolicy"), rp,
			[]string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}))
	}
	return errs
}

func jobRow(obj runtime.Object, now time.Time) ([]any, error) {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, fmt.Errorf("print job: unexpected %T", obj)
	}
	var completions string
	switch {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case j.Spec.Parallelism != nil && *j.Spec.Parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var dur string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		dur = duration.HumanDuration(now.Sub(j.Status.StartTime.Time))
	default:
		dur = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []any{j.Name, jobStatus(j), completions, dur, ageOf(j, now), names, images, formatSelector(j.Spec.Selector)}, nil
}

func jobStatus(j *batchv1.Job) string {
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range j.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	switch {
	case has(batchv1.JobComplete):
		return "Complete"
	case has(batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case has(batchv1.JobSuspended):
		return "Suspended"
	case has(batchv1.JobFailureTarget):
		return "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

func cronJobStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(c *batchv1.CronJob) {
				if c.Spec.ConcurrencyPolicy == "" {
					c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
				}
				if c.Spec.Suspend == nil {
					c.Spec.Suspend = ptr.To(false)
				}
				if c.Spec.SuccessfulJobsHistoryLimit == nil {
					c.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
				}
				if c.Spec.FailedJobsHistoryLimit == nil {
					c.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
				}
				defaultPodTemplate(&c.Spec.JobTemplate.Spec.Template)
			})
		},
		validate: func(obj runtime.Object) field.ErrorList {
			c, ok := obj.(*batchv1.CronJob)
			if !ok {
				return nil
			}
			errs := validateCronJobSpec(&c.Spec, field.NewPath("spec"))
			if len(c.Name) > 52 {
				// the controller appends an 11-character suffix to job names
				errs = append(field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), c.Name, "must be no more than 52 characters")}, errs...)
			}
			return errs
		},
		columns: nameColumn().
			add("Schedule", "string", batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]).
			add("Timezone", "string", batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]).
			add("Suspend", "boolean", batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]).
			add("Active", "integer", batchv1.CronJobStatus{}.SwaggerDoc()["active"]).
			add("Last Schedule", "string", batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]).
			age().templateWide(batchv1.JobSpec{}.SwaggerDoc()["selector"]),
		row: cronJobRow,
	}
}

func validateCronJobSpec(s *batchv1.CronJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case s.Schedule == "":
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	case strings.Contains(s.Schedule, "TZ"):
		errs = append(errs, field.Invalid(p.Child("schedule"), s.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	case !strings.HasPrefix(s.Schedule, "@"):
		if n := len(strings.Fields(s.Schedule)); n != 5 {
			errs = append(errs, field.Invalid(p.Child("schedule"), s.Schedule, fmt.Sprintf("expected exactly 5 fields, found %d: %s", n, s.Schedule)))
		}
	}
	if s.TimeZone != nil {
		if _, err := time.LoadLocation(*s.TimeZone); err != nil || *s.TimeZone == "" || strings.EqualFold(*s.TimeZone, "Local") {
			errs = append(errs, field.Invalid(p.Child("timeZone"), *s.TimeZone, "unknown time zone "+*s.TimeZone))
		}
	}
	errs = append(errs, validateEnum(string(s.ConcurrencyPolicy), p.Child("concurrencyPolicy"),
		string(batchv1.AllowConcurrent), string(batchv1.ForbidConcurrent), string(batchv1.ReplaceConcurrent))...)
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*s.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	errs = append(errs, nonNegativePtr(s.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, nonNegativePtr(s.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)
	jt := p.Child("jobTemplate", "spec")
	errs = append(errs, validateTemplate(&s.JobTemplate.Spec.Template, nil, jt.Child("template"), false, "Job")...)
	if rp := s.JobTemplate.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(jt.Child("template", "spec", "restartPolicy"), rp,
			[]string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}))
	}
	return errs
}

func cronJobRow(obj runtime.Object, now time.Time) ([]any, error) {
	c, ok := obj.(*batchv1.CronJob)
	if !ok {
		return nil, fmt.Errorf("print cronjob: unexpected %T", obj)
	}
	last := "<none>"
	if c.Status.LastScheduleTime != nil {
		last = since(*c.Status.LastScheduleTime, now)
	}
	tz := "<none>"
	if c.Spec.TimeZone != nil {
		tz = *c.Spec.TimeZone
	}
	names, images := containerCells(c.Spec.JobTemplate.Spec.Template.Spec.Containers)
	return []any{c.Name, c.Spec.Schedule, tz, boolPtrCell(c.Spec.Suspend), int64(len(c.Status.Active)), last, ageOf(c, now),
		names, images, formatSelector(c.Spec.JobTemplate.Spec.Selector)}, nil
}

package registry

import (
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// HorizontalPodAutoscaler, stored as autoscaling/v2: SetDefaults for v2
// (minReplicas 1, a CPU 80% metric when none is given, behavior rules when
// behavior is given), validation, printHorizontalPodAutoscaler. The v1
// conversion is in convert_hpa.go.

func hpaStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true,
		defaults: func(obj runtime.Object) { ifType(obj, defaultHPA) },
		validate: func(obj runtime.Object) field.ErrorList {
			h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			if !ok {
				return nil
			}
			return validateHPASpec(&h.Spec, field.NewPath("spec"))
		},
		columns: nameColumn().
			add("Reference", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["scaleTargetRef"]).
			add("Targets", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["metrics"]).
			add("MinPods", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["minReplicas"]).
			add("MaxPods", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["maxReplicas"]).
			add("Replicas", "string", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]).
			age(),
		row: hpaRow,
	}
}

const defaultCPUUtilization = 80

func defaultHPA(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = ptr.To[int32](1)
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{cpuUtilizationMetric(defaultCPUUtilization)}
	}
	if b := h.Spec.Behavior; b != nil {
		b.ScaleUp = scalingRules(b.ScaleUp, 0, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
		b.ScaleDown = scalingRules(b.ScaleDown, 300, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
	}
}

func cpuUtilizationMetric(pct int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(pct)}}}
}

// scalingRules fills the nil parts of one direction's rules.
func scalingRules(r *autoscalingv2.HPAScalingRules, window int32, policies []autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	if r == nil {
		r = &autoscalingv2.HPAScalingRules{}
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = ptr.To(window)
	}
	if r.SelectPolicy == nil {
		r.SelectPolicy = ptr.To(autoscalingv2.MaxChangePolicySelect)
	}
	if r.Policies == nil {
		r.Policies = policies
	}
	return r
}

func validateHPASpec(s *autoscalingv2.HorizontalPodAutoscalerSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ref := p.Child("scaleTargetRef")
	if s.ScaleTargetRef.Kind == "" {
		errs = append(errs, field.Required(ref.Child("kind"), ""))
	}
	if s.ScaleTargetRef.Name == "" {
		errs = append(errs, field.Required(ref.Child("name"), ""))
	}
	if s.MinReplicas != nil && *s.MinReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *s.MinReplicas, "must be greater than or equal to 1"))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	for i, m := range s.Metrics {
		if m.Type == "" {
			errs = append(errs, field.Required(p.Child("metrics").Index(i).Child("type"), "must specify a metric source type"))
		}
	}
	return errs
}

func hpaRow(obj runtime.Object, now time.Time) ([]any, error) {
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return nil, fmt.Errorf("print horizontalpodautoscaler: unexpected %T", obj)
	}
	minPods := "<unset>"
	if h.Spec.MinReplicas != nil {
		minPods = fmt.Sprintf("%d", *h.Spec.MinReplicas)
	}
	ref := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
	return []any{h.Name, ref, hpaTargets(h.Spec.Metrics, h.Status.CurrentMetrics), minPods,
		int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), ageOf(h, now)}, nil
}

// hpaTargets is formatHPAMetrics: up to two "current/target" entries.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	var list []string
	for i, s := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		list = append(list, hpaTarget(s, st))
	}
	return listWithMore(list, 2, len(list), ", ")
}

func hpaTarget(s autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	cur := "<unknown>"
	switch s.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if s.External.Target.AverageValue != nil {
			if st != nil && st.External != nil && st.External.Current.AverageValue != nil {
				cur = st.External.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", cur, qstr(s.External.Target.AverageValue))
		}
		if st != nil && st.External != nil {
			cur = qstr(st.External.Current.Value)
		}
		return fmt.Sprintf("%s/%s", cur, qstr(s.External.Target.Value))
	case autoscalingv2.PodsMetricSourceType:
		if st != nil && st.Pods != nil {
			cur = qstr(st.Pods.Current.AverageValue)
		}
		return fmt.Sprintf("%s/%s", cur, qstr(s.Pods.Target.AverageValue))
	case autoscalingv2.ObjectMetricSourceType:
		if s.Object.Target.AverageValue != nil {
			if st != nil && st.Object != nil && st.Object.Current.AverageValue != nil {
				cur = st.Object.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", cur, qstr(s.Object.Target.AverageValue))
		}
		if st != nil && st.Object != nil {
			cur = qstr(st.Object.Current.Value)
		}
		return fmt.Sprintf("%s/%s", cur, qstr(s.Object.Target.Value))
	case autoscalingv2.ResourceMetricSourceType:
		var c *autoscalingv2.MetricValueStatus
		if st != nil && st.Resource != nil {
			c = &st.Resource.Current
		}
		return resourceTarget(string(s.Resource.Name), s.Resource.Target, c)
	case autoscalingv2.ContainerResourceMetricSourceType:
		var c *autoscalingv2.MetricValueStatus
		if st != nil && st.ContainerResource != nil {
			c = &st.ContainerResource.Current
		}
		return resourceTarget(string(s.ContainerResource.Name), s.ContainerResource.Target, c)
	}
	return "<unknown type>"
}

func resourceTarget(name string, target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	c := "<unknown>"
	if target.AverageValue != nil {
		if cur != nil {
			c = qstr(cur.AverageValue)
		}
		return fmt.Sprintf("%s: %s/%s", name, c, target.AverageValue.String())
	}
	if cur != nil && cur.AverageUtilization != nil {
		c = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	t := "<auto>"
	if target.AverageUtilization != nil {
		t = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, c, t)
}

// qstr is Quantity.String, which prints "<nil>" for a nil quantity.
func qstr(q *resource.Quantity) string {
	if q == nil {
		return "<nil>"
	}
	return q.String()
}

package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// apps/v1 workloads and core ReplicationController: upstream's
// SetDefaults_*, the strategies' generation tracking and status handling,
// validation, and printers (tables_apps.go).

func deploymentStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) { ifType(obj, defaultDeployment) },
		validate: func(obj runtime.Object) field.ErrorList {
			d, ok := obj.(*appsv1.Deployment)
			if !ok {
				return nil
			}
			sp := field.NewPath("spec")
			errs := nonNegativePtr(d.Spec.Replicas, sp.Child("replicas"))
			sel, serrs := validateSelector(d.Spec.Selector, sp.Child("selector"), "empty selector is invalid for deployment")
			errs = append(errs, serrs...)
			errs = append(errs, validateTemplate(&d.Spec.Template, sel, sp.Child("template"), true, "ReplicaSet")...)
			errs = append(errs, validateDeploymentStrategy(&d.Spec.Strategy, sp.Child("strategy"))...)
			errs = append(errs, nonNegative(int64(d.Spec.MinReadySeconds), sp.Child("minReadySeconds"))...)
			errs = append(errs, nonNegativePtr(d.Spec.RevisionHistoryLimit, sp.Child("revisionHistoryLimit"))...)
			if d.Spec.ProgressDeadlineSeconds != nil {
				if *d.Spec.ProgressDeadlineSeconds <= d.Spec.MinReadySeconds {
					errs = append(errs, field.Invalid(sp.Child("progressDeadlineSeconds"), *d.Spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
				}
			}
			return errs
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			d, ok1 := obj.(*appsv1.Deployment)
			o, ok2 := old.(*appsv1.Deployment)
			if !ok1 || !ok2 {
				return nil
			}
			return immutable(d.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))
		},
		columns: deploymentColumns(),
		row:     deploymentRow,
	}
}

func defaultDeployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptr.To[int32](1)
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	}
	defaultPodTemplate(&d.Spec.Template)
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	errs := validateEnum(string(s.Type), p.Child("type"), string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType))
	switch {
	case s.Type == appsv1.RecreateDeploymentStrategyType && s.RollingUpdate != nil:
		errs = append(errs, field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
	case s.Type == appsv1.RollingUpdateDeploymentStrategyType && s.RollingUpdate == nil:
		errs = append(errs, field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil"))
	case s.RollingUpdate != nil:
		ru := s.RollingUpdate
		if isZero(ru.MaxUnavailable) && isZero(ru.MaxSurge) {
			errs = append(errs, field.Invalid(p.Child("rollingUpdate", "maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
	}
	return errs
}

func isZero(v *intstr.IntOrString) bool {
	if v == nil {
		return false
	}
	return (v.Type == intstr.Int && v.IntVal == 0) || (v.Type == intstr.String && (v.StrVal == "0%" || v.StrVal == "0"))
}

func replicaSetStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(rs *appsv1.ReplicaSet) {
				if rs.Spec.Replicas == nil {
					rs.Spec.Replicas = ptr.To[int32](1)
				}
				defaultPodTemplate(&rs.Spec.Template)
			})
		},
		validate: func(obj runtime.Object) field.ErrorList {
			rs, ok := obj.(*appsv1.ReplicaSet)
			if !ok {
				return nil
			}
			sp := field.NewPath("spec")
			errs := nonNegativePtr(rs.Spec.Replicas, sp.Child("replicas"))
			errs = append(errs, nonNegative(int64(rs.Spec.MinReadySeconds), sp.Child("minReadySeconds"))...)
			sel, serrs := validateSelector(rs.Spec.Selector, sp.Child("selector"), "empty selector is invalid for deployment")
			errs = append(errs, serrs...)
			return append(errs, validateTemplate(&rs.Spec.Template, sel, sp.Child("template"), true, "ReplicaSet")...)
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			rs, ok1 := obj.(*appsv1.ReplicaSet)
			o, ok2 := old.(*appsv1.ReplicaSet)
			if !ok1 || !ok2 {
				return nil
			}
			return immutable(rs.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))
		},
		columns: replicaSetColumns(),
		row:     replicaSetRow,
	}
}

func statefulSetStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) { ifType(obj, defaultStatefulSet) },
		validate: func(obj runtime.Object) field.ErrorList {
			ss, ok := obj.(*appsv1.StatefulSet)
			if !ok {
				return nil
			}
			sp := field.NewPath("spec")
			errs := validateEnum(string(ss.Spec.PodManagementPolicy), sp.Child("podManagementPolicy"),
				string(appsv1.OrderedReadyPodManagement), string(appsv1.ParallelPodManagement))
			errs = append(errs, validateEnum(string(ss.Spec.UpdateStrategy.Type), sp.Child("updateStrategy"),
				string(appsv1.RollingUpdateStatefulSetStrategyType), string(appsv1.OnDeleteStatefulSetStrategyType))...)
			errs = append(errs, nonNegativePtr(ss.Spec.Replicas, sp.Child("replicas"))...)
			sel, serrs := validateSelector(ss.Spec.Selector, sp.Child("selector"), "empty selector is invalid for statefulset")
			errs = append(errs, serrs...)
			return append(errs, validateTemplate(withClaimVolumes(ss), sel, sp.Child("template"), true, "StatefulSet")...)
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ss, ok1 := obj.(*appsv1.StatefulSet)
			o, ok2 := old.(*appsv1.StatefulSet)
			if !ok1 || !ok2 {
				return nil
			}
			return validateStatefulSetUpdate(ss, o)
		},
		columns: statefulSetColumns(),
		row:     statefulSetRow,
	}
}

// withClaimVolumes is the set's template with a volume for each
// volumeClaimTemplate it does not define itself, as the controller gives
// its pods: containers may mount claim templates by name.
func withClaimVolumes(ss *appsv1.StatefulSet) *corev1.PodTemplateSpec {
	t := ss.Spec.Template.DeepCopy()
	have := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		have[v.Name] = true
	}
	for _, c := range ss.Spec.VolumeClaimTemplates {
		if !have[c.Name] {
			t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
		}
	}
	return t
}

func defaultStatefulSet(ss *appsv1.StatefulSet) {
	spec := &ss.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := spec.UpdateStrategy.RollingUpdate; spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil {
		if ru.Partition == nil {
			ru.Partition = ptr.To[int32](0)
		}
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.Replicas == nil {
		spec.Replicas = ptr.To[int32](1)
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	defaultPodTemplate(&spec.Template)
	for i := range spec.VolumeClaimTemplates {
		pvc := &spec.VolumeClaimTemplates[i]
		pvc.APIVersion, pvc.Kind = "v1", "PersistentVolumeClaim"
		defaultPVC(pvc)
	}
}

// validateStatefulSetUpdate allows only upstream's mutable fields to change.
func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	restored := ss.Spec.DeepCopy()
	restored.Replicas = old.Spec.Replicas
	restored.Ordinals = old.Spec.Ordinals
	restored.Template = old.Spec.Template
	restored.UpdateStrategy = old.Spec.UpdateStrategy
	restored.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	restored.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	restored.MinReadySeconds = old.Spec.MinReadySeconds
	if !apiequality.Semantic.DeepEqual(*restored, old.Spec) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', "+
			"'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
	}
	return nil
}

func daemonSetStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) { ifType(obj, defaultDaemonSet) },
		validate: func(obj runtime.Object) field.ErrorList {
			ds, ok := obj.(*appsv1.DaemonSet)
			if !ok {
				return nil
			}
			sp := field.NewPath("spec")
			sel, errs := validateSelector(ds.Spec.Selector, sp.Child("selector"), "empty selector is invalid for daemonset")
			errs = append(errs, validateTemplate(&ds.Spec.Template, sel, sp.Child("template"), true, "DaemonSet")...)
			errs = append(errs, validateEnum(string(ds.Spec.UpdateStrategy.Type), sp.Child("updateStrategy", "type"),
				string(appsv1.OnDeleteDaemonSetStrategyType), string(appsv1.RollingUpdateDaemonSetStrategyType))...)
			return append(errs, nonNegative(int64(ds.Spec.MinReadySeconds), sp.Child("minReadySeconds"))...)
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ds, ok1 := obj.(*appsv1.DaemonSet)
			o, ok2 := old.(*appsv1.DaemonSet)
			if !ok1 || !ok2 {
				return nil
			}
			return immutable(ds.Spec.Selector, o.Spec.Selector, field.NewPath("spec", "selector"))
		},
		columns: daemonSetColumns(),
		row:     daemonSetRow,
	}
}

func defaultDaemonSet(ds *appsv1.DaemonSet) {
	us := &ds.Spec.UpdateStrategy
	if us.Type == "" {
		us.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if us.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if us.RollingUpdate == nil {
			us.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if us.RollingUpdate.MaxUnavailable == nil {
			us.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
		if us.RollingUpdate.MaxSurge == nil {
			us.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	defaultPodTemplate(&ds.Spec.Template)
}

// rcStrategy is core/v1 ReplicationController: selector and labels come
// from the template when unset.
func rcStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(rc *corev1.ReplicationController) {
				if t := rc.Spec.Template; t != nil && t.Labels != nil {
					if len(rc.Spec.Selector) == 0 {
						rc.Spec.Selector = t.Labels
					}
					if len(rc.Labels) == 0 {
						rc.Labels = t.Labels
					}
				}
				if rc.Spec.Replicas == nil {
					rc.Spec.Replicas = ptr.To[int32](1)
				}
				defaultPodTemplate(rc.Spec.Template)
			})
		},
		validate: func(obj runtime.Object) field.ErrorList {
			rc, ok := obj.(*corev1.ReplicationController)
			if !ok {
				return nil
			}
			sp := field.NewPath("spec")
			errs := nonNegativePtr(rc.Spec.Replicas, sp.Child("replicas"))
			if len(rc.Spec.Selector) == 0 {
				errs = append(errs, field.Required(sp.Child("selector"), ""))
			}
			return append(errs, validateTemplate(rc.Spec.Template, selectorFromSet(rc.Spec.Selector), sp.Child("template"), true, "ReplicationController")...)
		},
		columns: replicationControllerColumns(),
		row:     replicationControllerRow,
		fields:  rcFields,
	}
}

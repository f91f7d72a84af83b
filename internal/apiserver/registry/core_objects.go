package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Strategies of the other core/v1 types: defaults, create/update rules and
// validation as upstream's; their printers are in tables_core.go.

func namespaceStrategy() *typeStrategy {
	return &typeStrategy{
		status: true,
		nameFn: apivalidation.ValidateNamespaceName,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(ns *corev1.Namespace) {
				if ns.Name != "" {
					if ns.Labels == nil {
						ns.Labels = map[string]string{}
					}
					ns.Labels[corev1.LabelMetadataName] = ns.Name
				}
				if ns.Status.Phase == "" {
					ns.Status.Phase = corev1.NamespaceActive
				}
			})
		},
		prepareCreate: func(obj runtime.Object) {
			ifType(obj, func(ns *corev1.Namespace) {
				// upstream's Canonicalize: the name label follows the name
				if ns.Name != "" {
					if ns.Labels == nil {
						ns.Labels = map[string]string{}
					}
					ns.Labels[corev1.LabelMetadataName] = ns.Name
				}
				ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
				if !hasFinalizer(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
					ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
				}
			})
		},
		prepareUpdate: func(obj, old runtime.Object) {
			n, ok1 := obj.(*corev1.Namespace)
			o, ok2 := old.(*corev1.Namespace)
			if ok1 && ok2 {
				// finalizers change only through namespaces/finalize
				n.Spec.Finalizers = o.Spec.Finalizers
			}
		},
		validate: func(obj runtime.Object) field.ErrorList {
			ns, ok := obj.(*corev1.Namespace)
			if !ok {
				return nil
			}
			var errs field.ErrorList
			for i, f := range ns.Spec.Finalizers {
				errs = append(errs, apivalidation.ValidateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
			}
			return errs
		},
		columns: nameColumn().add("Status", "string", "The status of the namespace").age(),
		row:     namespaceRow,
		fields:  namespaceFields,
	}
}

func hasFinalizer(list []corev1.FinalizerName, f corev1.FinalizerName) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}

func configMapStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(cm *corev1.ConfigMap) {
				if cm.Data == nil {
					cm.Data = map[string]string{}
				}
			})
		},
		validate: func(obj runtime.Object) field.ErrorList {
			cm, ok := obj.(*corev1.ConfigMap)
			if !ok {
				return nil
			}
			var errs field.ErrorList
			size := 0
			for k, v := range cm.Data {
				errs = append(errs, validateDataKey(k, field.NewPath("data").Key(k))...)
				if _, dup := cm.BinaryData[k]; dup {
					errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, "duplicate of key present in binaryData"))
				}
				size += len(v)
			}
			for k, v := range cm.BinaryData {
				errs = append(errs, validateDataKey(k, field.NewPath("binaryData").Key(k))...)
				size += len(v)
			}
			if size > corev1.MaxSecretSize {
				errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
			}
			return errs
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cm, ok1 := obj.(*corev1.ConfigMap)
			o, ok2 := old.(*corev1.ConfigMap)
			if !ok1 || !ok2 {
				return nil
			}
			return validateImmutableData(o.Immutable, cm.Immutable, cm.Data, o.Data, cm.BinaryData, o.BinaryData)
		},
		columns: nameColumn().add("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]).age(),
		row:     configMapRow,
	}
}

// validateImmutableData refuses changes to data of an immutable ConfigMap
// or Secret, and unsetting immutable.
func validateImmutableData(oldImm, newImm *bool, data, oldData, bin, oldBin any) field.ErrorList {
	if oldImm == nil || !*oldImm {
		return nil
	}
	var errs field.ErrorList
	if newImm == nil || !*newImm {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if !semanticEqual(data, oldData) {
		errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
	}
	if !semanticEqual(bin, oldBin) {
		errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
	}
	return errs
}

// validateDataKey is IsConfigMapKey with upstream's path.
func validateDataKey(k string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(k) {
		errs = append(errs, field.Invalid(p, k, msg))
	}
	return errs
}

func secretStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(s *corev1.Secret) {
				if s.Type == "" {
					s.Type = corev1.SecretTypeOpaque
				}
				// stringData is write-only: merged into data, never stored
				for k, v := range s.StringData {
					if s.Data == nil {
						s.Data = map[string][]byte{}
					}
					s.Data[k] = []byte(v)
				}
				s.StringData = nil
			})
		},
		validate: func(obj runtime.Object) field.ErrorList {
			s, ok := obj.(*corev1.Secret)
			if !ok {
				return nil
			}
			return validateSecret(s)
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, ok1 := obj.(*corev1.Secret)
			o, ok2 := old.(*corev1.Secret)
			if !ok1 || !ok2 {
				return nil
			}
			errs := immutable(s.Type, o.Type, field.NewPath("type"))
			return append(errs, validateImmutableData(o.Immutable, s.Immutable, s.Data, o.Data, nil, nil)...)
		},
		columns: nameColumn().
			add("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]).
			add("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]).age(),
		row:    secretRow,
		fields: secretFields,
	}
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dataPath := field.NewPath("data")
	size := 0
	for k, v := range s.Data {
		errs = append(errs, validateDataKey(k, dataPath.Key(k))...)
		size += len(v)
	}
	if size > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", corev1.MaxSecretSize))
	}
	require := func(key string) {
		if _, ok := s.Data[key]; !ok {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		require(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		require(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, u := s.Data[corev1.BasicAuthUsernameKey]
		_, p := s.Data[corev1.BasicAuthPasswordKey]
		if !u && !p {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""))
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		require(corev1.SSHAuthPrivateKey)
	case corev1.SecretTypeTLS:
		require(corev1.TLSCertKey)
		require(corev1.TLSPrivateKeyKey)
	default:
		for _, msg := range validation.IsQualifiedName(string(s.Type)) {
			if string(s.Type) != string(corev1.SecretTypeOpaque) && strings.Contains(string(s.Type), "/") {
				errs = append(errs, field.Invalid(field.NewPath("type"), s.Type, msg))
			}
		}
	}
	return errs
}

func serviceAccountStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		columns:    nameColumn().add("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]).age(),
		row:        serviceAccountRow,
	}
}

func nodeStrategy() *typeStrategy {
	return &typeStrategy{
		status: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(n *corev1.Node) {
				if n.Status.Allocatable == nil && n.Status.Capacity != nil {
					n.Status.Allocatable = n.Status.Capacity.DeepCopy()
				}
			})
		},
		keepStatusOnCreate: true, // a node registers with its status
		validate: func(obj runtime.Object) field.ErrorList {
			n, ok := obj.(*corev1.Node)
			if !ok {
				return nil
			}
			return validateTaints(n.Spec.Taints, field.NewPath("spec", "taints"))
		},
		validateUpdate: validateNodeUpdate,
		columns:        nodeColumns(),
		row:            nodeRow,
		fields:         nodeFields,
	}
}

// validateNodeUpdate keeps a node's pod subnets and provider ID once set,
// as upstream's ValidateNodeUpdate: node IPAM may fill them, nobody may
// change or clear them (a node whose overlay and pod network use one
// subnet while the cluster routes another loses its traffic).
func validateNodeUpdate(obj, old runtime.Object) field.ErrorList {
	n, ok1 := obj.(*corev1.Node)
	o, ok2 := old.(*corev1.Node)
	if !ok1 || !ok2 {
		return nil
	}
	var errs field.ErrorList
	cidrs := func(n *corev1.Node) []string {
		if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
			return []string{n.Spec.PodCIDR}
		}
		return n.Spec.PodCIDRs
	}
	if was := cidrs(o); len(was) > 0 && strings.Join(was, ",") != strings.Join(cidrs(n), ",") {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), `node updates may not change podCIDR except from "" to valid`))
	}
	if o.Spec.ProviderID != "" && o.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), `node updates may not change providerID except from "" to valid`))
	}
	return errs
}

func validateTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, t := range taints {
		ip := p.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, ip.Child("key"))...)
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(ip.Child("value"), t.Value, msg))
		}
		errs = append(errs, validateEnum(string(t.Effect), ip.Child("effect"), string(corev1.TaintEffectNoSchedule),
			string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute))...)
		key := t.Key + ":" + string(t.Effect)
		if seen[key] {
			errs = append(errs, field.Duplicate(ip, "taints must be unique by key and effect pair"))
		}
		seen[key] = true
	}
	return errs
}

func pvcStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true,
		defaults: func(obj runtime.Object) { ifType(obj, defaultPVC) },
		prepareCreate: func(obj runtime.Object) {
			ifType(obj, func(c *corev1.PersistentVolumeClaim) { c.Status.Phase = corev1.ClaimPending })
		},
		validate: func(obj runtime.Object) field.ErrorList {
			c, ok := obj.(*corev1.PersistentVolumeClaim)
			if !ok {
				return nil
			}
			sp := field.NewPath("spec")
			var errs field.ErrorList
			if len(c.Spec.AccessModes) == 0 {
				errs = append(errs, field.Required(sp.Child("accessModes"), "at least 1 access mode is required"))
			}
			if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok && c.Spec.DataSourceRef == nil {
				errs = append(errs, field.Required(sp.Child("resources").Key(string(corev1.ResourceStorage)), ""))
			}
			return errs
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			c, ok1 := obj.(*corev1.PersistentVolumeClaim)
			o, ok2 := old.(*corev1.PersistentVolumeClaim)
			if !ok1 || !ok2 {
				return nil
			}
			return validatePVCUpdate(c, o)
		},
		columns: pvcColumns(),
		row:     pvcRow,
	}
}

func defaultPVC(c *corev1.PersistentVolumeClaim) {
	if c.Status.Phase == "" {
		c.Status.Phase = corev1.ClaimPending
	}
	if c.Spec.VolumeMode == nil {
		c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

// validatePVCUpdate: once bound, only resources.requests (expansion),
// volumeAttributesClassName and the volume name on binding may change.
func validatePVCUpdate(c, o *corev1.PersistentVolumeClaim) field.ErrorList {
	restored := c.Spec.DeepCopy()
	restored.Resources.Requests = o.Spec.Resources.Requests
	restored.VolumeAttributesClassName = o.Spec.VolumeAttributesClassName
	if o.Spec.VolumeName == "" {
		restored.VolumeName = ""
	}
	if o.Spec.StorageClassName == nil && restored.StorageClassName != nil {
		restored.StorageClassName = nil // may be set once by the binder
	}
	cmp := o.Spec.DeepCopy()
	if o.Spec.VolumeName == "" {
		cmp.VolumeName = ""
	}
	if o.Spec.StorageClassName == nil {
		cmp.StorageClassName = nil
	}
	var errs field.ErrorList
	if !semanticEqual(*restored, *cmp) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	if newQ, oldQ := c.Spec.Resources.Requests[corev1.ResourceStorage], o.Spec.Resources.Requests[corev1.ResourceStorage]; o.Spec.VolumeName == "" && newQ.Cmp(oldQ) != 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	return errs
}

func pvStrategy() *typeStrategy {
	return &typeStrategy{
		status: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(pv *corev1.PersistentVolume) {
				if pv.Status.Phase == "" {
					pv.Status.Phase = corev1.VolumePending
				}
				if pv.Spec.PersistentVolumeReclaimPolicy == "" {
					pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
				}
				if pv.Spec.VolumeMode == nil {
					pv.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
				}
				if hp := pv.Spec.HostPath; hp != nil && hp.Type == nil {
					hp.Type = ptr.To(corev1.HostPathUnset)
				}
			})
		},
		prepareCreate: func(obj runtime.Object) {
			ifType(obj, func(pv *corev1.PersistentVolume) { pv.Status.Phase = corev1.VolumePending })
		},
		validate: func(obj runtime.Object) field.ErrorList {
			pv, ok := obj.(*corev1.PersistentVolume)
			if !ok {
				return nil
			}
			sp := field.NewPath("spec")
			var errs field.ErrorList
			if len(pv.Spec.AccessModes) == 0 {
				errs = append(errs, field.Required(sp.Child("accessModes"), ""))
			}
			if _, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok {
				errs = append(errs, field.Required(sp.Child("capacity"), ""))
			}
			errs = append(errs, validateEnum(string(pv.Spec.PersistentVolumeReclaimPolicy), sp.Child("persistentVolumeReclaimPolicy"),
				string(corev1.PersistentVolumeReclaimDelete), string(corev1.PersistentVolumeReclaimRecycle), string(corev1.PersistentVolumeReclaimRetain))...)
			return errs
		},
		columns: pvColumns(),
		row:     pvRow,
	}
}

func limitRangeStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(lr *corev1.LimitRange) {
				for i := range lr.Spec.Limits {
					defaultLimitRangeItem(&lr.Spec.Limits[i])
				}
			})
		},
	}
}

// defaultLimitRangeItem: for containers, default limits from max, default
// requests from default limits, then from min.
func defaultLimitRangeItem(it *corev1.LimitRangeItem) {
	if it.Type != corev1.LimitTypeContainer {
		return
	}
	if it.Default == nil {
		it.Default = corev1.ResourceList{}
	}
	if it.DefaultRequest == nil {
		it.DefaultRequest = corev1.ResourceList{}
	}
	for k, v := range it.Max {
		if _, ok := it.Default[k]; !ok {
			it.Default[k] = v.DeepCopy()
		}
	}
	for k, v := range it.Default {
		if _, ok := it.DefaultRequest[k]; !ok {
			it.DefaultRequest[k] = v.DeepCopy()
		}
	}
	for k, v := range it.Min {
		if _, ok := it.DefaultRequest[k]; !ok {
			it.DefaultRequest[k] = v.DeepCopy()
		}
	}
}

func endpointsStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(e *corev1.Endpoints) {
				for i := range e.Subsets {
					for j := range e.Subsets[i].Ports {
						if p := &e.Subsets[i].Ports[j]; p.Protocol == "" {
							p.Protocol = corev1.ProtocolTCP
						}
					}
				}
			})
		},
		columns: nameColumn().add("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]).age(),
		row:     endpointsRow,
	}
}

// formatResourceName is "<kind>.<group>/<name>" in lower case, as upstream
// prints controller references.
func formatResourceName(kind, name string, gv schema.GroupVersion) string {
	gk := schema.GroupKind{Group: gv.Group, Kind: kind}
	return strings.ToLower(gk.String()) + "/" + name
}

func schemaGroupVersion(apiVersion string) (schema.GroupVersion, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return gv, fmt.Errorf("parse apiVersion %q: %w", apiVersion, err)
	}
	return gv, nil
}

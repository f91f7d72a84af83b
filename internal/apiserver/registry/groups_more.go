package registry

import (
	"fmt"
	"net"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// Strategies of storage, node, admissionregistration, flowcontrol and the
// networking IP objects, with upstream's defaults and printers.

const (
	corev1ProtocolTCP           = corev1.ProtocolTCP
	corev1PreemptLowerPriority  = corev1.PreemptLowerPriority
	defaultStorageClassAnnotKey = "storageclass.kubernetes.io/is-default-class"
	betaDefaultStorageClassKey  = "storageclass.beta.kubernetes.io/is-default-class"
)

func storageClassStrategy() *typeStrategy {
	return &typeStrategy{
		defaults: func(obj runtime.Object) {
			ifType(obj, func(sc *storagev1.StorageClass) {
				if sc.ReclaimPolicy == nil {
					sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimDelete)
				}
				if sc.VolumeBindingMode == nil {
					sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingImmediate)
				}
			})
		},
		columns: nameColumn().
			add("Provisioner", "string", storagev1.StorageClass{}.SwaggerDoc()["provisioner"]).
			add("ReclaimPolicy", "string", storagev1.StorageClass{}.SwaggerDoc()["reclaimPolicy"]).
			add("VolumeBindingMode", "string", storagev1.StorageClass{}.SwaggerDoc()["volumeBindingMode"]).
			add("AllowVolumeExpansion", "string", storagev1.StorageClass{}.SwaggerDoc()["allowVolumeExpansion"]).
			age(),
		row: row("storageclass", func(sc *storagev1.StorageClass, now time.Time) []any {
			name := sc.Name
			if sc.Annotations[defaultStorageClassAnnotKey] == "true" || sc.Annotations[betaDefaultStorageClassKey] == "true" {
				name += " (default)"
			}
			reclaim := string(corev1.PersistentVolumeReclaimDelete)
			if sc.ReclaimPolicy != nil {
				reclaim = string(*sc.ReclaimPolicy)
			}
			binding := string(storagev1.VolumeBindingImmediate)
			if sc.VolumeBindingMode != nil {
				binding = string(*sc.VolumeBindingMode)
			}
			return []any{name, sc.Provisioner, reclaim, binding, ptr.Deref(sc.AllowVolumeExpansion, false), ageOf(sc, now)}
		}),
	}
}

func csiDriverStrategy() *typeStrategy {
	return &typeStrategy{
		defaults: func(obj runtime.Object) {
			ifType(obj, func(d *storagev1.CSIDriver) {
				s := &d.Spec
				if s.AttachRequired == nil {
					s.AttachRequired = ptr.To(true)
				}
				if s.PodInfoOnMount == nil {
					s.PodInfoOnMount = ptr.To(false)
				}
				if s.StorageCapacity == nil {
					s.StorageCapacity = ptr.To(false)
				}
				if s.FSGroupPolicy == nil {
					s.FSGroupPolicy = ptr.To(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
				}
				if len(s.VolumeLifecycleModes) == 0 {
					s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
				}
				if s.RequiresRepublish == nil {
					s.RequiresRepublish = ptr.To(false)
				}
			})
		},
		columns: nameColumn().
			add("AttachRequired", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["attachRequired"]).
			add("PodInfoOnMount", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["podInfoOnMount"]).
			add("StorageCapacity", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["storageCapacity"]).
			add("TokenRequests", "string", storagev1.CSIDriverSpec{}.SwaggerDoc()["tokenRequests"]).
			add("RequiresRepublish", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["requiresRepublish"]).
			add("Modes", "string", storagev1.CSIDriverSpec{}.SwaggerDoc()["volumeLifecycleModes"]).
			age(),
		row: row("csidriver", func(d *storagev1.CSIDriver, now time.Time) []any {
			var modes []string
			for _, m := range d.Spec.VolumeLifecycleModes {
				modes = append(modes, string(m))
			}
			tokens := "<unset>"
			if d.Spec.TokenRequests != nil {
				var aud []string
				for _, t := range d.Spec.TokenRequests {
					aud = append(aud, t.Audience)
				}
				tokens = strings.Join(aud, ",")
			}
			return []any{d.Name, ptr.Deref(d.Spec.AttachRequired, true), ptr.Deref(d.Spec.PodInfoOnMount, false),
				ptr.Deref(d.Spec.StorageCapacity, false), tokens, ptr.Deref(d.Spec.RequiresRepublish, false),
				orNone(strings.Join(modes, ",")), ageOf(d, now)}
		}),
	}
}

func csiNodeStrategy() *typeStrategy {
	return &typeStrategy{
		columns: nameColumn().add("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node").age(),
		row: row("csinode", func(n *storagev1.CSINode, now time.Time) []any {
			return []any{n.Name, int64(len(n.Spec.Drivers)), ageOf(n, now)}
		}),
	}
}

func volumeAttachmentStrategy() *typeStrategy {
	return &typeStrategy{
		status: true,
		columns: nameColumn().
			add("Attacher", "string", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"]).
			add("PV", "string", storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]).
			add("Node", "string", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"]).
			add("Attached", "boolean", storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]).
			age(),
		row: row("volumeattachment", func(va *storagev1.VolumeAttachment, now time.Time) []any {
			return []any{va.Name, va.Spec.Attacher, ptr.Deref(va.Spec.Source.PersistentVolumeName, ""), va.Spec.NodeName, va.Status.Attached, ageOf(va, now)}
		}),
	}
}

func volumeAttributesClassStrategy() *typeStrategy {
	return &typeStrategy{
		columns: nameColumn().add("DriverName", "string", storagev1.VolumeAttributesClass{}.SwaggerDoc()["driverName"]).age(),
		row: row("volumeattributesclass", func(v *storagev1.VolumeAttributesClass, now time.Time) []any {
			return []any{v.Name, v.DriverName, ageOf(v, now)}
		}),
	}
}

func runtimeClassStrategy() *typeStrategy {
	return &typeStrategy{
		columns: nameColumn().add("Handler", "string", nodev1.RuntimeClass{}.SwaggerDoc()["handler"]).age(),
		row: row("runtimeclass", func(rc *nodev1.RuntimeClass, now time.Time) []any {
			return []any{rc.Name, rc.Handler, ageOf(rc, now)}
		}),
	}
}

// webhookStrategy serves both webhook configurations: generation moves
// with the webhooks list, as upstream.
func webhookStrategy(mutating bool) *typeStrategy {
	s := &typeStrategy{
		generation: true,
		columns:    nameColumn().add("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration").age(),
	}
	if mutating {
		s.specChanged = func(obj, old runtime.Object) bool {
			a, ok1 := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
			b, ok2 := old.(*admissionregistrationv1.MutatingWebhookConfiguration)
			return ok1 && ok2 && !semanticEqual(a.Webhooks, b.Webhooks)
		}
		s.row = row("mutatingwebhookconfiguration", func(c *admissionregistrationv1.MutatingWebhookConfiguration, now time.Time) []any {
			return []any{c.Name, int64(len(c.Webhooks)), ageOf(c, now)}
		})
		return s
	}
	s.specChanged = func(obj, old runtime.Object) bool {
		a, ok1 := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
		b, ok2 := old.(*admissionregistrationv1.ValidatingWebhookConfiguration)
		return ok1 && ok2 && !semanticEqual(a.Webhooks, b.Webhooks)
	}
	s.row = row("validatingwebhookconfiguration", func(c *admissionregistrationv1.ValidatingWebhookConfiguration, now time.Time) []any {
		return []any{c.Name, int64(len(c.Webhooks)), ageOf(c, now)}
	})
	return s
}

func flowSchemaStrategy() *typeStrategy {
	return &typeStrategy{
		status: true, generation: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(fs *flowcontrolv1.FlowSchema) {
				if fs.Spec.MatchingPrecedence == 0 {
					fs.Spec.MatchingPrecedence = 1000
				}
			})
		},
		columns: nameColumn().
			add("PriorityLevel", "string", flowcontrolv1.PriorityLevelConfigurationReference{}.SwaggerDoc()["name"]).
			add("MatchingPrecedence", "string", flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()["matchingPrecedence"]).
			add("DistinguisherMethod", "string", flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()["distinguisherMethod"]).
			age().
			add("MissingPL", "string", "indicates whether the referenced priority level exists"),
		row: row("flowschema", func(fs *flowcontrolv1.FlowSchema, now time.Time) []any {
			method := "<none>"
			if fs.Spec.DistinguisherMethod != nil {
				method = string(fs.Spec.DistinguisherMethod.Type)
			}
			missing := "?"
			for _, c := range fs.Status.Conditions {
				if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
					missing = string(c.Status)
					break
				}
			}
			return []any{fs.Name, fs.Spec.PriorityLevelConfiguration.Name, int64(fs.Spec.MatchingPrecedence), method, ageOf(fs, now), missing}
		}),
	}
}

func priorityLevelStrategy() *typeStrategy {
	return &typeStrategy{
		status: true, generation: true,
		defaults: func(obj runtime.Object) { ifType(obj, defaultPriorityLevel) },
		columns: nameColumn().
			add("Type", "string", flowcontrolv1.PriorityLevelConfigurationSpec{}.SwaggerDoc()["type"]).
			add("NominalConcurrencyShares", "string", flowcontrolv1.LimitedPriorityLevelConfiguration{}.SwaggerDoc()["nominalConcurrencyShares"]).
			add("Queues", "string", flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()["queues"]).
			add("HandSize", "string", flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()["handSize"]).
			add("QueueLengthLimit", "string", flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()["queueLengthLimit"]).
			age(),
		row: row("prioritylevelconfiguration", func(p *flowcontrolv1.PriorityLevelConfiguration, now time.Time) []any {
			var ncs, queues, hand, qlen any = "<none>", "<none>", "<none>", "<none>"
			if l := p.Spec.Limited; l != nil {
				ncs = int64(ptr.Deref(l.NominalConcurrencyShares, 0))
				if q := l.LimitResponse.Queuing; q != nil {
					queues, hand, qlen = int64(q.Queues), int64(q.HandSize), int64(q.QueueLengthLimit)
				}
			}
			return []any{p.Name, string(p.Spec.Type), ncs, queues, hand, qlen, ageOf(p, now)}
		}),
	}
}

func defaultPriorityLevel(p *flowcontrolv1.PriorityLevelConfiguration) {
	if e := p.Spec.Exempt; e != nil {
		if e.NominalConcurrencyShares == nil {
			e.NominalConcurrencyShares = ptr.To[int32](0)
		}
		if e.LendablePercent == nil {
			e.LendablePercent = ptr.To[int32](0)
		}
	}
	l := p.Spec.Limited
	if l == nil {
		return
	}
	if l.NominalConcurrencyShares == nil {
		l.NominalConcurrencyShares = ptr.To[int32](30)
	}
	if l.LendablePercent == nil {
		l.LendablePercent = ptr.To[int32](0)
	}
	if q := l.LimitResponse.Queuing; q != nil {
		if q.Queues == 0 {
			q.Queues = 64
		}
		if q.HandSize == 0 {
			q.HandSize = 8
		}
		if q.QueueLengthLimit == 0 {
			q.QueueLengthLimit = 50
		}
	}
}

func serviceCIDRStrategy() *typeStrategy {
	return &typeStrategy{
		status:  true,
		columns: nameColumn().add("CIDRs", "string", networkingv1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"]).age(),
		row: row("servicecidr", func(c *networkingv1.ServiceCIDR, now time.Time) []any {
			return []any{c.Name, strings.Join(c.Spec.CIDRs, ","), ageOf(c, now)}
		}),
	}
}

func ipAddressStrategy() *typeStrategy {
	return &typeStrategy{
		nameFn: func(name string, prefix bool) []string {
			if prefix {
				return []string{"generateName is not supported"}
			}
			ip := net.ParseIP(name)
			if ip == nil {
				return []string{"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"}
			}
			if ip.String() != name {
				return []string{fmt.Sprintf("must be in canonical form (%q)", ip.String())}
			}
			return nil
		},
		columns: nameColumn().add("ParentRef", "string", networkingv1.IPAddressSpec{}.SwaggerDoc()["parentRef"]),
		row: row("ipaddress", func(ip *networkingv1.IPAddress, _ time.Time) []any {
			parent := "<none>"
			if r := ip.Spec.ParentRef; r != nil {
				parent = groupResourceName(r.Group, r.Resource) + "/" + r.Namespace + "/" + r.Name
			}
			return []any{ip.Name, parent}
		}),
	}
}

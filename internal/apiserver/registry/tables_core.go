package registry

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Printers of core/v1 types other than pods and services.

func namespaceRow(obj runtime.Object, now time.Time) ([]any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, fmt.Errorf("print namespace: unexpected %T", obj)
	}
	return []any{ns.Name, string(ns.Status.Phase), ageOf(ns, now)}, nil
}

func configMapRow(obj runtime.Object, now time.Time) ([]any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return nil, fmt.Errorf("print configmap: unexpected %T", obj)
	}
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), ageOf(cm, now)}, nil
}

func secretRow(obj runtime.Object, now time.Time) ([]any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return nil, fmt.Errorf("print secret: unexpected %T", obj)
	}
	return []any{s.Name, string(s.Type), int64(len(s.Data)), ageOf(s, now)}, nil
}

func serviceAccountRow(obj runtime.Object, now time.Time) ([]any, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return nil, fmt.Errorf("print serviceaccount: unexpected %T", obj)
	}
	return []any{sa.Name, int64(len(sa.Secrets)), ageOf(sa, now)}, nil
}

func nodeColumns() []metav1.TableColumnDefinition {
	info := corev1.NodeSystemInfo{}.SwaggerDoc()
	addrs := corev1.NodeStatus{}.SwaggerDoc()["addresses"]
	return nameColumn().
		add("Status", "string", "The status of the node").
		add("Roles", "string", "The roles of the node").
		age().
		add("Version", "string", info["kubeletVersion"]).
		wide("Internal-IP", "string", addrs).
		wide("External-IP", "string", addrs).
		wide("OS-Image", "string", info["osImage"]).
		wide("Kernel-Version", "string", info["kernelVersion"]).
		wide("Container-Runtime", "string", info["containerRuntimeVersion"])
}

func nodeRow(obj runtime.Object, now time.Time) ([]any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return nil, fmt.Errorf("print node: unexpected %T", obj)
	}
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
			break
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	roles := orNone(strings.Join(nodeRoles(n.Labels), ","))
	info := n.Status.NodeInfo
	return []any{n.Name, status, roles, ageOf(n, now), info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
		orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion)}, nil
}

func nodeRoles(labels map[string]string) []string {
	var roles []string
	for k, v := range labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if role := strings.TrimPrefix(k, "node-role.kubernetes.io/"); role != "" {
				roles = append(roles, role)
			}
		case k == "kubernetes.io/role" && v != "":
			roles = append(roles, v)
		}
	}
	return sortedSet(roles)
}

func nodeAddress(n *corev1.Node, typ corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == typ {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

func pvColumns() []metav1.TableColumnDefinition {
	spec, st := corev1.PersistentVolumeSpec{}.SwaggerDoc(), corev1.PersistentVolumeStatus{}.SwaggerDoc()
	return nameColumn().
		add("Capacity", "string", spec["capacity"]).
		add("Access Modes", "string", spec["accessModes"]).
		add("Reclaim Policy", "string", spec["persistentVolumeReclaimPolicy"]).
		add("Status", "string", st["phase"]).
		add("Claim", "string", spec["claimRef"]).
		add("StorageClass", "string", "StorageClass of the pv").
		add("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv").
		add("Reason", "string", st["reason"]).
		age().
		wide("VolumeMode", "string", spec["volumeMode"])
}

func pvRow(obj runtime.Object, now time.Time) ([]any, error) {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return nil, fmt.Errorf("print persistentvolume: unexpected %T", obj)
	}
	claim := ""
	if r := pv.Spec.ClaimRef; r != nil {
		claim = r.Namespace + "/" + r.Name
	}
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	storage := pv.Spec.Capacity[corev1.ResourceStorage]
	var class *string
	if pv.Spec.StorageClassName != "" {
		class = &pv.Spec.StorageClassName
	}
	return []any{pv.Name, storage.String(), accessModes(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase, claim, storageClassOf(pv.Annotations, class), unsetIfEmpty(pv.Spec.VolumeAttributesClassName),
		pv.Status.Reason, ageOf(pv, now), volumeModeCell(pv.Spec.VolumeMode)}, nil
}

func unsetIfEmpty(s *string) string {
	if s == nil || *s == "" {
		return "<unset>"
	}
	return *s
}

func volumeModeCell(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func pvcColumns() []metav1.TableColumnDefinition {
	return nameColumn().
		add("Status", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]).
		add("Volume", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]).
		add("Capacity", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]).
		add("Access Modes", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]).
		add("StorageClass", "string", "StorageClass of the pvc").
		add("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc").
		age().
		wide("VolumeMode", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"])
}

func pvcRow(obj runtime.Object, now time.Time) ([]any, error) {
	c, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil, fmt.Errorf("print persistentvolumeclaim: unexpected %T", obj)
	}
	phase := string(c.Status.Phase)
	if c.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, modes := "", ""
	if c.Spec.VolumeName != "" {
		modes = accessModes(c.Status.AccessModes)
		q := c.Status.Capacity[corev1.ResourceStorage]
		capacity = q.String()
	}
	return []any{c.Name, phase, c.Spec.VolumeName, capacity, modes, storageClassOf(c.Annotations, c.Spec.StorageClassName),
		unsetIfEmpty(c.Spec.VolumeAttributesClassName), ageOf(c, now), volumeModeCell(c.Spec.VolumeMode)}, nil
}

func endpointsRow(obj runtime.Object, now time.Time) ([]any, error) {
	e, ok := obj.(*corev1.Endpoints)
	if !ok {
		return nil, fmt.Errorf("print endpoints: unexpected %T", obj)
	}
	return []any{e.Name, formatEndpoints(e), ageOf(e, now)}, nil
}

// formatEndpoints lists up to three ready ip[:port] entries, port-major.
func formatEndpoints(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	count := 0
	more := false
	add := func(s string) {
		if len(list) == max {
			more = true
			return
		}
		list = append(list, s)
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	s := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", s, count-max)
	}
	return s
}

func eventColumns() []metav1.TableColumnDefinition {
	doc := corev1.Event{}.SwaggerDoc()
	return columnSet{}.
		add("Last Seen", "string", doc["lastTimestamp"]).
		add("Type", "string", doc["type"]).
		add("Reason", "string", doc["reason"]).
		add("Object", "string", doc["involvedObject"]).
		wide("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]).
		wide("Source", "string", doc["source"]).
		add("Message", "string", doc["message"]).
		wide("First Seen", "string", doc["firstTimestamp"]).
		wide("Count", "string", doc["count"]).
		append(metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: objectMetaDoc("name")})
}

func (c columnSet) append(d metav1.TableColumnDefinition) columnSet { return append(c, d) }

func eventRow(obj runtime.Object, now time.Time) ([]any, error) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return nil, fmt.Errorf("print event: unexpected %T", obj)
	}
	first := since(e.FirstTimestamp, now)
	if e.FirstTimestamp.IsZero() {
		first = sinceMicro(e.EventTime, now)
	}
	last := since(e.LastTimestamp, now)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = sinceMicro(e.Series.LastObservedTime, now)
		count = e.Series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	source := firstNonEmpty(e.Source.Component, e.ReportingController)
	if host := firstNonEmpty(e.Source.Host, e.ReportingInstance); host != "" {
		source += ", " + host
	}
	return []any{last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath, source, strings.TrimSpace(e.Message),
		first, int64(count), e.Name}, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func resourceQuotaColumns() []metav1.TableColumnDefinition {
	return nameColumn().
		add("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume.").
		add("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.").
		age()
}

func resourceQuotaRow(obj runtime.Object, now time.Time) ([]any, error) {
	q, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return nil, fmt.Errorf("print resourcequota: unexpected %T", obj)
	}
	names := make([]string, 0, len(q.Status.Hard))
	for n := range q.Status.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	var req, lim []string
	for _, n := range names {
		used := q.Status.Used[corev1.ResourceName(n)]
		hard := q.Status.Hard[corev1.ResourceName(n)]
		entry := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
		if pieces := strings.Split(n, "."); len(pieces) > 1 && pieces[0] == "limits" {
			lim = append(lim, entry)
		} else {
			req = append(req, entry)
		}
	}
	return []any{q.Name, strings.Join(req, ", "), strings.Join(lim, ", "), ageOf(q, now)}, nil
}

func podTemplateStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		defaults:   func(obj runtime.Object) { ifType(obj, func(t *corev1.PodTemplate) { defaultPodTemplate(&t.Template) }) },
		validate: func(obj runtime.Object) field.ErrorList {
			t, ok := obj.(*corev1.PodTemplate)
			if !ok {
				return nil
			}
			return validateTemplate(&t.Template, nil, field.NewPath("template"), false, "")
		},
		columns: nameColumn().
			add("Containers", "string", containersDoc).
			add("Images", "string", imagesDoc).
			add("Pod Labels", "string", "The labels for the pod template."),
		row: func(obj runtime.Object, _ time.Time) ([]any, error) {
			t, ok := obj.(*corev1.PodTemplate)
			if !ok {
				return nil, fmt.Errorf("print podtemplate: unexpected %T", obj)
			}
			names, images := containerCells(t.Template.Spec.Containers)
			return []any{t.Name, names, images, formatLabels(t.Template.Labels)}, nil
		},
	}
}

func componentStatusStrategy() *typeStrategy {
	return &typeStrategy{
		columns: nameColumn().
			add("Status", "string", "Status of the component conditions").
			add("Message", "string", "Message of the component conditions").
			add("Error", "string", "Error of the component conditions"),
		row: func(obj runtime.Object, _ time.Time) ([]any, error) {
			cs, ok := obj.(*corev1.ComponentStatus)
			if !ok {
				return nil, fmt.Errorf("print componentstatus: unexpected %T", obj)
			}
			status, message, errText := "Unknown", "", ""
			for _, c := range cs.Conditions {
				if c.Type == corev1.ComponentHealthy {
					status = "Unhealthy"
					if c.Status == corev1.ConditionTrue {
						status = "Healthy"
					}
					message, errText = c.Message, c.Error
					break
				}
			}
			return []any{cs.Name, status, message, errText}, nil
		},
	}
}

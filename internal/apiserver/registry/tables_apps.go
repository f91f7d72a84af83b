package registry

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Printers of workloads: printDeployment, printReplicaSet,
// printReplicationController, printStatefulSet, printDaemonSet,
// printControllerRevision.

const (
	containersDoc = "Names of each container in the template."
	imagesDoc     = "Images referenced by each container in the template."
)

func (c columnSet) templateWide(selectorDoc string) columnSet {
	c = c.wide("Containers", "string", containersDoc).wide("Images", "string", imagesDoc)
	if selectorDoc != "" {
		c = c.wide("Selector", "string", selectorDoc)
	}
	return c
}

func deploymentColumns() []metav1.TableColumnDefinition {
	return nameColumn().
		add("Ready", "string", "Number of the pod with ready state").
		add("Up-to-date", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]).
		add("Available", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]).
		age().templateWide(appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])
}

func deploymentRow(obj runtime.Object, now time.Time) ([]any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return nil, fmt.Errorf("print deployment: unexpected %T", obj)
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	sel := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		sel = s.String()
	}
	return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, int32PtrCell(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), ageOf(d, now), names, images, sel}, nil
}

func replicaSetColumns() []metav1.TableColumnDefinition {
	return nameColumn().
		add("Desired", "integer", appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]).
		add("Current", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]).
		add("Ready", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]).
		age().templateWide(appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"])
}

func replicaSetRow(obj runtime.Object, now time.Time) ([]any, error) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return nil, fmt.Errorf("print replicaset: unexpected %T", obj)
	}
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []any{rs.Name, int32PtrCell(rs.Spec.Replicas), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
		ageOf(rs, now), names, images, formatSelector(rs.Spec.Selector)}, nil
}

func replicationControllerColumns() []metav1.TableColumnDefinition {
	return nameColumn().
		add("Desired", "integer", corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]).
		add("Current", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]).
		add("Ready", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]).
		age().templateWide(corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"])
}

func replicationControllerRow(obj runtime.Object, now time.Time) ([]any, error) {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return nil, fmt.Errorf("print replicationcontroller: unexpected %T", obj)
	}
	var names, images string
	if rc.Spec.Template != nil {
		names, images = containerCells(rc.Spec.Template.Spec.Containers)
	}
	return []any{rc.Name, int32PtrCell(rc.Spec.Replicas), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
		ageOf(rc, now), names, images, formatLabels(rc.Spec.Selector)}, nil
}

func statefulSetColumns() []metav1.TableColumnDefinition {
	return nameColumn().add("Ready", "string", "Number of the pod with ready state").age().templateWide("")
}

func statefulSetRow(obj runtime.Object, now time.Time) ([]any, error) {
	ss, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return nil, fmt.Errorf("print statefulset: unexpected %T", obj)
	}
	names, images := containerCells(ss.Spec.Template.Spec.Containers)
	return []any{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, int32PtrCell(ss.Spec.Replicas)), ageOf(ss, now), names, images}, nil
}

func daemonSetColumns() []metav1.TableColumnDefinition {
	doc := appsv1.DaemonSetStatus{}.SwaggerDoc()
	return nameColumn().
		add("Desired", "integer", doc["desiredNumberScheduled"]).
		add("Current", "integer", doc["currentNumberScheduled"]).
		add("Ready", "integer", doc["numberReady"]).
		add("Up-to-date", "integer", doc["updatedNumberScheduled"]).
		add("Available", "integer", doc["numberAvailable"]).
		add("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]).
		age().templateWide(appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"])
}

func daemonSetRow(obj runtime.Object, now time.Time) ([]any, error) {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return nil, fmt.Errorf("print daemonset: unexpected %T", obj)
	}
	names, images := containerCells(ds.Spec.Template.Spec.Containers)
	st := ds.Status
	return []any{ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
		int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable), formatLabels(ds.Spec.Template.Spec.NodeSelector),
		ageOf(ds, now), names, images, formatSelector(ds.Spec.Selector)}, nil
}

func controllerRevisionStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		columns: nameColumn().
			add("Controller", "string", "Controller of the object").
			add("Revision", "integer", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]).
			age(),
		row: func(obj runtime.Object, now time.Time) ([]any, error) {
			cr, ok := obj.(*appsv1.ControllerRevision)
			if !ok {
				return nil, fmt.Errorf("print controllerrevision: unexpected %T", obj)
			}
			controller := "<none>"
			if ref := metav1.GetControllerOf(cr); ref != nil {
				gv, err := schemaGroupVersion(ref.APIVersion)
				if err != nil {
					return nil, err
				}
				controller = formatResourceName(ref.Kind, ref.Name, gv)
			}
			return []any{cr.Name, controller, cr.Revision, ageOf(cr, now)}, nil
		},
	}
}

func selectorFromSet(set map[string]string) labels.Selector {
	if len(set) == 0 {
		return nil
	}
	return labels.SelectorFromSet(set)
}

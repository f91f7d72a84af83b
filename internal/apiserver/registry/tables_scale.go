package registry

import (
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScaleTableColumns are upstream's columns for an autoscaling/v1 Scale
// (printScale), what `kubectl get <workload> <name> --subresource=scale`
// prints: NAME, DESIRED, AVAILABLE, AGE. Unlike other printers', the Name
// column of a Scale carries no "name" format upstream.
func ScaleTableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Description: objectMetaDoc("name")},
		{Name: "Desired", Type: "integer", Description: autoscalingv1.ScaleSpec{}.SwaggerDoc()["replicas"]},
		{Name: "Available", Type: "integer", Description: autoscalingv1.ScaleStatus{}.SwaggerDoc()["replicas"]},
		{Name: "Age", Type: "string", Description: objectMetaDoc("creationTimestamp")},
	}
}

// ScaleTableRow is the row of a Scale for ScaleTableColumns: the desired
// (spec) and current (status) replica counts.
func ScaleTableRow(s *autoscalingv1.Scale, now time.Time) []any {
	return []any{s.Name, int64(s.Spec.Replicas), int64(s.Status.Replicas), since(s.CreationTimestamp, now)}
}

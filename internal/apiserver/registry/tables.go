package registry

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Table helpers shared by the per-type printers. Column names, types,
// formats and priorities follow upstream's printers
// (pkg/printers/internalversion); descriptions come from the API types'
// field documentation, as upstream's do.

func objectMetaDoc(field string) string { return metav1.ObjectMeta{}.SwaggerDoc()[field] }

// defaultColumns are upstream's columns for resources without a printer:
// Name and Created At (an RFC 3339 date, not an age).
func defaultColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc("name")},
		{Name: "Created At", Type: "date", Description: objectMetaDoc("creationTimestamp")},
	}
}

func defaultRow(obj runtime.Object) ([]any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("print %T: %w", obj, err)
	}
	return []any{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}, nil
}

// columns builds column definitions: Name first, then each (name, type,
// description) triple at priority 0; wide() marks the rest as priority 1.
type columnSet []metav1.TableColumnDefinition

func nameColumn() columnSet {
	return columnSet{{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc("name")}}
}

func (c columnSet) add(name, typ, desc string) columnSet {
	return append(c, metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc})
}

func (c columnSet) age() columnSet { return c.add("Age", "string", objectMetaDoc("creationTimestamp")) }

func (c columnSet) wide(name, typ, desc string) columnSet {
	return append(c, metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc, Priority: 1})
}

// since is upstream's translateTimestampSince: HumanDuration of now-t, or
// <unknown> for a zero time.
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func sinceMicro(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func ageOf(m metav1.Object, now time.Time) string { return since(m.GetCreationTimestamp(), now) }

// formatLabels is labels.FormatLabels: sorted k=v, or <none>.
func formatLabels(m map[string]string) string { return labels.FormatLabels(m) }

// formatSelector is metav1.FormatLabelSelector: <none> for nil or empty.
func formatSelector(s *metav1.LabelSelector) string { return metav1.FormatLabelSelector(s) }

// containerCells are the wide CONTAINERS and IMAGES cells.
func containerCells(containers []corev1.Container) (string, string) {
	names := make([]string, 0, len(containers))
	images := make([]string, 0, len(containers))
	for _, c := range containers {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

// listWithMore joins up to max items and adds " + N more..." as upstream.
func listWithMore(items []string, max, total int, sep string) string {
	if len(items) > max {
		items = items[:max]
	}
	s := strings.Join(items, sep)
	if total > max {
		s += fmt.Sprintf(" + %d more...", total-max)
	}
	return s
}

// sortedSet returns the unique values sorted.
func sortedSet(values []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// accessModes is GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

// storageClassOf prefers the beta annotation over spec.storageClassName.
func storageClassOf(annotations map[string]string, name *string) string {
	if c, ok := annotations[corev1.BetaStorageClassAnnotation]; ok {
		return c
	}
	if name != nil {
		return *name
	}
	return ""
}

// boolPtrCell is printBoolPtr: True/False, or <unset>.
func boolPtrCell(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	if *b {
		return "True"
	}
	return "False"
}

func int32PtrCell(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

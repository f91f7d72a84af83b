package describe

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// printEvents writes the Events section: `Events:⇥<none>` or the table
// sorted by last timestamp.
func printEvents(w *prefixWriter, events []corev1.Event) {
	if len(events) == 0 {
		w.Write(L0, "Events:\t<none>\n")
		return
	}
	evs := append([]corev1.Event(nil), events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].LastTimestamp.Before(&evs[j].LastTimestamp) })
	w.Write(L0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
	w.Write(L1, "----\t------\t----\t----\t-------\n")
	for _, e := range evs {
		first := since(e.FirstTimestamp)
		if !e.EventTime.IsZero() {
			first = since(metav1.Time{Time: e.EventTime.Time})
		}
		age := first
		switch {
		case e.Series != nil:
			age = fmt.Sprintf("%s (x%d over %s)", since(metav1.Time{Time: e.Series.LastObservedTime.Time}), e.Series.Count, first)
		case e.Count > 1:
			age = fmt.Sprintf("%s (x%d over %s)", since(e.LastTimestamp), e.Count, first)
		}
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		msg := strings.TrimSpace(e.Message)
		if e.InvolvedObject.FieldPath != "" {
			msg = e.InvolvedObject.FieldPath + ": " + msg
		}
		w.Write(L1, "%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, age, from, msg)
	}
}

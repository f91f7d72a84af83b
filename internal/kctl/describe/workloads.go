package describe

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
)

func metav1FormatSelector(s *metav1.LabelSelector) string { return metav1.FormatLabelSelector(s) }

// podStatusCounts counts the pods matching selector whose controller is
// uid, by phase: running, waiting (pending), succeeded, failed.
func podStatusCounts(ctx context.Context, d *Describer, ns, selector string, uid types.UID) (r, w, s, f int, err error) {
	pods, err := listTyped[corev1.Pod](ctx, d, gvrPods, ns, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != uid {
			continue
		}
		switch p.Status.Phase {
		case corev1.PodRunning:
			r++
		case corev1.PodPending:
			w++
		case corev1.PodSucceeded:
			s++
		case corev1.PodFailed:
			f++
		}
	}
	return
}

func writePodsStatus(ctx context.Context, d *Describer, w *prefixWriter, ns, selector string, uid types.UID) {
	r, wa, s, f, err := podStatusCounts(ctx, d, ns, selector, uid)
	if err != nil {
		w.Write(L0, "Pods Status:\terror in fetching pods: %s\n", err)
		return
	}
	w.Write(L0, "Pods Status:\t%d Running / %d Waiting / %d Succeeded / %d Failed\n", r, wa, s, f)
}

func writeConditions3(w *prefixWriter, conds [][3]string) {
	if len(conds) == 0 {
		return
	}
	w.Write(L0, "Conditions:\n  Type\tStatus\tReason\n")
	w.Write(L1, "----\t------\t------\n")
	for _, c := range conds {
		w.Write(L1, "%v \t%v\t%v\n", c[0], c[1], c[2])
	}
}

func describeDeployment(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	dep, err := into[appsv1.Deployment](u)
	if err != nil {
		return "", err
	}
	sel, _ := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	rss, _ := listTyped[appsv1.ReplicaSet](ctx, d, gvrReplicaSets, dep.Namespace, metav1.ListOptions{LabelSelector: sel.String()})
	var owned []appsv1.ReplicaSet
	for _, rs := range rss {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == dep.UID {
			owned = append(owned, rs)
		}
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", dep.Name)
		w.Write(L0, "Namespace:\t%s\n", dep.Namespace)
		w.Write(L0, "CreationTimestamp:\t%s\n", timeString(dep.CreationTimestamp))
		printLabels(w, "Labels", dep.Labels, L0)
		printAnnotations(w, dep.Annotations, L0)
		w.Write(L0, "Selector:\t%s\n", metav1.FormatLabelSelector(dep.Spec.Selector))
		replicas := int32(1)
		if dep.Spec.Replicas != nil {
			replicas = *dep.Spec.Replicas
		}
		st := dep.Status
		w.Write(L0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable\n",
			replicas, st.UpdatedReplicas, st.Replicas, st.AvailableReplicas, st.UnavailableReplicas)
		w.Write(L0, "StrategyType:\t%s\n", dep.Spec.Strategy.Type)
		w.Write(L0, "MinReadySeconds:\t%d\n", dep.Spec.MinReadySeconds)
		if ru := dep.Spec.Strategy.RollingUpdate; ru != nil {
			w.Write(L0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", ru.MaxUnavailable.String(), ru.MaxSurge.String())
		}
		describePodTemplate(w, &dep.Spec.Template)
		var conds [][3]string
		for _, c := range dep.Status.Conditions {
			conds = append(conds, [3]string{string(c.Type), string(c.Status), c.Reason})
		}
		writeConditions3(w, conds)
		if len(owned) > 0 {
			newRS, old := splitReplicaSets(dep, owned)
			w.Write(L0, "OldReplicaSets:\t%s\n", rsList(old))
			w.Write(L0, "NewReplicaSet:\t%s\n", rsList(newRS))
		}
		d.withEvents(ctx, u, w)
		return nil
	})
}

// splitReplicaSets finds the ReplicaSet whose template equals the
// deployment's (ignoring the pod-template-hash label) and the old ones.
func splitReplicaSets(dep *appsv1.Deployment, rss []appsv1.ReplicaSet) (newRS, old []appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool { return rss[i].CreationTimestamp.Before(&rss[j].CreationTimestamp) })
	rev := dep.Annotations["deployment.kubernetes.io/revision"]
	for _, rs := range rss {
		if rev != "" && rs.Annotations["deployment.kubernetes.io/revision"] == rev && newRS == nil {
			newRS = append(newRS, rs)
			continue
		}
		if rs.Spec.Replicas != nil && *rs.Spec.Replicas == 0 && rs.Status.Replicas == 0 {
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

func rsList(rss []appsv1.ReplicaSet) string {
	var parts []string
	for _, rs := range rss {
		want := int32(0)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		parts = append(parts, fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, want))
	}
	return joinOrNone(parts, ", ")
}

func describeReplicaSet(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	rs, err := into[appsv1.ReplicaSet](u)
	if err != nil {
		return "", err
	}
	sel, _ := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", rs.Name)
		w.Write(L0, "Namespace:\t%s\n", rs.Namespace)
		w.Write(L0, "Selector:\t%s\n", metav1.FormatLabelSelector(rs.Spec.Selector))
		printLabels(w, "Labels", rs.Labels, L0)
		printAnnotations(w, rs.Annotations, L0)
		if c := controllerOf(rs.OwnerReferences); c != "" {
			w.Write(L0, "Controlled By:\t%s\n", c)
		}
		w.Write(L0, "Replicas:\t%d current / %d desired\n", rs.Status.Replicas, ptrOr(rs.Spec.Replicas, 1))
		writePodsStatus(ctx, d, w, rs.Namespace, sel.String(), rs.UID)
		describePodTemplate(w, &rs.Spec.Template)
		var conds [][3]string
		for _, c := range rs.Status.Conditions {
			conds = append(conds, [3]string{string(c.Type), string(c.Status), c.Reason})
		}
		writeConditions3(w, conds)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describeRC(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	rc, err := into[corev1.ReplicationController](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", rc.Name)
		w.Write(L0, "Namespace:\t%s\n", rc.Namespace)
		w.Write(L0, "Selector:\t%s\n", labels.FormatLabels(rc.Spec.Selector))
		printLabels(w, "Labels", rc.Labels, L0)
		printAnnotations(w, rc.Annotations, L0)
		w.Write(L0, "Replicas:\t%d current / %d desired\n", rc.Status.Replicas, ptrOr(rc.Spec.Replicas, 1))
		writePodsStatus(ctx, d, w, rc.Namespace, labels.SelectorFromSet(rc.Spec.Selector).String(), rc.UID)
		describePodTemplate(w, rc.Spec.Template)
		var conds [][3]string
		for _, c := range rc.Status.Conditions {
			conds = append(conds, [3]string{string(c.Type), string(c.Status), c.Reason})
		}
		writeConditions3(w, conds)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func describeStatefulSet(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	ss, err := into[appsv1.StatefulSet](u)
	if err != nil {
		return "", err
	}
	sel, _ := metav1.LabelSelectorAsSelector(ss.Spec.Selector)
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", ss.Name)
		w.Write(L0, "Namespace:\t%s\n", ss.Namespace)
		w.Write(L0, "CreationTimestamp:\t%s\n", timeString(ss.CreationTimestamp))
		w.Write(L0, "Selector:\t%s\n", metav1.FormatLabelSelector(ss.Spec.Selector))
		printLabels(w, "Labels", ss.Labels, L0)
		printAnnotations(w, ss.Annotations, L0)
		if ss.Spec.ServiceName != "" {
			w.Write(L0, "Service Name:\t%s\n", ss.Spec.ServiceName)
		}
		if ss.Spec.PodManagementPolicy != "" {
			w.Write(L0, "Pod Management Policy:\t%s\n", ss.Spec.PodManagementPolicy)
		}
		w.Write(L0, "Replicas:\t%d desired | %d total\n", ptrOr(ss.Spec.Replicas, 1), ss.Status.Replicas)
		w.Write(L0, "Update Strategy:\t%s\n", ss.Spec.UpdateStrategy.Type)
		if ru := ss.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			if ru.Partition != nil {
				w.Write(L1, "Partition:\t%d\n", *ru.Partition)
			}
			if ru.MaxUnavailable != nil {
				w.Write(L1, "MaxUnavailable:\t%s\n", ru.MaxUnavailable.String())
			}
		}
		if p := ss.Spec.PersistentVolumeClaimRetentionPolicy; p != nil {
			w.Write(L0, "Persistent Volume Claim Retention Policy:\n")
			w.Write(L1, "WhenDeleted:\t%s\n", p.WhenDeleted)
			w.Write(L1, "WhenScaled:\t%s\n", p.WhenScaled)
		}
		writePodsStatus(ctx, d, w, ss.Namespace, sel.String(), ss.UID)
		describePodTemplate(w, &ss.Spec.Template)
		describeClaimTemplates(w, ss.Spec.VolumeClaimTemplates)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describeClaimTemplates(w *prefixWriter, ts []corev1.PersistentVolumeClaim) {
	if len(ts) == 0 {
		w.Write(L0, "Volume Claims:\t<none>\n")
		return
	}
	w.Write(L0, "Volume Claims:\n")
	for _, pvc := range ts {
		w.Write(L1, "Name:\t%s\n", pvc.Name)
		w.Write(L1, "StorageClass:\t%s\n", storageClassOf(pvc.Annotations, pvc.Spec.StorageClassName))
		printLabels(w, "  Labels", pvc.Labels, L0)
		printLabels(w, "  Annotations", pvc.Annotations, L0)
		capacity := "<default>"
		if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			capacity = q.String()
		}
		w.Write(L1, "Capacity:\t%s\n", capacity)
		w.Write(L1, "Access Modes:\t%s\n", pvc.Spec.AccessModes)
	}
}

func describeDaemonSet(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	ds, err := into[appsv1.DaemonSet](u)
	if err != nil {
		return "", err
	}
	sel, _ := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", ds.Name)
		w.Write(L0, "Namespace:\t%s\n", ds.Namespace)
		w.Write(L0, "Selector:\t%s\n", metav1.FormatLabelSelector(ds.Spec.Selector))
		w.Write(L0, "Node-Selector:\t%s\n", labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector))
		printLabels(w, "Labels", ds.Labels, L0)
		printAnnotations(w, ds.Annotations, L0)
		st := ds.Status
		w.Write(L0, "Desired Number of Nodes Scheduled: %d\n", st.DesiredNumberScheduled)
		w.Write(L0, "Current Number of Nodes Scheduled: %d\n", st.CurrentNumberScheduled)
		w.Write(L0, "Number of Nodes Scheduled with Up-to-date Pods: %d\n", st.UpdatedNumberScheduled)
		w.Write(L0, "Number of Nodes Scheduled with Available Pods: %d\n", st.NumberAvailable)
		w.Write(L0, "Number of Nodes Misscheduled: %d\n", st.NumberMisscheduled)
		writePodsStatus(ctx, d, w, ds.Namespace, sel.String(), ds.UID)
		describePodTemplate(w, &ds.Spec.Template)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describeJob(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	job, err := into[batchv1.Job](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", job.Name)
		w.Write(L0, "Namespace:\t%s\n", job.Namespace)
		w.Write(L0, "Selector:\t%s\n", metav1.FormatLabelSelector(job.Spec.Selector))
		printLabels(w, "Labels", job.Labels, L0)
		printAnnotations(w, job.Annotations, L0)
		if c := controllerOf(job.OwnerReferences); c != "" {
			w.Write(L0, "Controlled By:\t%s\n", c)
		}
		if job.Spec.Parallelism != nil {
			w.Write(L0, "Parallelism:\t%d\n", *job.Spec.Parallelism)
		}
		if job.Spec.Completions != nil {
			w.Write(L0, "Completions:\t%d\n", *job.Spec.Completions)
		} else {
			w.Write(L0, "Completions:\t<unset>\n")
		}
		if job.Spec.CompletionMode != nil {
			w.Write(L0, "Completion Mode:\t%s\n", *job.Spec.CompletionMode)
		}
		if job.Spec.Suspend != nil {
			w.Write(L0, "Suspend:\t%t\n", *job.Spec.Suspend)
		}
		if job.Spec.BackoffLimit != nil {
			w.Write(L0, "Backoff Limit:\t%d\n", *job.Spec.BackoffLimit)
		}
		if job.Spec.TTLSecondsAfterFinished != nil {
			w.Write(L0, "TTL Seconds After Finished:\t%d\n", *job.Spec.TTLSecondsAfterFinished)
		}
		if job.Status.StartTime != nil {
			w.Write(L0, "Start Time:\t%s\n", timeString(*job.Status.StartTime))
		}
		if job.Status.CompletionTime != nil {
			w.Write(L0, "Completed At:\t%s\n", timeString(*job.Status.CompletionTime))
		}
		if job.Status.StartTime != nil && job.Status.CompletionTime != nil {
			w.Write(L0, "Duration:\t%s\n", duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time)))
		}
		if job.Spec.ActiveDeadlineSeconds != nil {
			w.Write(L0, "Active Deadline Seconds:\t%ds\n", *job.Spec.ActiveDeadlineSeconds)
		}
		if job.Status.Ready == nil {
			w.Write(L0, "Pods Statuses:\t%d Active / %d Succeeded / %d Failed\n", job.Status.Active, job.Status.Succeeded, job.Status.Failed)
		} else {
			w.Write(L0, "Pods Statuses:\t%d Active (%d Ready) / %d Succeeded / %d Failed\n", job.Status.Active, *job.Status.Ready, job.Status.Succeeded, job.Status.Failed)
		}
		if job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion {
			ci := job.Status.CompletedIndexes
			if len(ci) > 50 {
				if i := strings.Index(ci[50:], ","); i >= 0 {
					ci = ci[:50+i] + "..."
				}
			}
			w.Write(L0, "Completed Indexes:\t%s\n", orNone(ci))
		}
		describePodTemplate(w, &job.Spec.Template)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func describeCronJob(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	cj, err := into[batchv1.CronJob](u)
	if err != nil {
		return "", err
	}
	optInt := func(p *int32) string {
		if p == nil {
			return "<unset>"
		}
		return fmt.Sprint(*p)
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", cj.Name)
		w.Write(L0, "Namespace:\t%s\n", cj.Namespace)
		printLabels(w, "Labels", cj.Labels, L0)
		printAnnotations(w, cj.Annotations, L0)
		w.Write(L0, "Schedule:\t%s\n", cj.Spec.Schedule)
		w.Write(L0, "Concurrency Policy:\t%s\n", cj.Spec.ConcurrencyPolicy)
		w.Write(L0, "Suspend:\t%s\n", boolPtr(cj.Spec.Suspend))
		w.Write(L0, "Time Zone:\t%s\n", ptrStr(cj.Spec.TimeZone))
		w.Write(L0, "Successful Job History Limit:\t%s\n", optInt(cj.Spec.SuccessfulJobsHistoryLimit))
		w.Write(L0, "Failed Job History Limit:\t%s\n", optInt(cj.Spec.FailedJobsHistoryLimit))
		if cj.Spec.StartingDeadlineSeconds != nil {
			w.Write(L0, "Starting Deadline Seconds:\t%ds\n", *cj.Spec.StartingDeadlineSeconds)
		} else {
			w.Write(L0, "Starting Deadline Seconds:\t<unset>\n")
		}
		js := cj.Spec.JobTemplate.Spec
		if js.Selector != nil {
			w.Write(L0, "Selector:\t%s\n", metav1.FormatLabelSelector(js.Selector))
		} else {
			w.Write(L0, "Selector:\t<unset>\n")
		}
		w.Write(L0, "Parallelism:\t%s\n", optInt(js.Parallelism))
		w.Write(L0, "Completions:\t%s\n", optInt(js.Completions))
		if js.ActiveDeadlineSeconds != nil {
			w.Write(L0, "Active Deadline Seconds:\t%ds\n", *js.ActiveDeadlineSeconds)
		}
		describePodTemplate(w, &js.Template)
		if cj.Status.LastScheduleTime != nil {
			w.Write(L0, "Last Schedule Time:\t%s\n", timeString(*cj.Status.LastScheduleTime))
		} else {
			w.Write(L0, "Last Schedule Time:\t<unset>\n")
		}
		var active []string
		for _, a := range cj.Status.Active {
			active = append(active, a.Name)
		}
		w.Write(L0, "Active Jobs:\t%s\n", joinOrNone(active, ", "))
		d.withEvents(ctx, u, w)
		return nil
	})
}

func ptrStr(p *string) string {
	if p == nil {
		return "<unset>"
	}
	return *p
}

func storageClassOf(ann map[string]string, name *string) string {
	if c, ok := ann["volume.beta.kubernetes.io/storage-class"]; ok {
		return c
	}
	if name != nil {
		return *name
	}
	return ""
}

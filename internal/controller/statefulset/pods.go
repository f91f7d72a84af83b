package statefulset

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/controller/history"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

var podName = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// ordinalOf is the ordinal in pod's name, or -1 when the name does not
// belong to set.
func ordinalOf(set *appsv1.StatefulSet, pod *corev1.Pod) int {
	m := podName.FindStringSubmatch(pod.Name)
	if m == nil || m[1] != set.Name {
		return -1
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return -1
	}
	return n
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func claimName(set *appsv1.StatefulSet, tmpl *corev1.PersistentVolumeClaim, ordinal int) string {
	return fmt.Sprintf("%s-%s-%d", tmpl.Name, set.Name, ordinal)
}

// newPod is the pod of ordinal made from tmpl (the template of revision):
// stable name and hostname, subdomain, identity labels, revision label and
// a volume per claim template.
func newPod(set *appsv1.StatefulSet, tmpl *corev1.PodTemplateSpec, revision string, ordinal int) *corev1.Pod {
	pod := podcontrol.PodFromTemplate(tmpl, set, podcontrol.ControllerRef(set, kind))
	name := fmt.Sprintf("%s-%d", set.Name, ordinal)
	pod.Name, pod.GenerateName = name, ""
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.StatefulSetPodNameLabel] = name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	pod.Labels[history.HashLabel] = revision
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		vol := corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(set, t, ordinal)}}}
		replaced := false
		for j := range pod.Spec.Volumes {
			if pod.Spec.Volumes[j].Name == t.Name {
				pod.Spec.Volumes[j], replaced = vol, true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		}
	}
	return pod
}

// createPod creates the pod's claims (when missing) and then the pod.
func (c *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) error {
	if err := c.createClaims(ctx, set, pod, ordinal); err != nil {
		return err
	}
	_, err := c.set.Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		c.rec.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %s", pod.Name, set.Name, err)
		return fmt.Errorf("create pod %s: %w", pod.Name, err)
	}
	c.rec.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

// createClaims creates the claims of ordinal that do not exist yet.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) error {
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		name := claimName(set, t, ordinal)
		existing, err := c.pvcs.PersistentVolumeClaims(set.Namespace).Get(name)
		if err == nil {
			if existing.DeletionTimestamp != nil {
				return fmt.Errorf("pvc %s is being deleted", name)
			}
			continue
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		pvc := t.DeepCopy()
		pvc.Name, pvc.Namespace = name, set.Namespace
		pvc.ResourceVersion, pvc.UID = "", ""
		if pvc.Labels == nil {
			pvc.Labels = map[string]string{}
		}
		for k, v := range set.Spec.Selector.MatchLabels {
			pvc.Labels[k] = v
		}
		if retainOnDelete(set) == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			pvc.OwnerReferences = []metav1.OwnerReference{nonControllerRef(set, kind.GroupVersion().String(), kind.Kind)}
		}
		_, err = c.set.PersistentVolumeClaims(set.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			c.rec.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for Pod %s in StatefulSet %s failed error: %s", name, pod.Name, set.Name, err)
			return fmt.Errorf("create claim %s: %w", name, err)
		}
		if err == nil {
			c.rec.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success", name, pod.Name, set.Name)
		}
	}
	return nil
}

func retainOnDelete(set *appsv1.StatefulSet) appsv1.PersistentVolumeClaimRetentionPolicyType {
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil && p.WhenDeleted != "" {
		return p.WhenDeleted
	}
	return appsv1.RetainPersistentVolumeClaimRetentionPolicyType
}

func retainOnScale(set *appsv1.StatefulSet) appsv1.PersistentVolumeClaimRetentionPolicyType {
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil && p.WhenScaled != "" {
		return p.WhenScaled
	}
	return appsv1.RetainPersistentVolumeClaimRetentionPolicyType
}

func nonControllerRef(o metav1.Object, apiVersion, kind string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: o.GetName(), UID: o.GetUID()}
}

// deletePod deletes pod; when it is scaled away and the retention policy
// says so, its claims are first given the pod as owner so that the
// garbage collector removes them with it.
func (c *Controller) deletePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, scaledAway bool) error {
	if scaledAway && retainOnScale(set) == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		if err := c.ownClaimsByPod(ctx, set, pod); err != nil {
			return err
		}
	}
	err := c.set.Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		c.rec.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %s", pod.Name, set.Name, err)
		return fmt.Errorf("delete pod %s: %w", pod.Name, err)
	}
	c.rec.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

func (c *Controller) ownClaimsByPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	ord := ordinalOf(set, pod)
	for i := range set.Spec.VolumeClaimTemplates {
		name := claimName(set, &set.Spec.VolumeClaimTemplates[i], ord)
		pvc, err := c.pvcs.PersistentVolumeClaims(set.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if metav1.IsControlledBy(pvc, pod) || hasOwner(pvc, pod.UID) {
			continue
		}
		cp := pvc.DeepCopy()
		cp.OwnerReferences = append(cp.OwnerReferences, nonControllerRef(pod, "v1", "Pod"))
		if _, err := c.set.PersistentVolumeClaims(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("set owner of claim %s: %w", name, err)
		}
	}
	return nil
}

func hasOwner(o metav1.Object, uid types.UID) bool {
	for _, r := range o.GetOwnerReferences() {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func runningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && podcontrol.IsReady(p)
}

func revisionOf(p *corev1.Pod) string { return p.Labels[history.HashLabel] }

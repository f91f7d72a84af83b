package apiserver

import (
	"context"
	"errors"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Storage admission, as upstream's DefaultStorageClass and
// StorageObjectInUseProtection plugins: a claim that names no class gets
// the default StorageClass (the newest annotated one); new claims and
// volumes get the kubernetes.io/pvc-protection and pv-protection
// finalizers. Upstream's pvc- and pv-protection controllers remove those
// once nothing uses the object; kserver has no such controllers, so the
// server does it (like dependents.go): a terminating claim is released
// when no running pod mounts it (checked when it is deleted and whenever
// such a pod ends or goes away), a terminating volume when it is not Bound.

const (
	pvcProtectionFinalizer = "kubernetes.io/pvc-protection"
	pvProtectionFinalizer  = "kubernetes.io/pv-protection"
	betaStorageClassAnnot  = "volume.beta.kubernetes.io/storage-class"
)

var (
	storageClassesGVR = gvr("storage.k8s.io", "v1", "storageclasses")
	claimsGVR         = gvr("", "v1", "persistentvolumeclaims")
	volumesGVR        = gvr("", "v1", "persistentvolumes")
	podsGVR           = gvr("", "v1", "pods")
)

func (s *Server) defaultStorageClass(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.StorageClassName != nil {
		return nil
	}
	if _, ok := pvc.Annotations[betaStorageClassAnnot]; ok {
		return nil
	}
	all, err := s.listStored(ctx, storageClassesGVR, "")
	if err != nil {
		return err
	}
	var defaults []*storagev1.StorageClass
	for _, o := range all {
		sc := o.(*storagev1.StorageClass)
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" ||
			sc.Annotations["storageclass.beta.kubernetes.io/is-default-class"] == "true" {
			defaults = append(defaults, sc)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	sort.Slice(defaults, func(i, j int) bool {
		ti, tj := defaults[i].CreationTimestamp.UnixNano(), defaults[j].CreationTimestamp.UnixNano()
		if ti == tj {
			return defaults[i].Name < defaults[j].Name
		}
		return ti > tj
	})
	name := defaults[0].Name
	pvc.Spec.StorageClassName = &name
	return nil
}

// protectionAfterUpdate releases protected storage that an update made
// releasable: a claim or volume marked for deletion, or a pod that ended.
func (s *Server) protectionAfterUpdate(ctx context.Context, obj, old runtime.Object) {
	switch o := obj.(type) {
	case *corev1.PersistentVolumeClaim:
		if o.DeletionTimestamp != nil && slices.Contains(o.Finalizers, pvcProtectionFinalizer) {
			go s.releaseClaims(context.WithoutCancel(ctx), o.Namespace, []string{o.Name})
		}
	case *corev1.PersistentVolume:
		if o.DeletionTimestamp != nil && slices.Contains(o.Finalizers, pvProtectionFinalizer) && o.Status.Phase != corev1.VolumeBound {
			go s.dropFinalizer(context.WithoutCancel(ctx), volumesGVR, "", o.Name, pvProtectionFinalizer)
		}
	case *corev1.Pod:
		if op, ok := old.(*corev1.Pod); ok && podDone(o) && !podDone(op) {
			if claims := podClaims(o); len(claims) > 0 {
				go s.releaseClaims(context.WithoutCancel(ctx), o.Namespace, claims)
			}
		}
	}
}

// protectionAfterDelete re-checks the claims a deleted pod used.
func (s *Server) protectionAfterDelete(ctx context.Context, obj runtime.Object) {
	if pod, ok := obj.(*corev1.Pod); ok {
		if claims := podClaims(pod); len(claims) > 0 {
			go s.releaseClaims(context.WithoutCancel(ctx), pod.Namespace, claims)
		}
	}
}

func podDone(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// podClaims are the claims a pod mounts (generic ephemeral volumes as
// <pod>-<volume>).
func podClaims(p *corev1.Pod) []string {
	var out []string
	for _, v := range p.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, p.Name+"-"+v.Name)
		}
	}
	return out
}

// releaseClaims drops pvc-protection from the named terminating claims
// that no pod still running uses.
func (s *Server) releaseClaims(ctx context.Context, ns string, names []string) {
	pods, err := s.listStored(ctx, podsGVR, ns)
	if err != nil {
		s.log.Warn("pvc protection: list pods", "namespace", ns, "err", err)
		return
	}
	used := map[string]bool{}
	for _, o := range pods {
		p := o.(*corev1.Pod)
		if !podDone(p) {
			for _, c := range podClaims(p) {
				used[c] = true
			}
		}
	}
	for _, name := range names {
		if used[name] {
			continue
		}
		obj, err := s.getStored(ctx, claimsGVR, ns, name)
		if err != nil {
			continue
		}
		pvc := obj.(*corev1.PersistentVolumeClaim)
		if pvc.DeletionTimestamp != nil && slices.Contains(pvc.Finalizers, pvcProtectionFinalizer) {
			s.dropFinalizer(ctx, claimsGVR, ns, name, pvcProtectionFinalizer)
		}
	}
}

// dropFinalizer removes one finalizer (the object goes away when it was the
// last one and it is marked for deletion).
func (s *Server) dropFinalizer(ctx context.Context, r schema.GroupVersionResource, ns, name, finalizer string) {
	res, ok := s.cfg.Catalog.Lookup(r)
	if !ok {
		return
	}
	c := s.internalCall(ctx, res, ns, name)
	_, _, _, err := c.updateObject(ctx, writeOpts{manager: "kube-controller-manager"}, "", func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, errGone
		}
		m := mustAccessor(cur)
		m.SetFinalizers(slices.DeleteFunc(m.GetFinalizers(), func(f string) bool { return f == finalizer }))
		m.SetResourceVersion("")
		return cur, nil
	})
	if err != nil && !errors.Is(err, errGone) && !isNotFound(err) {
		s.log.Warn("storage protection: remove finalizer", "resource", r.Resource, "namespace", ns, "name", name, "err", err)
	}
}

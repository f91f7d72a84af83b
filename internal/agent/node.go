package agent

import (
	"context"
	"fmt"
	goruntime "runtime"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Well-known node labels and annotations the kubelet (and k3s) set.
const (
	labelControlPlane = "node-role.kubernetes.io/control-plane"
	labelMaster       = "node-role.kubernetes.io/master"
	labelBetaOS       = "beta.kubernetes.io/os"
	labelBetaArch     = "beta.kubernetes.io/arch"
	annotationAttach  = "volumes.kubernetes.io/controller-managed-attach-detach"
)

// nodeLabels are the labels the agent owns: hostname, OS and architecture
// (also the beta spellings upstream still sets), the control-plane roles on
// servers (k3s sets both spellings to "true"), then --node-label.
func (a *Agent) nodeLabels() map[string]string {
	l := map[string]string{
		corev1.LabelHostname:   a.cfg.Hostname,
		corev1.LabelOSStable:   goruntime.GOOS,
		corev1.LabelArchStable: goruntime.GOARCH,
		labelBetaOS:            goruntime.GOOS,
		labelBetaArch:          goruntime.GOARCH,
	}
	if a.cfg.ControlPlane {
		l[labelControlPlane] = "true"
		l[labelMaster] = "true"
	}
	for k, v := range a.cfg.Labels {
		l[k] = v
	}
	return l
}

// nodeRef is the object kubelet events about the node name: the kubelet
// uses the node name as UID, and kubectl describe node looks for both.
func (a *Agent) nodeRef() *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: a.cfg.NodeName, UID: types.UID(a.cfg.NodeName)}
}

// register creates the Node, or brings an existing one's labels and
// annotations up to date, as the kubelet's registerWithAPIServer does.
// Taints are only set on creation. It returns the stored node.
func (a *Agent) register(ctx context.Context) (*corev1.Node, error) {
	nodes := a.set.Nodes()
	want := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        a.cfg.NodeName,
			Labels:      a.nodeLabels(),
			Annotations: map[string]string{annotationAttach: "true"},
		},
		Spec: corev1.NodeSpec{Taints: slices.Clone(a.cfg.Taints)},
	}
	want.Status = a.nodes.desiredStatus(nil)
	got, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	switch {
	case err == nil:
		a.log.Info("registered node")
		if len(got.Status.Conditions) == 0 { // a server that drops status on create
			got.Status = want.Status
			if got, err = nodes.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
				return nil, fmt.Errorf("node %s: write status: %w", a.cfg.NodeName, err)
			}
		}
		a.nodes.written(nil, got)
		return got, nil
	case !apierrors.IsAlreadyExists(err):
		return nil, fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
	}
	for range 5 {
		cur, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
		}
		upd := cur.DeepCopy()
		changed := false
		for k, v := range want.Labels {
			if upd.Labels[k] != v {
				if upd.Labels == nil {
					upd.Labels = map[string]string{}
				}
				upd.Labels[k], changed = v, true
			}
		}
		if upd.Annotations[annotationAttach] != "true" {
			if upd.Annotations == nil {
				upd.Annotations = map[string]string{}
			}
			upd.Annotations[annotationAttach], changed = "true", true
		}
		if !changed {
			a.log.Info("node already registered")
			return cur, nil
		}
		got, err := nodes.Update(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update node %s: %w", a.cfg.NodeName, err)
		}
		a.log.Info("node already registered; labels updated")
		return got, nil
	}
	return nil, fmt.Errorf("update node %s: too many conflicts", a.cfg.NodeName)
}

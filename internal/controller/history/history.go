// Package history keeps the ControllerRevisions of StatefulSets and
// DaemonSets as upstream's controller/history does: a revision holds the
// patch that restores its pod template, is named "<owner>-<hash>" where the
// hash covers that patch (and the owner's collisionCount, bumped when a
// different revision already has the name), and carries an increasing
// .revision number that `kubectl rollout history` prints.
package history

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/podcontrol"
)

// HashLabel is the label holding a revision's hash, on the revision and on
// the pods made from it.
const HashLabel = appsv1.ControllerRevisionHashLabelKey

// Hash is the fnv32a hash of the revision's data and the collision count,
// rendered with the alphabet of generated names.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Name is "<prefix>-<hash>", the prefix cut so the name stays within 223
// characters as upstream (room for a pod suffix).
func Name(prefix, hash string) string {
	const maxPrefix = 223
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + "-" + hash
}

// New builds the revision number rev of owner (of kind gvk) holding data,
// labelled with the template labels and its hash.
func New(owner metav1.Object, gvk schema.GroupVersionKind, templateLabels map[string]string, data []byte, rev int64, collisionCount *int32) *appsv1.ControllerRevision {
	lbls := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		lbls[k] = v
	}
	hash := Hash(data, collisionCount)
	lbls[HashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(owner.GetName(), hash),
			Namespace:       owner.GetNamespace(),
			Labels:          lbls,
			OwnerReferences: []metav1.OwnerReference{*podcontrol.ControllerRef(owner, gvk)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: rev,
	}
}

// Equal reports whether two revisions hold the same template.
func Equal(a, b *appsv1.ControllerRevision) bool {
	return bytes.Equal(a.Data.Raw, b.Data.Raw)
}

// Sort orders revisions by revision number, then name.
func Sort(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		if revs[i].Revision != revs[j].Revision {
			return revs[i].Revision < revs[j].Revision
		}
		return revs[i].Name < revs[j].Name
	})
}

// Next is the revision number after the newest of revs (1 for none).
func Next(revs []*appsv1.ControllerRevision) int64 {
	var n int64
	for _, r := range revs {
		n = max(n, r.Revision)
	}
	return n + 1
}

// FindEqual returns the revisions of revs equal to needle.
func FindEqual(revs []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		if Equal(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// Create stores rev. When its name is taken by an equal revision of the
// same owner, that one is returned; when taken by a different one,
// *collisionCount is bumped and the hash recomputed, as upstream.
func Create(ctx context.Context, set *client.Set, owner metav1.Object, gvk schema.GroupVersionKind, rev *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	api := set.ControllerRevisions(rev.Namespace)
	for {
		cr := rev.DeepCopy()
		hash := Hash(cr.Data.Raw, collisionCount)
		cr.Name = Name(owner.GetName(), hash)
		cr.Labels[HashLabel] = hash
		got, err := api.Create(ctx, cr, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return nil, fmt.Errorf("create controller revision %s: %w", cr.Name, err)
			}
			return got, nil
		}
		existing, gerr := api.Get(ctx, cr.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, fmt.Errorf("get controller revision %s: %w", cr.Name, gerr)
		}
		if metav1.IsControlledBy(existing, owner) && Equal(existing, cr) {
			return existing, nil
		}
		*collisionCount++
	}
}

// UpdateRevision sets the revision number of cr to rev.
func UpdateRevision(ctx context.Context, set *client.Set, cr *appsv1.ControllerRevision, rev int64) (*appsv1.ControllerRevision, error) {
	if cr.Revision == rev {
		return cr, nil
	}
	c := cr.DeepCopy()
	c.Revision = rev
	got, err := set.ControllerRevisions(c.Namespace).Update(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update controller revision %s: %w", c.Name, err)
	}
	return got, nil
}

// Patcher is the podcontrol.Patcher for controller revisions.
func Patcher(set *client.Set) podcontrol.Patcher {
	return func(ctx context.Context, ns, name string, pt types.PatchType, data []byte) error {
		_, err := set.ControllerRevisions(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{})
		return err
	}
}

// TemplatePatch is the data of a revision of obj (a StatefulSet or
// DaemonSet): the strategic merge patch that puts its pod template back,
// {"spec":{"template":{…,"$patch":"replace"}}}, which is also what
// `kubectl rollout undo` applies.
func TemplatePatch(obj any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	spec, _ := m["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		tmpl = map[string]any{}
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// TemplateOf is the pod template a revision holds.
func TemplateOf(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var p struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &p); err != nil {
		return nil, fmt.Errorf("decode controller revision %s: %w", rev.Name, err)
	}
	return &p.Spec.Template, nil
}

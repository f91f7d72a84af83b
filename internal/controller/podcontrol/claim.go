package podcontrol

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Patcher applies a strategic merge patch to the object ns/name of the kind
// being claimed (pods, replica sets, controller revisions).
type Patcher func(ctx context.Context, ns, name string, pt types.PatchType, data []byte) error

// Claimer applies upstream's ControllerRefManager rules for one controller
// object: objects it controls that still match its selector stay its own;
// ones that no longer match are released; orphans that match are adopted
// (unless the controller is being deleted); objects controlled by someone
// else are never touched.
type Claimer struct {
	Owner    metav1.Object
	Kind     schema.GroupVersionKind
	Selector labels.Selector
	Patch    Patcher
	// CanAdopt is checked once, before the first adoption: upstream re-reads
	// the owner uncached to be sure it is not being deleted. May be nil.
	CanAdopt func(ctx context.Context) error

	adoptChecked bool
	adoptErr     error
}

// Claim returns the objects of objs that the owner controls after
// adopting and releasing as needed. Objects that vanish while being
// patched are skipped; other patch errors are returned after the rest are
// processed.
func Claim[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var out []T
	var errs []error
	for _, o := range objs {
		ok, err := c.claimOne(ctx, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, o)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("claim %s of %s: %w", c.Kind.Kind, c.Owner.GetName(), errs[0])
	}
	return out, nil
}

func (c *Claimer) claimOne(ctx context.Context, o metav1.Object) (bool, error) {
	match := c.Selector.Matches(labels.Set(o.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
		if ref.UID != c.Owner.GetUID() {
			return false, nil
		}
		if match {
			return true, nil
		}
		if c.Owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		return false, c.release(ctx, o)
	}
	if !match || c.Owner.GetDeletionTimestamp() != nil || o.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if err := c.adopt(ctx, o); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

type ownerPatch struct {
	Metadata struct {
		OwnerReferences []any     `json:"ownerReferences"`
		UID             types.UID `json:"uid"`
	} `json:"metadata"`
}

func (c *Claimer) adopt(ctx context.Context, o metav1.Object) error {
	if !c.adoptChecked {
		c.adoptChecked = true
		if c.CanAdopt != nil {
			c.adoptErr = c.CanAdopt(ctx)
		}
	}
	if c.adoptErr != nil {
		return fmt.Errorf("can't adopt %s %s/%s: %w", c.Kind.Kind, o.GetNamespace(), o.GetName(), c.adoptErr)
	}
	var p ownerPatch
	p.Metadata.UID = o.GetUID()
	p.Metadata.OwnerReferences = []any{ControllerRef(c.Owner, c.Kind)}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.Patch(ctx, o.GetNamespace(), o.GetName(), types.StrategicMergePatchType, data)
}

func (c *Claimer) release(ctx context.Context, o metav1.Object) error {
	var p ownerPatch
	p.Metadata.UID = o.GetUID()
	p.Metadata.OwnerReferences = []any{map[string]any{"$patch": "delete", "uid": c.Owner.GetUID()}}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	err = c.Patch(ctx, o.GetNamespace(), o.GetName(), types.StrategicMergePatchType, data)
	// Gone, or changed under us (uid precondition): nothing left to release.
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// RecheckOwner returns a CanAdopt function that re-reads the owner through
// get (uncached) and refuses adoption when it was replaced (another UID) or
// is being deleted.
func RecheckOwner(owner metav1.Object, get func(ctx context.Context) (metav1.Object, error)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return err
		}
		if fresh.GetUID() != owner.GetUID() {
			return fmt.Errorf("original %s/%s is gone: got uid %v, wanted %v", owner.GetNamespace(), owner.GetName(), fresh.GetUID(), owner.GetUID())
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", owner.GetNamespace(), owner.GetName(), fresh.GetDeletionTimestamp())
		}
		return nil
	}
}

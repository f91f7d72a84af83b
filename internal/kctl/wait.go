package kctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/util/jsonpath"

	"kserver.dev/kserver/internal/kctl/printers"
)

// waitCondition is a parsed --for.
type waitCondition struct {
	kind      string // delete, create, condition, jsonpath
	condition string
	want      string
	path      *jsonpath.JSONPath
}

func parseWaitFor(s string) (*waitCondition, error) {
	switch {
	case s == "delete", s == "create":
		return &waitCondition{kind: s}, nil
	case strings.HasPrefix(s, "condition="):
		cond := strings.TrimPrefix(s, "condition=")
		want := "true"
		if c, v, ok := strings.Cut(cond, "="); ok {
			cond, want = c, v
		}
		return &waitCondition{kind: "condition", condition: cond, want: strings.ToLower(want)}, nil
	case strings.HasPrefix(s, "jsonpath="):
		expr := strings.TrimPrefix(s, "jsonpath=")
		path, want, hasValue := expr, "", false
		if i := strings.LastIndex(expr, "}="); i >= 0 {
			path, want, hasValue = expr[:i+1], expr[i+2:], true
		} else if p, v, ok := strings.Cut(expr, "="); ok && !strings.HasPrefix(expr, "{") {
			path, want, hasValue = p, v, true
		}
		rel, err := printers.RelaxedJSONPath(path)
		if err != nil {
			return nil, err
		}
		jp := jsonpath.New("wait").AllowMissingKeys(true)
		if err := jp.Parse(rel); err != nil {
			return nil, fmt.Errorf("unrecognized condition: %q", s)
		}
		wc := &waitCondition{kind: "jsonpath", path: jp, want: want}
		if !hasValue {
			wc.want = "\x00exists"
		}
		return wc, nil
	}
	return nil, fmt.Errorf("unrecognized condition: %q", s)
}

// met reports whether u satisfies the condition.
func (w *waitCondition) met(u *unstructured.Unstructured) bool {
	switch w.kind {
	case "create":
		return true
	case "condition":
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if strings.EqualFold(fmt.Sprint(m["type"]), w.condition) {
				gen, hasGen := m["observedGeneration"].(int64)
				if hasGen && gen < u.GetGeneration() {
					return false
				}
				return strings.EqualFold(fmt.Sprint(m["status"]), w.want)
			}
		}
		return false
	case "jsonpath":
		res, err := w.path.FindResults(u.Object)
		if err != nil || len(res) == 0 || len(res[0]) == 0 {
			return false
		}
		if w.want == "\x00exists" {
			return true
		}
		return fmt.Sprint(res[0][0].Interface()) == w.want
	}
	return false
}

func newWaitCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var forFlag string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait ([-f FILENAME] | resource.group/resource.name | resource.group [(-l label | --all)]) [--for=create|--for=delete|--for condition=available|--for=jsonpath='{}'[=value]]",
		Short: "Experimental: Wait for a specific condition on one or many resources",
		RunE: func(cmd *cobra.Command, args []string) error {
			cond, err := parseWaitFor(forFlag)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if cond.kind == "delete" || cond.kind == "create" {
				sel.ignoreNotFound = true
			}
			if cond.kind == "create" {
				return waitCreate(ctx, f, args, &mf)
			}
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			if len(objs) == 0 && len(errs) == 0 {
				if cond.kind == "delete" {
					return nil
				}
				return fmt.Errorf("no matching resources found")
			}
			for _, s := range objs {
				if err := waitOne(ctx, s, cond, f, &mf); err != nil {
					errs = append(errs, err)
				}
			}
			return utilerrors.NewAggregate(errs)
		},
	}
	sel.addFlags(cmd, "wait on")
	cmd.Flags().StringVar(&forFlag, "for", "", "The condition to wait on: [create|delete|condition=condition-name[=condition-value]|jsonpath='{JSONPath expression}'=[JSONPath value]].")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "The length of time to wait before giving up.  Zero means check once and don't wait, negative means wait for a week.")
	mf.add(cmd, "", false)
	return cmd
}

func waitOne(ctx context.Context, s selected, cond *waitCondition, f *Factory, mf *mutateFlags) error {
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	rc := s.client(dyn)
	for {
		u, err := rc.Get(ctx, s.obj.GetName(), metav1.GetOptions{})
		switch {
		case cond.kind == "delete" && (apierrors.IsNotFound(err) || err == nil && u.GetUID() != s.obj.GetUID()):
			return mf.print(f.IO.Out, s.obj, "condition met")
		case err != nil && !apierrors.IsNotFound(err) && !expired(ctx):
			return err
		case err == nil && cond.kind != "delete" && cond.met(u):
			return mf.print(f.IO.Out, u, "condition met")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the condition on %s/%s", s.mapping.Resource.Resource, s.obj.GetName())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// expired reports whether ctx is done or its deadline has passed (client-go's
// rate limiter fails a request whose deadline is due before the context's
// own timer has fired).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// waitCreate polls until every named object exists.
func waitCreate(ctx context.Context, f *Factory, args []string, mf *mutateFlags) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	targets, err := resolveTargets(f, args, fileOptions{}, ns)
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	for _, t := range targets {
		for _, n := range t.names {
			for {
				u, err := resourceClient(dyn, t.mapping, ns).Get(ctx, n, metav1.GetOptions{})
				if err == nil {
					mf.print(f.IO.Out, u, "condition met")
					break
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("timed out waiting for the condition")
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
	}
	return nil
}

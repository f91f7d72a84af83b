package kctl

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func newAuthCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Inspect authorization",
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	cmd.AddCommand(newCanICommand(f), newWhoAmICommand(f))
	return cmd
}

var gvrSSAR = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}

func newCanICommand(f *Factory) *cobra.Command {
	var all, quiet, list, noHeaders bool
	var sub string
	cmd := &cobra.Command{
		Use:   "can-i VERB [TYPE | TYPE/NAME | NONRESOURCEURL]",
		Short: "Check whether an action is allowed",
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				switch {
				case len(args) != 0:
					return fmt.Errorf("list option must be specified with no arguments")
				case quiet || all || sub != "":
					return fmt.Errorf("list option can't be specified with neither quiet, all-namespaces nor subresource options")
				}
				return runCanIList(cmd, f, noHeaders)
			}
			if len(args) != 2 {
				return fmt.Errorf("you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'kubectl auth can-i -h' for help and examples.")
			}
			if noHeaders {
				return fmt.Errorf("--no-headers cannot be set without --list specified")
			}
			out := f.IO.Out
			if quiet {
				out = io.Discard
			}
			attrs := map[string]any{"verb": args[0]}
			spec := map[string]any{}
			if strings.HasPrefix(args[1], "/") {
				spec["nonResourceAttributes"] = map[string]any{"verb": args[0], "path": args[1]}
			} else {
				res, name, _ := strings.Cut(args[1], "/")
				gvr := canIResource(f, res, all)
				ns := ""
				if !all {
					ns, _, _ = f.Namespace()
				}
				for k, v := range map[string]string{"namespace": ns, "group": gvr.Group, "resource": gvr.Resource, "subresource": sub, "name": name} {
					if v != "" {
						attrs[k] = v
					}
				}
				spec["resourceAttributes"] = attrs
			}
			review := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
				"metadata": map[string]any{}, "spec": spec}}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			resp, err := dyn.Resource(gvrSSAR).Create(cmd.Context(), review, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			allowed, _, _ := unstructured.NestedBool(resp.Object, "status", "allowed")
			if allowed {
				fmt.Fprintln(out, "yes")
				return nil
			}
			fmt.Fprint(out, "no")
			for _, k := range []string{"reason", "evaluationError"} {
				if v, _, _ := unstructured.NestedString(resp.Object, "status", k); v != "" {
					fmt.Fprintf(out, " - %v", v)
				}
			}
			fmt.Fprintln(out)
			return errSilent
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "If true, check the specified action in all namespaces.")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "If true, suppress output and just return the exit code.")
	cmd.Flags().StringVar(&sub, "subresource", "", "SubResource such as pod/log or deployment/scale")
	cmd.Flags().BoolVar(&list, "list", false, "If true, prints all allowed actions.")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "If true, prints allowed actions without headers")
	return cmd
}

// canIResource resolves the resource like kubectl, warning (twice-newlined,
// as kubectl does) when discovery does not know it.
func canIResource(f *Factory, arg string, all bool) schema.GroupVersionResource {
	if arg == "*" {
		return schema.GroupVersionResource{Resource: arg}
	}
	m, err := f.Mapper()
	if err != nil {
		return schema.GroupVersionResource{Resource: arg}
	}
	full, gr := schema.ParseResourceArg(strings.ToLower(arg))
	var gvr schema.GroupVersionResource
	if full != nil {
		gvr, _ = m.ResourceFor(*full)
	}
	if gvr.Empty() {
		gvr, err = m.ResourceFor(gr.WithVersion(""))
		if err == nil && !all {
			if kinds, kerr := m.KindFor(gvr); kerr == nil {
				if mp, merr := m.RESTMapping(kinds.GroupKind(), kinds.Version); merr == nil && mp.Scope.Name() != "namespace" {
					if gvr.Group == "" {
						fmt.Fprintf(f.IO.ErrOut, "Warning: resource '%s' is not namespace scoped\n\n", gvr.Resource)
					} else {
						fmt.Fprintf(f.IO.ErrOut, "Warning: resource '%s' is not namespace scoped in group '%s'\n\n", gvr.Resource, gvr.Group)
					}
				}
			}
		}
		if err != nil {
			if gr.Group == "" {
				fmt.Fprintf(f.IO.ErrOut, "Warning: the server doesn't have a resource type '%s'\n\n", gr.Resource)
			} else {
				fmt.Fprintf(f.IO.ErrOut, "Warning: the server doesn't have a resource type '%s' in group '%s'\n\n", gr.Resource, gr.Group)
			}
			return schema.GroupVersionResource{Resource: arg}
		}
	}
	return gvr
}

func newWhoAmICommand(f *Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Experimental: Check self subject attributes",
		RunE: func(cmd *cobra.Command, args []string) error {
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			review := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": map[string]any{}}}
			resp, err := dyn.Resource(schema.GroupVersionResource{Group: "authentication.k8s.io", Version: "v1", Resource: "selfsubjectreviews"}).
				Create(cmd.Context(), review, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			if output != "" {
				p, err := objectPrinter(output, "", false)
				if err != nil {
					return err
				}
				return p.PrintObj(resp, f.IO.Out)
			}
			ui, _, _ := unstructured.NestedMap(resp.Object, "status", "userInfo")
			var b strings.Builder
			b.WriteString("ATTRIBUTE\tVALUE\n")
			if v, ok := ui["username"]; ok {
				fmt.Fprintf(&b, "Username\t%v\n", v)
			}
			if v, ok := ui["uid"]; ok {
				fmt.Fprintf(&b, "UID\t%v\n", v)
			}
			if g, ok := ui["groups"].([]any); ok {
				fmt.Fprintf(&b, "Groups\t%v\n", g)
			}
			w := newGetTabWriter(f.IO.Out)
			fmt.Fprint(w, b.String())
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format. One of: (json, yaml).")
	return cmd
}

package kctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/dynamic"
)

var gvrCSR = schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}

// csrDecision is what `certificate approve` or `deny` adds to a
// CertificateSigningRequest's conditions through its approval subresource.
type csrDecision struct {
	condition, opposite string // Approved / Denied
	reason, message     string
	operation           string // approved / denied
}

var (
	csrApprove = csrDecision{"Approved", "Denied", "KubectlApprove", "This CSR was approved by kubectl certificate approve.", "approved"}
	csrDeny    = csrDecision{"Denied", "Approved", "KubectlDeny", "This CSR was denied by kubectl certificate deny.", "denied"}
)

func newCertificateCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "certificate SUBCOMMAND",
		DisableFlagsInUseLine: true,
		Short:                 "Modify certificate resources",
		Long:                  "Modify certificate resources.",
		Run:                   func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	cmd.AddCommand(newCSRDecisionCommand(f, csrApprove,
		"Approve a certificate signing request",
		"Approve a certificate signing request.\n\n kubectl certificate approve allows a cluster admin to approve a certificate signing request (CSR). "+
			"This action tells a certificate signing controller to issue a certificate to the requester with the attributes requested in the CSR.\n\n"+
			" SECURITY NOTICE: Depending on the requested attributes, the issued certificate can potentially grant a requester access to cluster "+
			"resources or to authenticate as a requested identity. Before approving a CSR, ensure you understand what the signed certificate can do.",
		"  # Approve CSR 'csr-sqgzp'\n  kubectl certificate approve csr-sqgzp"))
	cmd.AddCommand(newCSRDecisionCommand(f, csrDeny,
		"Deny a certificate signing request",
		"Deny a certificate signing request.\n\n kubectl certificate deny allows a cluster admin to deny a certificate signing request (CSR). "+
			"This action tells a certificate signing controller to not to issue a certificate to the requester.",
		"  # Deny CSR 'csr-sqgzp'\n  kubectl certificate deny csr-sqgzp"))
	return cmd
}

func newCSRDecisionCommand(f *Factory, d csrDecision, short, long, example string) *cobra.Command {
	var files fileOptions
	var mf mutateFlags
	var force bool
	verb := "approve"
	if d.condition == "Denied" {
		verb = "deny"
	}
	cmd := &cobra.Command{
		Use:                   verb + " (-f FILENAME | NAME)",
		DisableFlagsInUseLine: true,
		Short:                 short,
		Long:                  long,
		Example:               example,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(files.filenames) == 0 {
				return fmt.Errorf("one or more CSRs must be specified as <name> or -f <filename>")
			}
			return decideCSRs(cmd.Context(), f, d, args, files, &mf, force)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&force, "force", false, "Update the CSR even if it is already "+d.operation+".")
	fl.StringSliceVarP(&files.filenames, "filename", "f", nil, "Filename, directory, or URL to files identifying the resource to update")
	fl.BoolVarP(&files.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively. Useful when you want to manage related manifests organized within the same directory.")
	mf.add(cmd, "", false)
	fl.MarkHidden("dry-run")
	return cmd
}

// decideCSRs adds the decision to each named CSR (and each CSR in the
// files), carrying on past errors as kubectl does, and prints each one.
func decideCSRs(ctx context.Context, f *Factory, d csrDecision, names []string, files fileOptions, mf *mutateFlags, force bool) error {
	if len(files.filenames) > 0 {
		ms, err := files.read(f.IO.In)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if gk := m.obj.GroupVersionKind().GroupKind(); gk != (schema.GroupKind{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}) {
				return fmt.Errorf("can only handle CertificateSigningRequest.certificates.k8s.io objects, got %s", gk.String())
			}
			names = append(names, m.obj.GetName())
		}
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	rc := dyn.Resource(gvrCSR)
	var errs []error
	found := 0
	for _, name := range names {
		csr, err := decideCSR(ctx, rc, d, name, force)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found++
		if err := mf.print(f.IO.Out, csr, d.operation); err != nil {
			errs = append(errs, err)
		}
	}
	if found == 0 && len(errs) == 0 {
		fmt.Fprintln(f.IO.Out, "No resources found")
	}
	return utilerrors.NewAggregate(errs)
}

// decideCSR reads the CSR, refuses the opposite decision, and writes the
// condition through /approval unless it is already there (or --force);
// conflicts are retried with a fresh read. It returns the CSR as read.
func decideCSR(ctx context.Context, rc dynamic.NamespaceableResourceInterface, d csrDecision, name string, force bool) (*unstructured.Unstructured, error) {
	for i := 0; ; i++ {
		csr, err := rc.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		conds, _, _ := unstructured.NestedSlice(csr.Object, "status", "conditions")
		has := false
		for _, c := range conds {
			t, _ := c.(map[string]any)["type"].(string)
			if t == d.opposite {
				return nil, fmt.Errorf("certificate signing request %q is already %s", name, t)
			}
			has = has || t == d.condition
		}
		if has && !force {
			return csr, nil
		}
		mod := csr.DeepCopy()
		conds = append(conds, map[string]any{
			"type": d.condition, "status": "True", "reason": d.reason, "message": d.message,
			"lastUpdateTime": time.Now().UTC().Format(time.RFC3339),
		})
		if err := unstructured.SetNestedSlice(mod.Object, conds, "status", "conditions"); err != nil {
			return nil, err
		}
		_, err = rc.Update(ctx, mod, metav1.UpdateOptions{}, "approval")
		if apierrors.IsConflict(err) && i < 10 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return csr, nil
	}
}

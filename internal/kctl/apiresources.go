package kctl

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"

	"kserver.dev/kserver/internal/kctl/discovery"
)

type apiResource struct {
	gv schema.GroupVersion
	r  metav1.APIResource
}

type apiResourcesOptions struct {
	output, apiGroup, sortBy string
	namespaced, cached       bool
	noHeaders                bool
	verbs, categories        []string
}

func newAPIResourcesCommand(f *Factory) *cobra.Command {
	o := &apiResourcesOptions{}
	cmd := &cobra.Command{
		Use:   "api-resources",
		Short: "Print the supported API resources on the server",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return o.run(f, cmd) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.output, "output", "o", "", "Output format. One of: (json, yaml, name, wide).")
	fl.StringVar(&o.apiGroup, "api-group", "", "Limit to resources in the specified API group.")
	fl.BoolVar(&o.namespaced, "namespaced", true, "If false, non-namespaced resources will be returned, otherwise returning namespaced resources by default.")
	fl.StringSliceVar(&o.verbs, "verbs", nil, "Limit to resources that support the specified verbs.")
	fl.StringVar(&o.sortBy, "sort-by", "", "If non-empty, sort list of resources using specified field. One of (name, kind).")
	fl.BoolVar(&o.cached, "cached", false, "Use the cached list of resources if available.")
	fl.StringSliceVar(&o.categories, "categories", nil, "Limit to resources that belong to the specified categories.")
	fl.BoolVar(&o.noHeaders, "no-headers", false, "When using the default or custom-column output format, don't print headers (default print headers).")
	return cmd
}

func (o *apiResourcesOptions) run(f *Factory, cmd *cobra.Command) error {
	switch o.output {
	case "", "wide", "name", "json", "yaml":
	default:
		return fmt.Errorf("--output %v is not available", o.output)
	}
	if o.sortBy != "" && o.sortBy != "name" && o.sortBy != "kind" {
		return fmt.Errorf("--sort-by accepts only name or kind")
	}
	disc, err := f.Discovery()
	if err != nil {
		return err
	}
	if !o.cached {
		disc.Invalidate()
	}
	lists, discErr := disc.ServerPreferredResources()
	if discErr != nil && !discovery.IsGroupDiscoveryFailedError(discErr) {
		return discErr
	}
	res := o.filter(cmd, lists)
	sort.SliceStable(res, func(i, j int) bool {
		switch o.sortBy {
		case "name":
			return res[i].r.Name < res[j].r.Name
		case "kind":
			return res[i].r.Kind < res[j].r.Kind
		}
		if res[i].gv.Group != res[j].gv.Group {
			return res[i].gv.Group < res[j].gv.Group
		}
		return res[i].r.Name < res[j].r.Name
	})
	if err := o.print(f, res); err != nil {
		return err
	}
	return discErr
}

func (o *apiResourcesOptions) filter(cmd *cobra.Command, lists []*metav1.APIResourceList) []apiResource {
	var out []apiResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		if flagChanged(cmd, "api-group") && gv.Group != o.apiGroup {
			continue
		}
		for _, r := range l.APIResources {
			if len(r.Verbs) == 0 || strings.Contains(r.Name, "/") {
				continue
			}
			if flagChanged(cmd, "namespaced") && r.Namespaced != o.namespaced {
				continue
			}
			if len(o.verbs) > 0 && !sets.New(r.Verbs...).HasAll(o.verbs...) {
				continue
			}
			if len(o.categories) > 0 && !sets.New(r.Categories...).HasAll(o.categories...) {
				continue
			}
			out = append(out, apiResource{gv: gv, r: r})
		}
	}
	return out
}

func (o *apiResourcesOptions) print(f *Factory, res []apiResource) error {
	switch o.output {
	case "name":
		for _, r := range res {
			name := r.r.Name
			if r.gv.Group != "" {
				name += "." + r.gv.Group
			}
			fmt.Fprintln(f.IO.Out, name)
		}
		return nil
	case "json", "yaml":
		return o.printList(f, res)
	}
	w := printers.GetNewTabWriter(f.IO.Out)
	defer w.Flush()
	if !o.noHeaders {
		h := "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND"
		if o.output == "wide" {
			h += "\tVERBS\tCATEGORIES"
		}
		fmt.Fprintln(w, h)
	}
	for _, r := range res {
		line := fmt.Sprintf("%s\t%s\t%s\t%v\t%s", r.r.Name, strings.Join(r.r.ShortNames, ","), r.gv.String(), r.r.Namespaced, r.r.Kind)
		if o.output == "wide" {
			line += fmt.Sprintf("\t%s\t%s", strings.Join(r.r.Verbs, ","), strings.Join(r.r.Categories, ","))
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

// printList prints an APIResourceList per group version, as kubectl 1.34+.
func (o *apiResourcesOptions) printList(f *Factory, res []apiResource) error {
	var lists []*metav1.APIResourceList
	idx := map[string]*metav1.APIResourceList{}
	for _, r := range res {
		l := idx[r.gv.String()]
		if l == nil {
			l = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: r.gv.String()}
			idx[r.gv.String()] = l
			lists = append(lists, l)
		}
		rr := r.r
		rr.Group, rr.Version = r.gv.Group, r.gv.Version
		l.APIResources = append(l.APIResources, rr)
	}
	for _, l := range lists {
		if o.output == "json" {
			if err := (&printers.JSONPrinter{}).PrintObj(l, f.IO.Out); err != nil {
				return err
			}
			continue
		}
		b, err := yaml.Marshal(l)
		if err != nil {
			return err
		}
		fmt.Fprint(f.IO.Out, "---\n"+string(b))
	}
	return nil
}

func newAPIVersionsCommand(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "api-versions",
		Short: "Print the supported API versions on the server, in the form of \"group/version\"",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			disc, err := f.Discovery()
			if err != nil {
				return err
			}
			disc.Invalidate()
			groups, err := disc.ServerGroups()
			if err != nil {
				return fmt.Errorf("couldn't get available api versions from server: %w", err)
			}
			versions := metav1.ExtractGroupVersions(groups)
			sort.Strings(versions)
			for _, v := range versions {
				fmt.Fprintln(f.IO.Out, v)
			}
			return nil
		},
	}
}

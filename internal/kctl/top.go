package kctl

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// metricsVersion finds metrics.k8s.io and the first of its versions that
// is v1 or v1beta1, as kubectl 1.37 does.
func metricsVersion(f *Factory) (string, error) {
	disc, err := f.Discovery()
	if err != nil {
		return "", err
	}
	// kubectl asks the server every time; a cached answer is trusted only
	// when it has the group, else it is fetched again (the metrics API
	// appears when the first node reports).
	for {
		groups, err := disc.ServerGroups()
		if err != nil {
			return "", err
		}
		for _, g := range groups.Groups {
			if g.Name != "metrics.k8s.io" {
				continue
			}
			for _, v := range g.Versions {
				if v.Version == "v1" || v.Version == "v1beta1" {
					return v.Version, nil
				}
			}
		}
		if disc.Fresh() {
			return "", fmt.Errorf("Metrics API not available")
		}
		disc.Invalidate()
	}
}

func newTopCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "top", Short: "Display resource (CPU/memory) usage",
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	cmd.AddCommand(newTopNodeCommand(f), newTopPodCommand(f))
	return cmd
}

type usage struct {
	name, ns, pod string
	cpu, mem      resource.Quantity
	known         bool
}

func usageOf(m map[string]any) (cpu, mem resource.Quantity) {
	c, _, _ := unstructured.NestedString(m, "cpu")
	mm, _, _ := unstructured.NestedString(m, "memory")
	cpu, _ = resource.ParseQuantity(c)
	mem, _ = resource.ParseQuantity(mm)
	return
}

func cpuText(q resource.Quantity) string { return fmt.Sprintf("%dm", q.MilliValue()) }
func memText(q resource.Quantity) string { return fmt.Sprintf("%dMi", q.Value()/(1024*1024)) }

func newTopNodeCommand(f *Factory) *cobra.Command {
	var selector, sortBy string
	var noHeaders, showCapacity bool
	cmd := &cobra.Command{
		Use:     "node [NAME | -l label]",
		Aliases: []string{"nodes", "no"},
		Short:   "Display resource (CPU/memory) usage of nodes",
		RunE: func(cmd *cobra.Command, args []string) error {
			ver, err := metricsVersion(f)
			if err != nil {
				return err
			}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			items, err := listMetrics(ctx, f, schema.GroupVersionResource{Group: "metrics.k8s.io", Version: ver, Resource: "nodes"}, "", args, selector, "")
			if err != nil {
				return err
			}
			nodes, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return err
			}
			alloc := map[string]corev1.ResourceList{}
			for _, n := range nodes.Items {
				field := "allocatable"
				if showCapacity {
					field = "capacity"
				}
				m, _, _ := unstructured.NestedStringMap(n.Object, "status", field)
				rl := corev1.ResourceList{}
				for k, v := range m {
					rl[corev1.ResourceName(k)], _ = resource.ParseQuantity(v)
				}
				alloc[n.GetName()] = rl
			}
			var rows []usage
			for _, it := range items {
				u, _, _ := unstructured.NestedMap(it.Object, "usage")
				cpu, mem := usageOf(u)
				rows = append(rows, usage{name: it.GetName(), cpu: cpu, mem: mem, known: true})
			}
			sortUsage(rows, sortBy)
			w := newGetTabWriter(f.IO.Out)
			if !noHeaders {
				fmt.Fprint(w, "NAME\tCPU(cores)\tCPU(%)\tMEMORY(bytes)\tMEMORY(%)\t\n")
			}
			for _, r := range rows {
				a := alloc[r.name]
				c, m := a[corev1.ResourceCPU], a[corev1.ResourceMemory]
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t\n", r.name, cpuText(r.cpu), percent(r.cpu.MilliValue(), c.MilliValue()), memText(r.mem), percent(r.mem.Value(), m.Value()))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "Selector (label query) to filter on")
	cmd.Flags().StringVar(&sortBy, "sort-by", "", "If non-empty, sort nodes list using specified field. The field can be either 'cpu' or 'memory'.")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "If present, print output without headers")
	cmd.Flags().BoolVar(&showCapacity, "show-capacity", false, "Print node resources based on Capacity instead of Allocatable(default) of the nodes.")
	return cmd
}

func percent(v, total int64) string {
	if total == 0 {
		return "<unknown>"
	}
	return fmt.Sprintf("%d%%", v*100/total)
}

func sortUsage(rows []usage, by string) {
	sort.SliceStable(rows, func(i, j int) bool {
		switch by {
		case "cpu":
			return rows[i].cpu.Cmp(rows[j].cpu) > 0
		case "memory":
			return rows[i].mem.Cmp(rows[j].mem) > 0
		}
		return rows[i].ns+"/"+rows[i].name < rows[j].ns+"/"+rows[j].name
	})
}

func listMetrics(ctx context.Context, f *Factory, gvr schema.GroupVersionResource, ns string, names []string, selector, fieldSelector string) ([]unstructured.Unstructured, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	ri := dyn.Resource(gvr)
	var items []unstructured.Unstructured
	if len(names) > 0 {
		for _, n := range names {
			var u *unstructured.Unstructured
			if ns != "" {
				u, err = ri.Namespace(ns).Get(ctx, n, metav1.GetOptions{})
			} else {
				u, err = ri.Get(ctx, n, metav1.GetOptions{})
			}
			if err != nil {
				return nil, err
			}
			items = append(items, *u)
		}
		return items, nil
	}
	var l *unstructured.UnstructuredList
	if ns != "" {
		l, err = ri.Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: fieldSelector})
	} else {
		l, err = ri.List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: fieldSelector})
	}
	if err != nil {
		return nil, err
	}
	if len(l.Items) == 0 && len(names) == 0 && gvr.Resource == "nodes" {
		return nil, fmt.Errorf("metrics not available yet")
	}
	return l.Items, nil
}

func newTopPodCommand(f *Factory) *cobra.Command {
	var selector, fieldSelector, sortBy string
	var noHeaders, all, containers, sum bool
	cmd := &cobra.Command{
		Use:     "pod [NAME | -l label]",
		Aliases: []string{"pods", "po"},
		Short:   "Display resource (CPU/memory) usage of pods",
		RunE: func(cmd *cobra.Command, args []string) error {
			ver, err := metricsVersion(f)
			if err != nil {
				return err
			}
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			if all {
				ns = ""
			}
			items, err := listMetrics(cmd.Context(), f, schema.GroupVersionResource{Group: "metrics.k8s.io", Version: ver, Resource: "pods"}, ns, args, selector, fieldSelector)
			if err != nil {
				return err
			}
			if len(items) == 0 {
				// kubectl first asks why nothing came back: pods that
				// exist mean metrics are not there (yet).
				if err := verifyEmptyMetrics(cmd.Context(), f, ns, args, selector, fieldSelector); err != nil {
					return err
				}
				if all {
					fmt.Fprintln(f.IO.ErrOut, "No resources found")
				} else {
					fmt.Fprintf(f.IO.ErrOut, "No resources found in %s namespace.\n", ns)
				}
				return nil
			}
			var rows []usage
			for _, it := range items {
				cs, _, _ := unstructured.NestedSlice(it.Object, "containers")
				var tc, tm resource.Quantity
				for _, c := range cs {
					m := c.(map[string]any)
					u, _, _ := unstructured.NestedMap(m, "usage")
					cpu, mem := usageOf(u)
					if containers {
						name, _ := m["name"].(string)
						rows = append(rows, usage{name: name, pod: it.GetName(), ns: it.GetNamespace(), cpu: cpu, mem: mem})
					}
					tc.Add(cpu)
					tm.Add(mem)
				}
				if !containers {
					rows = append(rows, usage{name: it.GetName(), ns: it.GetNamespace(), cpu: tc, mem: tm})
				}
			}
			sortUsage(rows, sortBy)
			return printPodUsage(f, rows, all, containers, noHeaders, sum)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "Selector (label query) to filter on")
	cmd.Flags().StringVar(&sortBy, "sort-by", "", "If non-empty, sort pods list using specified field. The field can be either 'cpu' or 'memory'.")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "If present, print output without headers.")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "If present, list the requested object(s) across all namespaces.")
	cmd.Flags().BoolVar(&containers, "containers", false, "If present, print usage of containers within a pod.")
	cmd.Flags().BoolVar(&sum, "sum", false, "Print the sum of the resource usage")
	cmd.Flags().StringVar(&fieldSelector, "field-selector", "", "Selector (field query) to filter on, supports '=', '==', and '!='.(e.g. --field-selector key1=value1,key2=value2). The server only supports a limited number of field queries per type.")
	return cmd
}

func printPodUsage(f *Factory, rows []usage, all, containers, noHeaders, sum bool) error {
	w := newGetTabWriter(f.IO.Out)
	if !noHeaders {
		h := "NAME\tCPU(cores)\tMEMORY(bytes)\t"
		if containers {
			h = "POD\t" + h
		}
		if all {
			h = "NAMESPACE\t" + h
		}
		fmt.Fprintln(w, h)
	}
	var tc, tm resource.Quantity
	for _, r := range rows {
		line := fmt.Sprintf("%s\t%s\t%s\t", r.name, cpuText(r.cpu), memText(r.mem))
		if containers {
			line = r.pod + "\t" + line
		}
		if all {
			line = r.ns + "\t" + line
		}
		fmt.Fprintln(w, line)
		tc.Add(r.cpu)
		tm.Add(r.mem)
	}
	if sum {
		pad := ""
		if containers {
			pad += "\t"
		}
		if all {
			pad += "\t"
		}
		fmt.Fprintf(w, "%s\t________\t________\t\n%s\t%s\t%s\t\n", pad, pad, cpuText(tc), memText(tm))
	}
	return w.Flush()
}

// metricsCreationDelay is how long kubectl gives a new pod before its
// missing metrics count as an error rather than "not yet".
const metricsCreationDelay = 2 * time.Minute

// verifyEmptyMetrics is kubectl's reason for an empty metrics list: nil
// when there are no pods either, "metrics not available yet" for young
// pods, and the first pod older than two minutes otherwise.
func verifyEmptyMetrics(ctx context.Context, f *Factory, ns string, names []string, selector, fieldSelector string) error {
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	ri := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(ns)
	var pods []unstructured.Unstructured
	if len(names) > 0 {
		p, err := ri.Get(ctx, names[0], metav1.GetOptions{})
		if err != nil {
			return err
		}
		pods = append(pods, *p)
	} else {
		l, err := ri.List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: fieldSelector})
		if err != nil {
			return err
		}
		if len(l.Items) == 0 {
			return nil
		}
		pods = l.Items
	}
	for _, p := range pods {
		if age := time.Since(p.GetCreationTimestamp().Time); age > metricsCreationDelay {
			return fmt.Errorf("Metrics not available for pod %s/%s, age: %s", p.GetNamespace(), p.GetName(), age)
		}
	}
	return fmt.Errorf("metrics not available yet")
}

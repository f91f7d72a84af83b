package kctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// `cluster-info dump`: nodes, then per namespace its events, replication
// controllers, services, daemon sets, deployments, replica sets and pods,
// and every container's log, to stdout or a folder tree, as kubectl does.

type dumpOptions struct {
	dir, output  string
	namespaces   []string
	all          bool
	filesWritten []*os.File
}

// dumpKinds are the lists kubectl writes per namespace, in its order, with
// their file names.
var dumpKinds = []struct {
	gvr  schema.GroupVersionResource
	kind string
	file string
}{
	{schema.GroupVersionResource{Version: "v1", Resource: "events"}, "EventList", "events"},
	{schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}, "ReplicationControllerList", "replication-controllers"},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "ServiceList", "services"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSetList", "daemonsets"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "DeploymentList", "deployments"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "ReplicaSetList", "replicasets"},
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "PodList", "pods"},
}

func newClusterInfoDumpCommand(f *Factory) *cobra.Command {
	o := &dumpOptions{}
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Dump relevant information for debugging and diagnosis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			defer o.close()
			return o.run(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.output, "output", "o", "json", "Output format. One of: (json, yaml).")
	fl.StringVar(&o.dir, "output-directory", "", "Where to output the files.  If empty or '-' uses stdout, otherwise creates a directory hierarchy in that directory")
	fl.StringSliceVar(&o.namespaces, "namespaces", nil, "A comma separated list of namespaces to dump.")
	fl.BoolVarP(&o.all, "all-namespaces", "A", false, "If true, dump all namespaces.  If true, --namespaces is ignored.")
	fl.Duration("pod-running-timeout", 20*time.Second, "The length of time (like 5s, 2m, or 3h, higher than zero) to wait until at least one pod is running")
	return cmd
}

func (o *dumpOptions) run(ctx context.Context, f *Factory) error {
	if o.output == "wide" || strings.HasPrefix(o.output, "custom-columns") {
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,yaml", o.output)
	}
	p, err := objectPrinter(o.output, "", false)
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	s := newScheme()
	list := func(gvr schema.GroupVersionResource, ns, kind, file string) (*unstructured.UnstructuredList, error) {
		l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		// kubectl prints typed lists: fields in the Go types' order, items
		// without their own apiVersion and kind, no managedFields.
		for i := range l.Items {
			l.Items[i].SetManagedFields(nil)
			delete(l.Items[i].Object, "apiVersion")
			delete(l.Items[i].Object, "kind")
		}
		content := l.UnstructuredContent()
		if len(l.Items) == 0 {
			delete(content, "items") // an empty typed list prints "items": null
		}
		gvk := gvr.GroupVersion().WithKind(kind)
		typed := typedFor(s, gvk)
		if typed == nil {
			return nil, fmt.Errorf("no Go type for %s", gvk)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(content, typed); err != nil {
			return nil, err
		}
		typed.GetObjectKind().SetGroupVersionKind(gvk)
		ext := ".txt"
		if o.output == "json" || o.output == "yaml" {
			ext = "." + o.output
		}
		w, err := o.writer(f.IO.Out, file, ext)
		if err != nil {
			return nil, err
		}
		return l, p.PrintObj(typed, w)
	}
	if _, err := list(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "", "NodeList", "nodes"); err != nil {
		return err
	}
	namespaces, err := o.namespaceList(ctx, f)
	if err != nil {
		return err
	}
	for _, ns := range namespaces {
		var pods *unstructured.UnstructuredList
		for _, k := range dumpKinds {
			l, err := list(k.gvr, ns, k.kind, path.Join(ns, k.file))
			if err != nil {
				return err
			}
			pods = l
		}
		if err := o.dumpLogs(ctx, f, pods); err != nil {
			return err
		}
	}
	if o.dir != "" && o.dir != "-" {
		fmt.Fprintf(f.IO.Out, "Cluster info dumped to %s\n", o.dir)
	}
	return nil
}

// namespaceList is every namespace with -A, else --namespaces, else
// kube-system and the current one.
func (o *dumpOptions) namespaceList(ctx context.Context, f *Factory) ([]string, error) {
	if o.all {
		dyn, err := f.Dynamic()
		if err != nil {
			return nil, err
		}
		l, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, n := range l.Items {
			out = append(out, n.GetName())
		}
		return out, nil
	}
	if len(o.namespaces) > 0 {
		return o.namespaces, nil
	}
	ns, _, err := f.Namespace()
	return []string{"kube-system", ns}, err
}

// dumpLogs writes each init and regular container's log between kubectl's
// START and END lines; a failed request is noted in place of the log.
func (o *dumpOptions) dumpLogs(ctx context.Context, f *Factory, pods *unstructured.UnstructuredList) error {
	rc, err := f.REST()
	if err != nil {
		return err
	}
	for _, pod := range pods.Items {
		w, err := o.writer(f.IO.Out, path.Join(pod.GetNamespace(), pod.GetName(), "logs"), ".txt")
		if err != nil {
			return err
		}
		for _, field := range []string{"initContainers", "containers"} {
			cs, _, _ := unstructured.NestedSlice(pod.Object, "spec", field)
			for _, c := range cs {
				name, _, _ := unstructured.NestedString(c.(map[string]any), "name")
				fmt.Fprintf(w, "==== START logs for container %s of pod %s/%s ====\n", name, pod.GetNamespace(), pod.GetName())
				data, err := rc.Get().AbsPath("/api/v1/namespaces", pod.GetNamespace(), "pods", pod.GetName(), "log").
					Param("container", name).DoRaw(ctx)
				if err != nil {
					fmt.Fprintf(w, "Request log error: %s\n", err.Error())
				} else {
					_, _ = w.Write(data)
				}
				fmt.Fprintf(w, "==== END logs for container %s of pod %s/%s ====\n", name, pod.GetNamespace(), pod.GetName())
			}
		}
	}
	return nil
}

// writer is stdout, or with --output-directory the file name+ext under it
// (folders 0700, files 0600: a dump may hold secrets from logs).
func (o *dumpOptions) writer(stdout io.Writer, name, ext string) (io.Writer, error) {
	if o.dir == "" || o.dir == "-" {
		return stdout, nil
	}
	full := filepath.Join(o.dir, filepath.FromSlash(name)) + ext
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		return nil, err
	}
	fh, err := os.OpenFile(full, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	o.filesWritten = append(o.filesWritten, fh)
	return fh, nil
}

func (o *dumpOptions) close() {
	for _, fh := range o.filesWritten {
		fh.Close()
	}
}

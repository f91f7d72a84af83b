package kctl

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/watch"
	cliprinters "k8s.io/cli-runtime/pkg/printers"
)

var gvrEvents = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// eventsOptions are the flags of `kubectl events`.
type eventsOptions struct {
	allNamespaces, watch, noHeaders bool
	showManagedFields               bool
	forObject, output, template     string
	types                           []string
	chunkSize                       int64
}

func newEventsCommand(f *Factory) *cobra.Command {
	o := &eventsOptions{chunkSize: 500}
	cmd := &cobra.Command{
		Use:   "events [(-o|--output=)json|yaml|name|go-template|go-template-file|template|templatefile|jsonpath|jsonpath-as-json|jsonpath-file] [--for TYPE/NAME] [--watch] [--types=Normal,Warning]",
		Short: "List events",
		Long: "Display events.\n\n Prints a table of the most important information about events. You can request events for a namespace, " +
			"for all namespace, or filtered to only those pertaining to a specified resource.",
		Example: "  # List recent events in the default namespace\n  kubectl events\n\n" +
			"  # List recent events in all namespaces\n  kubectl events --all-namespaces\n\n" +
			"  # List recent events for the specified pod, then wait for more events and list them as they arrive\n  kubectl events --for pod/web-pod-13je7 --watch\n\n" +
			"  # List recent events in YAML format\n  kubectl events -oyaml\n\n" +
			"  # List recent only events of type 'Warning' or 'Normal'\n  kubectl events --types=Warning,Normal",
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.watch, "watch", "w", false, "After listing the requested events, watch for more events.")
	fl.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "If present, list the requested object(s) across all namespaces. Namespace in current context is ignored even if specified with --namespace.")
	fl.StringVar(&o.forObject, "for", "", "Filter events to only those pertaining to the specified resource.")
	fl.StringSliceVar(&o.types, "types", nil, "Output only events of given types.")
	fl.BoolVar(&o.noHeaders, "no-headers", false, "When using the default output format, don't print headers.")
	fl.Int64Var(&o.chunkSize, "chunk-size", 500, "Return large lists in chunks rather than all at once. Pass 0 to disable. This flag is beta and may change in the future.")
	fl.StringVarP(&o.output, "output", "o", "", "Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).")
	fl.StringVar(&o.template, "template", "", "Template string or path to template file to use when -o=go-template, -o=go-template-file. The template format is golang templates [http://golang.org/pkg/text/template/#pkg-overview].")
	fl.BoolVar(&o.showManagedFields, "show-managed-fields", false, "If true, keep the managedFields when printing objects in JSON or YAML format.")
	fl.Bool("allow-missing-template-keys", true, "If true, ignore any errors in templates when a field or map key is missing in the template. Only applies to golang and jsonpath output formats.")
	return cmd
}

func (o *eventsOptions) run(ctx context.Context, f *Factory) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	opts := metav1.ListOptions{Limit: o.chunkSize}
	if o.forObject != "" {
		sel, err := o.forSelector(f)
		if err != nil {
			return err
		}
		opts.FieldSelector = sel
	}
	if len(o.types) > 0 {
		o.types = sets.List(sets.New(o.types...))
	}
	for _, t := range o.types {
		if !strings.EqualFold(t, "Normal") && !strings.EqualFold(t, "Warning") {
			return fmt.Errorf("valid --types are Normal or Warning")
		}
	}
	print, err := o.printer()
	if err != nil {
		return err
	}
	listNS := ns
	if o.allNamespaces {
		listNS = ""
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	rc := dyn.Resource(gvrEvents).Namespace(listNS)
	w := newGetTabWriter(f.IO.Out)
	defer w.Flush()
	if o.watch {
		wi, err := rc.Watch(ctx, opts)
		if err != nil {
			return err
		}
		defer wi.Stop()
		return o.watchEvents(ctx, wi, print, w)
	}
	var events []corev1.Event
	for {
		l, err := rc.List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range l.Items {
			var e corev1.Event
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &e); err != nil {
				return err
			}
			if o.wanted(&e) {
				events = append(events, e)
			}
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			break
		}
	}
	if len(events) == 0 {
		if o.allNamespaces {
			fmt.Fprintln(f.IO.ErrOut, "No events found.")
		} else {
			fmt.Fprintf(f.IO.ErrOut, "No events found in %s namespace.\n", ns)
		}
		return nil
	}
	sort.Sort(byEventTime(events))
	// kubectl ignores the printer's error here (-o name cannot print the
	// list and prints nothing).
	_ = print(&corev1.EventList{TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"}, Items: events}, w)
	return nil
}

// watchEvents prints each added or changed event as it arrives (deleted
// events are expired ones and are not shown), until ctx ends.
func (o *eventsOptions) watchEvents(ctx context.Context, wi watch.Interface, print func(runtime.Object, io.Writer) error, w interface {
	io.Writer
	Flush() error
}) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return nil
			}
			if ev.Type == watch.Deleted || ev.Type == watch.Error || ev.Type == watch.Bookmark {
				continue
			}
			u, ok := ev.Object.(interface{ UnstructuredContent() map[string]any })
			if !ok {
				continue
			}
			var e corev1.Event
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), &e); err != nil || !o.wanted(&e) {
				continue
			}
			if err := print(&e, w); err != nil {
				return err
			}
			w.Flush()
		}
	}
}

// forSelector is the field selector of --for TYPE/NAME: the object's kind,
// apiVersion and name, as kubectl sends it.
func (o *eventsOptions) forSelector(f *Factory) (string, error) {
	typ, name, ok := strings.Cut(o.forObject, "/")
	if !ok {
		return "", fmt.Errorf("--for must be in resource/name form")
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("arguments in resource/name form may not have more than one slash")
	}
	m, err := f.Mapper()
	if err != nil {
		return "", err
	}
	full, gr := schema.ParseResourceArg(strings.ToLower(typ))
	var gvr schema.GroupVersionResource
	if full != nil {
		gvr, _ = m.ResourceFor(*full)
	}
	if gvr.Empty() {
		if gvr, err = m.ResourceFor(gr.WithVersion("")); err != nil {
			if meta.IsNoMatchError(err) {
				// kubectl prints this one without its "error: " prefix.
				return "", &ExitError{Code: 1, Msg: fmt.Sprintf("the server doesn't have a resource type %q", gr.Resource)}
			}
			return "", err
		}
	}
	gvk, err := m.KindFor(gvr)
	if err != nil {
		return "", err
	}
	return fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.kind", gvk.Kind),
		fields.OneTermEqualSelector("involvedObject.apiVersion", gvk.GroupVersion().String()),
		fields.OneTermEqualSelector("involvedObject.name", name)).String(), nil
}

func (o *eventsOptions) wanted(e *corev1.Event) bool {
	if e.Kind == "" {
		e.APIVersion, e.Kind = "v1", "Event"
	}
	if !o.showManagedFields {
		e.ManagedFields = nil
	}
	if len(o.types) == 0 {
		return true
	}
	for _, t := range o.types {
		if strings.EqualFold(t, e.Type) {
			return true
		}
	}
	return false
}

// printer is -o's printer, else kubectl's fixed event table.
func (o *eventsOptions) printer() (func(runtime.Object, io.Writer) error, error) {
	if o.output != "" {
		p, err := objectPrinter(o.output, o.template, o.noHeaders)
		if err != nil {
			return nil, err
		}
		return p.PrintObj, nil
	}
	headers := !o.noHeaders
	return func(obj runtime.Object, w io.Writer) error {
		if headers {
			if o.allNamespaces {
				fmt.Fprint(w, "NAMESPACE\t")
			}
			fmt.Fprint(w, "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE\n")
			headers = false
		}
		switch t := obj.(type) {
		case *corev1.EventList:
			for i := range t.Items {
				o.printEvent(w, &t.Items[i])
			}
		case *corev1.Event:
			o.printEvent(w, t)
		}
		return nil
	}, nil
}

func (o *eventsOptions) printEvent(w io.Writer, e *corev1.Event) {
	if o.allNamespaces {
		fmt.Fprintf(w, "%v\t", e.Namespace)
	}
	esc := cliprinters.EscapeTerminal
	fmt.Fprintf(w, "%s\t%s\t%s\t%s/%s\t%v\n", eventInterval(e), esc(e.Type), esc(e.Reason),
		esc(e.InvolvedObject.Kind), esc(e.InvolvedObject.Name), esc(strings.TrimSpace(e.Message)))
}

// eventInterval is LAST SEEN: the age of the last occurrence with the count
// and the age of the first when the event repeated.
func eventInterval(e *corev1.Event) string {
	first := sinceMicro(e.EventTime)
	if e.EventTime.IsZero() {
		first = since(e.FirstTimestamp)
	}
	switch {
	case e.Series != nil:
		return fmt.Sprintf("%s (x%d over %s)", sinceMicro(e.Series.LastObservedTime), e.Series.Count, first)
	case e.Count > 1:
		return fmt.Sprintf("%s (x%d over %s)", since(e.LastTimestamp), e.Count, first)
	}
	return first
}

func since(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func sinceMicro(t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// byEventTime orders events by their last occurrence, as kubectl does.
type byEventTime []corev1.Event

func (l byEventTime) Len() int           { return len(l) }
func (l byEventTime) Swap(i, j int)      { l[i], l[j] = l[j], l[i] }
func (l byEventTime) Less(i, j int) bool { return eventTime(&l[i]).Before(eventTime(&l[j])) }

func eventTime(e *corev1.Event) time.Time {
	if e.Series != nil {
		return e.Series.LastObservedTime.Time
	}
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}

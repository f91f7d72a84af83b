package kctl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

type logsOptions struct {
	container, selector, sinceTime string
	follow, previous, timestamps   bool
	allContainers, prefix, allPods bool
	ignoreErrors                   bool
	tail                           int64
	since                          time.Duration
	limitBytes                     int64
	maxRequests                    int
}

func newLogsCommand(f *Factory) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]",
		Short: "Print the logs for a container in a pod",
		RunE:  func(cmd *cobra.Command, args []string) error { return o.run(f, cmd, args) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.container, "container", "c", "", "Print the logs of this container")
	fl.BoolVarP(&o.follow, "follow", "f", false, "Specify if the logs should be streamed.")
	fl.BoolVarP(&o.previous, "previous", "p", false, "If true, print the logs for the previous instance of the container in a pod if it exists.")
	fl.BoolVar(&o.timestamps, "timestamps", false, "Include timestamps on each line in the log output")
	fl.BoolVar(&o.allContainers, "all-containers", false, "Get all containers' logs in the pod(s).")
	fl.BoolVar(&o.allPods, "all-pods", false, "Get logs from all pod(s). Sets prefix to true.")
	fl.BoolVar(&o.prefix, "prefix", false, "Prefix each log line with the log source (pod name and container name)")
	fl.BoolVar(&o.ignoreErrors, "ignore-errors", false, "If watching / following pod logs, allow for any errors that occur to be non-fatal")
	fl.Int64Var(&o.tail, "tail", -1, "Lines of recent log file to display. Defaults to -1 with no selector, showing all log lines otherwise 10, if a selector is provided.")
	fl.DurationVar(&o.since, "since", 0, "Only return logs newer than a relative duration like 5s, 2m, or 3h. Defaults to all logs. Only one of since-time / since may be used.")
	fl.StringVar(&o.sinceTime, "since-time", "", "Only return logs after a specific date (RFC3339). Defaults to all logs. Only one of since-time / since may be used.")
	fl.Int64Var(&o.limitBytes, "limit-bytes", 0, "Maximum bytes of logs to return. Defaults to no limit.")
	fl.StringVarP(&o.selector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.")
	fl.IntVar(&o.maxRequests, "max-log-requests", 5, "Specify maximum number of concurrent logs to follow when using by a selector. Defaults to 5.")
	fl.Duration("pod-running-timeout", 20*time.Second, "The length of time (like 5s, 2m, or 3h, higher than zero) to wait until at least one pod is running")
	return cmd
}

// logTarget is one container whose log to print.
type logTarget struct {
	pod, container string
}

func (o *logsOptions) run(f *Factory, cmd *cobra.Command, args []string) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	switch {
	case o.selector != "" && len(args) > 0:
		return fmt.Errorf("only a selector (-l) or a POD name is allowed")
	case o.selector != "":
		if o.tail == -1 {
			o.tail = 10
		}
		dyn, err := f.Dynamic()
		if err != nil {
			return err
		}
		l, err := dyn.Resource(gvrPods).Namespace(ns).List(cmd.Context(), metav1.ListOptions{LabelSelector: o.selector})
		if err != nil {
			return err
		}
		for i := range l.Items {
			p, err := toPod(&l.Items[i])
			if err != nil {
				return err
			}
			pods = append(pods, p)
		}
		if len(pods) == 0 {
			fmt.Fprintf(f.IO.ErrOut, "No resources found in %s namespace.\n", ns)
			return nil
		}
		if o.follow && len(pods) > o.maxRequests {
			return fmt.Errorf("you are attempting to follow %d log streams, but maximum allowed concurrency is %d, use --max-log-requests to increase the limit", len(pods), o.maxRequests)
		}
	case len(args) == 1 || len(args) == 2 && o.container == "":
		if len(args) == 2 {
			o.container = args[1]
		}
		ps, _, err := podsFor(cmd.Context(), f, ns, args[0])
		if apierrors.IsNotFound(err) {
			// kubectl's logs words a missing object its own way.
			return fmt.Errorf("error from server (NotFound): %v in namespace %q", err, ns)
		}
		if err != nil {
			return err
		}
		if len(ps) > 1 && !o.allPods {
			fmt.Fprintf(f.IO.ErrOut, "Found %d pods, using pod/%s\n", len(ps), ps[0].Name)
			ps = ps[:1]
		}
		pods = ps
	default:
		return usageError(cmd.CommandPath(), "expected POD or TYPE/NAME is a required argument for the logs command")
	}
	var targets []logTarget
	for _, p := range pods {
		switch {
		case o.allContainers:
			for _, c := range p.Spec.InitContainers {
				targets = append(targets, logTarget{p.Name, c.Name})
			}
			for _, c := range p.Spec.Containers {
				targets = append(targets, logTarget{p.Name, c.Name})
			}
			for _, c := range p.Spec.EphemeralContainers {
				targets = append(targets, logTarget{p.Name, c.Name})
			}
		case o.container != "":
			if err := checkContainer(p, o.container); err != nil {
				return err
			}
			targets = append(targets, logTarget{p.Name, o.container})
		default:
			targets = append(targets, logTarget{p.Name, defaultContainer(f, p, o.selector != "" || o.allPods)})
		}
	}
	return o.stream(cmd.Context(), f, ns, targets, o.prefix || o.allPods)
}

// stream copies each container's log; followed logs run concurrently.
func (o *logsOptions) stream(ctx context.Context, f *Factory, ns string, targets []logTarget, prefix bool) error {
	rc, err := f.REST()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	copyOne := func(t logTarget) error {
		req := rc.Get().AbsPath("/api/v1/namespaces/"+ns+"/pods/"+t.pod+"/log").Param("container", t.container)
		if o.follow {
			req = req.Param("follow", "true")
		}
		if o.previous {
			req = req.Param("previous", "true")
		}
		if o.since > 0 {
			req = req.Param("sinceSeconds", strconv.FormatInt(int64(o.since.Round(time.Second).Seconds()), 10))
		}
		if o.sinceTime != "" {
			req = req.Param("sinceTime", o.sinceTime)
		}
		if o.timestamps {
			req = req.Param("timestamps", "true")
		}
		if o.tail >= 0 {
			req = req.Param("tailLines", strconv.FormatInt(o.tail, 10))
		}
		if o.limitBytes > 0 {
			req = req.Param("limitBytes", strconv.FormatInt(o.limitBytes, 10))
		}
		s, err := req.Stream(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		r := bufio.NewReader(s)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				mu.Lock()
				if prefix {
					fmt.Fprintf(f.IO.Out, "[pod/%s/%s] ", t.pod, t.container)
				}
				f.IO.Out.Write(line)
				mu.Unlock()
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	if !o.follow {
		var errs []error
		for _, t := range targets {
			if err := copyOne(t); err != nil {
				if !o.ignoreErrors {
					return err
				}
				errs = append(errs, err)
			}
		}
		return utilerrors.NewAggregate(errs)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(targets))
	for _, t := range targets {
		wg.Add(1)
		go func(t logTarget) {
			defer wg.Done()
			if err := copyOne(t); err != nil {
				errc <- err
			}
		}(t)
	}
	wg.Wait()
	close(errc)
	return <-errc
}

package kctl

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newRunCommand(f *Factory) *cobra.Command {
	var mf mutateFlags
	var image, labels, restart, pullPolicy, serviceAccount string
	var env, annotations []string
	var port int
	var command, expose, stdin, tty, rm, privileged bool
	var podTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "run NAME --image=image [--env=\"key=value\"] [--port=port] [--dry-run=server|client] [--overrides=inline-json] [--command] -- [COMMAND] [args...]",
		Short: "Run a particular image on the cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(cmd.CommandPath(), "NAME is required for run")
			}
			if image == "" {
				return fmt.Errorf("--image is required")
			}
			if err := mf.check(); err != nil {
				return err
			}
			if rm && !stdin {
				return fmt.Errorf("--rm should only be used for attached containers")
			}
			name := args[0]
			lbl := map[string]string{"run": name}
			if labels != "" {
				lbl = map[string]string{}
				for _, kv := range strings.Split(labels, ",") {
					k, v, _ := strings.Cut(kv, "=")
					lbl[k] = v
				}
			}
			c := corev1.Container{Name: name, Image: image, ImagePullPolicy: corev1.PullPolicy(pullPolicy)}
			if privileged {
				c.SecurityContext = &corev1.SecurityContext{Privileged: &privileged}
			}
			if command {
				c.Command = args[1:]
			} else if len(args) > 1 {
				c.Args = args[1:]
			}
			for _, e := range env {
				k, v, _ := strings.Cut(e, "=")
				c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
			}
			if port >= 0 {
				c.Ports = []corev1.ContainerPort{{ContainerPort: int32(port)}}
			}
			if restart == "" {
				restart = "Always"
			}
			pod := &corev1.Pod{TypeMeta: tm("v1", "Pod"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{c}, RestartPolicy: corev1.RestartPolicy(restart),
					DNSPolicy: corev1.DNSClusterFirst, ServiceAccountName: serviceAccount}}
			for _, a := range annotations {
				k, v, _ := strings.Cut(a, "=")
				if pod.Annotations == nil {
					pod.Annotations = map[string]string{}
				}
				pod.Annotations[k] = v
			}
			if expose {
				if port < 0 {
					return fmt.Errorf("--port must be set when exposing a service")
				}
				svc := &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: corev1.ServiceSpec{Selector: lbl, Ports: []corev1.ServicePort{{Port: int32(port), TargetPort: intstr.FromInt32(int32(port)), Protocol: corev1.ProtocolTCP}}}}
				if err := createObject(f, cmd, &mf, schema.GroupVersionResource{Version: "v1", Resource: "services"}, svc, "", false); err != nil {
					return err
				}
			}
			if stdin {
				// An attached pod runs once, like kubectl's default for -i.
				c := &pod.Spec.Containers[0]
				c.Stdin, c.StdinOnce, c.TTY = true, true, tty
				if !flagChanged(cmd, "restart") {
					pod.Spec.RestartPolicy = corev1.RestartPolicyNever
				}
			}
			if !stdin || mf.dryRun != "none" {
				return createObject(f, cmd, &mf, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, pod, "", false)
			}
			// Attached runs print no "created" line, as in kubectl.
			out := f.IO.Out
			f.IO.Out = io.Discard
			err := createObject(f, cmd, &mf, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, pod, "", false)
			f.IO.Out = out
			if err != nil {
				return err
			}
			return attachRun(f, cmd, name, tty, rm, podTimeout)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&image, "image", "", "The image for the container to run.")
	fl.StringVarP(&labels, "labels", "l", "", "Comma separated labels to apply to the pod. Will override previous values.")
	fl.StringVar(&restart, "restart", "", "The restart policy for this Pod.  Legal values [Always, OnFailure, Never].")
	fl.StringVar(&pullPolicy, "image-pull-policy", "", "The image pull policy for the container.")
	fl.StringVar(&serviceAccount, "serviceaccount", "", "Service account to set in the pod spec.")
	fl.StringArrayVar(&env, "env", nil, "Environment variables to set in the container.")
	fl.StringArrayVar(&annotations, "annotations", nil, "Annotations to apply to the pod.")
	fl.IntVar(&port, "port", -1, "The port that this container exposes.")
	fl.BoolVar(&command, "command", false, "If true and extra arguments are present, use them as the 'command' field in the container, rather than the 'args' field which is the default.")
	fl.BoolVar(&privileged, "privileged", false, "If true, run the container in privileged mode.")
	fl.BoolVar(&expose, "expose", false, "If true, create a ClusterIP service associated with the pod.  Requires `--port`.")
	fl.BoolVarP(&stdin, "stdin", "i", false, "Keep stdin open on the container in the pod, even if nothing is attached.")
	fl.BoolVarP(&tty, "tty", "t", false, "Allocate a TTY for the container in the pod.")
	fl.DurationVar(&podTimeout, "pod-running-timeout", time.Minute, "The length of time (like 5s, 2m, or 3h, higher than zero) to wait until at least one pod is running")
	fl.BoolVar(&rm, "rm", false, "If true, delete the pod after it exits.  Only valid when attaching to the container, e.g. with '--attach' or with '-i/--stdin'.")
	mf.add(cmd, "kubectl-run", false)
	return cmd
}

// attachRun waits for the new pod to run, attaches to it and, with --rm,
// deletes it afterwards, as `kubectl run -i [-t] [--rm]` does. A pod that
// has already finished, or one kctl cannot attach to, gets its log printed
// instead; a pod that runs once (restartPolicy Never) ends kctl with its
// container's exit code.
func attachRun(f *Factory, cmd *cobra.Command, name string, tty, rm bool, timeout time.Duration) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	remove := func() error {
		if !rm {
			return nil
		}
		if err := dyn.Resource(gvrPods).Namespace(ns).Delete(cmd.Context(), name, metav1.DeleteOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(f.IO.Out, "pod %q deleted from %s namespace\n", name, ns)
		return nil
	}
	// waitFor polls the pod until done says so; nil when the time is up.
	waitFor := func(ctx context.Context, done func(*corev1.Pod) bool) *corev1.Pod {
		for {
			if u, err := dyn.Resource(gvrPods).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
				if p, err := toPod(u); err == nil && done(p) {
					return p
				}
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	finished := func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	}
	pod := waitFor(ctx, func(p *corev1.Pod) bool { return p.Status.Phase != corev1.PodPending && p.Status.Phase != "" })
	if pod == nil {
		if err := remove(); err != nil {
			return err
		}
		return fmt.Errorf("timed out waiting for the condition")
	}
	logs := func() error {
		lo := &logsOptions{tail: -1, follow: true}
		return lo.stream(cmd.Context(), f, ns, []logTarget{{pod: name, container: pod.Spec.Containers[0].Name}}, false)
	}
	var streamErr error
	if finished(pod) {
		streamErr = logs()
	} else {
		fmt.Fprintln(f.IO.ErrOut, "If you don't see a command prompt, try pressing enter.")
		o := &streamOptions{stdin: true, tty: tty, quiet: true} // the prompt above is all run prints
		if err := o.run(f, cmd, name, nil, "attach"); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "warning: couldn't attach to pod/%s, falling back to streaming logs: %v\n", name, err)
			streamErr = logs()
		}
	}
	once := pod.Spec.RestartPolicy == corev1.RestartPolicyNever
	if once && !finished(pod) {
		wctx, wcancel := context.WithTimeout(cmd.Context(), timeout)
		pod = waitFor(wctx, finished)
		wcancel()
	}
	if err := remove(); err != nil {
		return err
	}
	if streamErr != nil || !once || pod == nil || pod.Status.Phase == corev1.PodSucceeded {
		return streamErr
	}
	return podExitError(pod)
}

// podExitError is kubectl's error for a run-once pod that failed: its
// container's exit code and termination reason.
func podExitError(p *corev1.Pod) error {
	unknown := &ExitError{Code: 1, Msg: fmt.Sprintf("error: pod %s/%s failed with unknown exit code", p.Namespace, p.Name)}
	if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Terminated == nil {
		return unknown
	}
	t := p.Status.ContainerStatuses[0].State.Terminated
	if t.ExitCode == 0 {
		return unknown
	}
	return &ExitError{Code: int(t.ExitCode), Msg: fmt.Sprintf("pod %s/%s terminated (%s)\n%s", p.Namespace, p.Name, t.Reason, t.Message)}
}

package kctl

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// debugOptions are the flags of `kubectl debug`.
type debugOptions struct {
	image, container, target, copyTo, profile, pullPolicy string
	argsOnly, attach, stdin, tty, quiet                   bool
	replace, sameNode, shareProcesses                     bool
	keep                                                  keepFlags
	setImages, env                                        map[string]string
	files                                                 fileOptions

	attachChanged, shareChanged bool
	names, args                 []string
}

func newDebugCommand(f *Factory) *cobra.Command {
	o := &debugOptions{}
	cmd := &cobra.Command{
		Use:                   "debug (POD | TYPE[[.VERSION].GROUP]/NAME) [ -- COMMAND [args...] ]",
		DisableFlagsInUseLine: true,
		Short:                 "Create debugging sessions for troubleshooting workloads and nodes",
		Long: "Debug cluster resources using interactive debugging containers.\n\n 'debug' provides automation for common debugging tasks for cluster objects identified by resource and name. " +
			"Pods will be used by default if no resource is specified.\n\n The action taken by 'debug' varies depending on what resource is specified. Supported actions include:\n\n" +
			"  *  Workload: Create a copy of an existing pod with certain attributes changed, for example changing the image tag to a new version.\n" +
			"  *  Workload: Add an ephemeral container to an already running pod, for example to add debugging utilities without restarting the pod.\n" +
			"  *  Node: Create a new pod that runs in the node's host namespaces and can access the node's filesystem.",
		Example: "  # Create an interactive debugging session in pod mypod and immediately attach to it.\n  kubectl debug mypod -it --image=busybox\n\n" +
			"  # Create a debug container named debugger using a custom automated debugging image.\n  kubectl debug --image=myproj/debug-tools -c debugger mypod\n\n" +
			"  # Create a copy of mypod adding a debug container and attach to it\n  kubectl debug mypod -it --image=busybox --copy-to=my-debugger\n\n" +
			"  # Create an interactive debugging session on a node and immediately attach to it.\n  # The container will run in the host namespaces and the host's filesystem will be mounted at /host\n" +
			"  kubectl debug node/mynode -it --image=busybox",
		RunE: func(cmd *cobra.Command, args []string) error {
			n := cmd.ArgsLenAtDash()
			if n < 0 {
				n = len(args)
			}
			o.names, o.args = args[:n], args[n:]
			o.attachChanged = cmd.Flags().Changed("attach")
			o.shareChanged = cmd.Flags().Changed("share-processes")
			if !o.attachChanged && o.stdin {
				o.attach = true
			}
			if err := o.validate(f); err != nil {
				return err
			}
			return o.run(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&o.files.filenames, "filename", "f", nil, "identifying the resource to debug")
	fl.BoolVar(&o.argsOnly, "arguments-only", false, "If specified, everything after -- will be passed to the new container as Args instead of Command.")
	fl.BoolVar(&o.attach, "attach", false, "If true, wait for the container to start running, and then attach as if 'kubectl attach ...' were called.  Default false, unless '-i/--stdin' is set, in which case the default is true.")
	fl.StringVarP(&o.container, "container", "c", "", "Container name to use for debug container.")
	fl.StringVar(&o.copyTo, "copy-to", "", "Create a copy of the target Pod with this name.")
	fl.BoolVar(&o.replace, "replace", false, "When used with '--copy-to', delete the original Pod.")
	fl.StringToStringVar(&o.env, "env", nil, "Environment variables to set in the container.")
	fl.StringVar(&o.image, "image", "", "Container image to use for debug container.")
	fl.BoolVar(&o.keep.labels, "keep-labels", false, "If true, keep the original pod labels.(This flag only works when used with '--copy-to')")
	fl.BoolVar(&o.keep.annotations, "keep-annotations", false, "If true, keep the original pod annotations.(This flag only works when used with '--copy-to')")
	fl.BoolVar(&o.keep.liveness, "keep-liveness", false, "If true, keep the original pod liveness probes.(This flag only works when used with '--copy-to')")
	fl.BoolVar(&o.keep.readiness, "keep-readiness", false, "If true, keep the original pod readiness probes.(This flag only works when used with '--copy-to')")
	fl.BoolVar(&o.keep.startup, "keep-startup", false, "If true, keep the original startup probes.(This flag only works when used with '--copy-to')")
	fl.BoolVar(&o.keep.initContainers, "keep-init-containers", true, "Run the init containers for the pod. Defaults to true.(This flag only works when used with '--copy-to')")
	fl.StringToStringVar(&o.setImages, "set-image", nil, "When used with '--copy-to', a list of name=image pairs for changing container images, similar to how 'kubectl set image' works.")
	fl.StringVar(&o.pullPolicy, "image-pull-policy", "", "The image pull policy for the container. If left empty, this value will not be specified by the client and defaulted by the server.")
	fl.BoolVarP(&o.stdin, "stdin", "i", false, "Keep stdin open on the container(s) in the pod, even if nothing is attached.")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "If true, suppress informational messages.")
	fl.BoolVar(&o.sameNode, "same-node", false, "When used with '--copy-to', schedule the copy of target Pod on the same node.")
	fl.BoolVar(&o.shareProcesses, "share-processes", true, "When used with '--copy-to', enable process namespace sharing in the copy.")
	fl.StringVar(&o.target, "target", "", "When using an ephemeral container, target processes in this container name.")
	fl.BoolVarP(&o.tty, "tty", "t", false, "Allocate a TTY for the debugging container.")
	fl.StringVar(&o.profile, "profile", "general", `Options are "general", "baseline", "restricted", "netadmin" or "sysadmin". Defaults to "general"`)
	return cmd
}

// imageRef is the shape of an image reference: [host[:port]/]path[:tag][@digest].
var imageRef = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)

// validate checks the flags in kubectl's order, with its messages.
func (o *debugOptions) validate(f *Factory) error {
	switch {
	case o.attach && o.attachChanged && o.image == "" && o.container == "":
		return fmt.Errorf("you must specify --container or create a new container using --image in order to attach.")
	case o.copyTo != "" && o.image == "" && len(o.setImages) == 0 && len(o.args) == 0:
		return fmt.Errorf("you must specify --image, --set-image or command arguments.")
	case o.copyTo != "" && len(o.args) > 0 && o.container == "" && o.image == "":
		return fmt.Errorf("you must specify an existing container or a new image when specifying args.")
	case o.copyTo == "" && o.replace:
		return fmt.Errorf("--replace may only be used with --copy-to.")
	case o.copyTo == "" && o.sameNode:
		return fmt.Errorf("--same-node may only be used with --copy-to.")
	case o.copyTo == "" && len(o.setImages) > 0:
		return fmt.Errorf("--set-image may only be used with --copy-to.")
	case o.copyTo == "" && o.image == "":
		return fmt.Errorf("you must specify --image when not using --copy-to.")
	case o.image != "" && !imageRef.MatchString(o.image):
		return fmt.Errorf("invalid image name %q: invalid reference format", o.image)
	case len(o.names) == 0 && len(o.files.filenames) == 0:
		return fmt.Errorf("NAME or filename is required for debug")
	}
	switch corev1.PullPolicy(o.pullPolicy) {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever, "":
	default:
		return fmt.Errorf("invalid image pull policy: %s", o.pullPolicy)
	}
	for _, name := range sortedKeys(o.setImages) {
		if !imageRef.MatchString(o.setImages[name]) {
			return fmt.Errorf("invalid image name %q for container %q: invalid reference format", o.setImages[name], name)
		}
	}
	if o.target != "" {
		if o.copyTo != "" {
			return fmt.Errorf("--target is incompatible with --copy-to. Use --share-processes instead.")
		}
		if !o.quiet {
			fmt.Fprintf(f.IO.Out, "Targeting container %q. If you don't see processes from this container it may be because the container runtime doesn't support this feature.\n", o.target)
		}
	}
	if o.tty && !o.stdin {
		return fmt.Errorf("-i/--stdin is required for containers with -t/--tty=true")
	}
	if !contains(debugProfiles, o.profile) {
		return fmt.Errorf("unknown profile: %s", o.profile)
	}
	if o.profile == "legacy" {
		fmt.Fprintln(f.IO.ErrOut, `--profile=legacy is deprecated and planned to be removed in v1.39. It is recommended to specify other profile, for example "--profile=general".`)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// run resolves each target (a pod by default, or node/NAME), makes the
// debugging container, and attaches to it when asked.
func (o *debugOptions) run(cmd *cobra.Command, f *Factory) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	var names []string
	for _, n := range o.names {
		if !strings.Contains(n, "/") {
			n = "pods/" + n
		}
		names = append(names, n)
	}
	var targets []target
	if len(names) > 0 {
		if targets, err = resolveTargets(f, names, fileOptions{}, ns); err != nil {
			return err
		}
	}
	if len(o.files.filenames) > 0 {
		ft, err := resolveTargets(f, nil, o.files, ns)
		if err != nil {
			return err
		}
		targets = append(targets, ft...)
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	for _, t := range targets {
		for _, name := range targetNames(t) {
			u, err := resourceClient(dyn, t.mapping, ns).Get(cmd.Context(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			pod, container, err := o.debugObject(cmd.Context(), f, u, ns)
			if err != nil {
				return err
			}
			if o.attach && container != "" {
				if err := o.attachTo(cmd, f, pod, container); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func targetNames(t target) []string {
	if t.obj != nil {
		return []string{t.obj.GetName()}
	}
	return t.names
}

func (o *debugOptions) debugObject(ctx context.Context, f *Factory, u *unstructured.Unstructured, ns string) (*corev1.Pod, string, error) {
	switch u.GroupVersionKind().GroupKind().String() {
	case "Node":
		var node corev1.Node
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &node); err != nil {
			return nil, "", err
		}
		return o.debugNode(ctx, f, &node, ns)
	case "Pod":
		pod, err := toPod(u)
		if err != nil {
			return nil, "", err
		}
		if o.copyTo != "" {
			return o.debugCopy(ctx, f, pod)
		}
		return o.debugEphemeral(ctx, f, pod)
	}
	return nil, "", fmt.Errorf("%q not supported by debug", u.GroupVersionKind().String())
}

// debugEphemeral adds an ephemeral container to the pod through the
// pods/ephemeralcontainers subresource (a strategic merge patch).
func (o *debugOptions) debugEphemeral(ctx context.Context, f *Factory, pod *corev1.Pod) (*corev1.Pod, string, error) {
	name := o.debugContainerName(f, pod)
	ec := corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: name, Env: o.envVars(), Image: o.image, ImagePullPolicy: corev1.PullPolicy(o.pullPolicy),
			Stdin: o.stdin, TTY: o.tty, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		},
		TargetContainerName: o.target,
	}
	if o.argsOnly {
		ec.Args = o.args
	} else {
		ec.Command = o.args
	}
	debugged := pod.DeepCopy()
	debugged.Spec.EphemeralContainers = append(debugged.Spec.EphemeralContainers, ec)
	if err := applyDebugProfile(o.profile, debugEphemeral, debugged, name, o.keep); err != nil {
		return nil, "", err
	}
	before, err := json.Marshal(pod)
	if err != nil {
		return nil, "", err
	}
	after, err := json.Marshal(debugged)
	if err != nil {
		return nil, "", err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(before, after, pod)
	if err != nil {
		return nil, "", fmt.Errorf("error creating patch to add debug container: %v", err)
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, "", err
	}
	out, err := dyn.Resource(gvrPods).Namespace(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers")
	if err != nil {
		// A server without the subresource answers 404 with no name in the
		// details, unlike a missing pod.
		var se apierrors.APIStatus
		if apierrors.IsNotFound(err) && asStatus(err, &se) && (se.Status().Details == nil || se.Status().Details.Name == "") {
			return nil, "", fmt.Errorf("ephemeral containers are disabled for this cluster (error from server: %q)", err)
		}
		return nil, "", err
	}
	result, err := toPod(out)
	return result, name, err
}

func asStatus(err error, into *apierrors.APIStatus) bool {
	s, ok := err.(apierrors.APIStatus)
	*into = s
	return ok
}

func (o *debugOptions) envVars() []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, k := range sortedKeys(o.env) {
		out = append(out, corev1.EnvVar{Name: k, Value: o.env[k]})
	}
	return out
}

// debugContainerName is -c, else a free debugger-xxxxx name (announced).
func (o *debugOptions) debugContainerName(f *Factory, pod *corev1.Pod) string {
	if o.container != "" {
		return o.container
	}
	used := map[string]bool{}
	for _, c := range pod.Spec.Containers {
		used[c.Name] = true
	}
	for _, c := range pod.Spec.InitContainers {
		used[c.Name] = true
	}
	for _, c := range pod.Spec.EphemeralContainers {
		used[c.Name] = true
	}
	name := ""
	for name == "" || used[name] {
		name = "debugger-" + utilrand.String(5)
	}
	if !o.quiet {
		fmt.Fprintf(f.IO.Out, "Defaulting debug container name to %s.\n", name)
	}
	return name
}

// debugNode creates a pod on the node in its host namespaces, with the
// node's filesystem at /host (under the default profile).
func (o *debugOptions) debugNode(ctx context.Context, f *Factory, node *corev1.Node, ns string) (*corev1.Pod, string, error) {
	cn := "debugger"
	if o.container != "" {
		cn = o.container
	}
	pn := fmt.Sprintf("node-debugger-%s-%s", node.Name, utilrand.String(5))
	if !o.quiet {
		fmt.Fprintf(f.IO.Out, "Creating debugging pod %s with container %s on node %s.\n", pn, cn, node.Name)
	}
	c := corev1.Container{Name: cn, Env: o.envVars(), Image: o.image, ImagePullPolicy: corev1.PullPolicy(o.pullPolicy),
		Stdin: o.stdin, TTY: o.tty, TerminationMessagePolicy: corev1.TerminationMessageReadFile}
	if o.argsOnly {
		c.Args = o.args
	} else {
		c.Command = o.args
	}
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: pn, Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-debug"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}, NodeName: node.Name, RestartPolicy: corev1.RestartPolicyNever,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
	}
	if err := applyDebugProfile(o.profile, debugNode, p, cn, o.keep); err != nil {
		return nil, "", err
	}
	created, err := createPod(ctx, f, ns, p)
	return created, cn, err
}

// debugCopy creates a copy of the pod with the debug container added (or
// an existing container changed) and, with --replace, deletes the original.
func (o *debugOptions) debugCopy(ctx context.Context, f *Factory, pod *corev1.Pod) (*corev1.Pod, string, error) {
	cp, name, err := o.podCopy(f, pod)
	if err != nil {
		return nil, "", err
	}
	created, err := createPod(ctx, f, pod.Namespace, cp)
	if err != nil {
		return nil, "", err
	}
	if o.replace {
		dyn, err := f.Dynamic()
		if err != nil {
			return nil, "", err
		}
		zero := int64(0)
		if err := dyn.Resource(gvrPods).Namespace(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			return nil, "", err
		}
	}
	return created, name, nil
}

func (o *debugOptions) podCopy(f *Factory, pod *corev1.Pod) (*corev1.Pod, string, error) {
	cp := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: o.copyTo, Namespace: pod.Namespace, Labels: pod.Labels, Annotations: pod.Annotations},
		Spec:       *pod.Spec.DeepCopy(),
	}
	cp.Spec.EphemeralContainers = nil
	if o.shareChanged {
		v := o.shareProcesses
		cp.Spec.ShareProcessNamespace = &v
	}
	if !o.sameNode {
		cp.Spec.NodeName = ""
	}
	for i, c := range cp.Spec.Containers {
		img := o.setImages["*"]
		if v, ok := o.setImages[c.Name]; ok {
			img = v
		}
		if img != "" {
			cp.Spec.Containers[i].Image = img
		}
	}
	name := o.container
	idx := -1
	for i, c := range cp.Spec.Containers {
		if c.Name == name {
			idx = i
		}
	}
	if idx < 0 {
		if o.image == "" {
			if len(o.setImages) > 0 {
				return cp, "", nil
			}
			return nil, "", fmt.Errorf("you must specify image when creating new container")
		}
		if name == "" {
			name = o.debugContainerName(f, cp)
		}
		cp.Spec.Containers = append(cp.Spec.Containers, corev1.Container{Name: name, TerminationMessagePolicy: corev1.TerminationMessageReadFile})
		idx = len(cp.Spec.Containers) - 1
	}
	c := &cp.Spec.Containers[idx]
	if len(o.args) > 0 {
		if o.argsOnly {
			c.Args = o.args
		} else {
			c.Command, c.Args = o.args, nil
		}
	}
	if len(o.env) > 0 {
		c.Env = o.envVars()
	}
	if o.image != "" {
		c.Image = o.image
	}
	if o.pullPolicy != "" {
		c.ImagePullPolicy = corev1.PullPolicy(o.pullPolicy)
	}
	c.Stdin, c.TTY = o.stdin, o.tty
	return cp, name, applyDebugProfile(o.profile, debugCopy, cp, name, o.keep)
}

func createPod(ctx context.Context, f *Factory, ns string, p *corev1.Pod) (*corev1.Pod, error) {
	u, err := toUnstructured(p)
	if err != nil {
		return nil, err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	out, err := dyn.Resource(gvrPods).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return toPod(out)
}

// attachTo waits for the debug container to run and attaches to it; a
// container that already finished has its log printed instead, as kubectl
// does.
func (o *debugOptions) attachTo(cmd *cobra.Command, f *Factory, pod *corev1.Pod, container string) error {
	state, err := waitContainerStarted(cmd.Context(), f, pod.Namespace, pod.Name, container)
	if err != nil {
		return err
	}
	if state.Terminated != nil {
		return streamContainerLog(cmd.Context(), f, pod.Namespace, pod.Name, container)
	}
	if o.tty && !o.quiet {
		fmt.Fprintln(f.IO.ErrOut, "If you don't see a command prompt, try pressing enter.")
	}
	s := &streamOptions{stdin: o.stdin, tty: o.tty, quiet: o.quiet, container: container}
	if err := s.run(f, cmd, pod.Name, nil, "attach"); err != nil {
		if _, ok := err.(*ExitError); ok {
			return err
		}
		fmt.Fprintf(f.IO.ErrOut, "warning: couldn't attach to pod/%s, falling back to streaming logs: %v\n", pod.Name, err)
		return streamContainerLog(cmd.Context(), f, pod.Namespace, pod.Name, container)
	}
	return nil
}

// waitContainerStarted polls the pod until the container is running or
// has finished, or the pod is gone or finished.
func waitContainerStarted(ctx context.Context, f *Factory, ns, name, container string) (corev1.ContainerState, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return corev1.ContainerState{}, err
	}
	for {
		u, err := dyn.Resource(gvrPods).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return corev1.ContainerState{}, fmt.Errorf("pod %s was deleted", name)
		}
		if err != nil {
			return corev1.ContainerState{}, err
		}
		pod, err := toPod(u)
		if err != nil {
			return corev1.ContainerState{}, err
		}
		for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
			for _, s := range list {
				if s.Name == container && (s.State.Running != nil || s.State.Terminated != nil) {
					return s.State, nil
				}
			}
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return corev1.ContainerState{}, fmt.Errorf("pod %s finished before container %s started", name, container)
		}
		select {
		case <-ctx.Done():
			return corev1.ContainerState{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// streamContainerLog follows one container's log to stdout.
func streamContainerLog(ctx context.Context, f *Factory, ns, pod, container string) error {
	o := &logsOptions{follow: true, tail: -1}
	return o.stream(ctx, f, ns, []logTarget{{pod, container}}, false)
}

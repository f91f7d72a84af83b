package kctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/moby/term"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

// streamOptions are exec's and attach's -i/-t/-c.
type streamOptions struct {
	container    string
	stdin, tty   bool
	quiet        bool
	podName      string
	podNamespace string
}

func (s *streamOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&s.container, "container", "c", "", "Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen")
	cmd.Flags().BoolVarP(&s.stdin, "stdin", "i", false, "Pass stdin to the container")
	cmd.Flags().BoolVarP(&s.tty, "tty", "t", false, "Stdin is a TTY")
	cmd.Flags().BoolVarP(&s.quiet, "quiet", "q", false, "Only print output from the remote session")
}

func newExecCommand(f *Factory) *cobra.Command {
	o := &streamOptions{}
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]",
		Short: "Execute a command in a container",
		RunE: func(cmd *cobra.Command, args []string) error {
			// kubectl's order: the old form first (a usage error), then a
			// missing pod, then a missing command (plain errors).
			dash := cmd.ArgsLenAtDash()
			if (dash == -1 || dash > 1) && len(args) > 1 {
				return usageError(cmd.CommandPath(), "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead")
			}
			if len(args) == 0 || dash == 0 {
				return fmt.Errorf("pod, type/name or --filename must be specified")
			}
			if len(args) < 2 {
				return fmt.Errorf("you must specify at least one command for the container")
			}
			return o.run(f, cmd, args[0], args[1:], "exec")
		},
	}
	o.addFlags(cmd)
	return cmd
}

func newAttachCommand(f *Factory) *cobra.Command {
	o := &streamOptions{}
	cmd := &cobra.Command{
		Use:   "attach (POD | TYPE/NAME) -c CONTAINER",
		Short: "Attach to a running container",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(cmd.CommandPath(), "expected POD, TYPE/NAME, or TYPE NAME, (at most 2 arguments) saw %d: %v", len(args), args)
			}
			return o.run(f, cmd, args[0], nil, "attach")
		},
	}
	o.addFlags(cmd)
	return cmd
}

// run opens an exec or attach session: WebSocket (v5.channel.k8s.io)
// first, SPDY when the upgrade is refused, like kubectl 1.30+.
func (o *streamOptions) run(f *Factory, cmd *cobra.Command, target string, command []string, sub string) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	pod, _, err := podFor(cmd.Context(), f, ns, target)
	if err != nil {
		return err
	}
	completed := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	var c *corev1.Container
	tty := o.tty
	if sub == "attach" {
		if completed {
			return fmt.Errorf("cannot attach a container in a completed pod; current phase is %s", pod.Status.Phase)
		}
		if c, err = findContainer(f.IO.ErrOut, pod, o.container, o.quiet); err != nil {
			return fmt.Errorf("cannot attach to the container: %v", err)
		}
		// A container started with a terminal needs one; one without
		// cannot give one.
		if tty && !c.TTY {
			tty = false
			if !o.quiet {
				fmt.Fprintf(f.IO.ErrOut, "error: Unable to use a TTY - container %s did not allocate one\n", c.Name)
			}
		} else if !tty && c.TTY {
			tty = true
		}
	} else {
		if completed {
			return fmt.Errorf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase)
		}
		if c, err = findContainer(f.IO.ErrOut, pod, o.container, o.quiet); err != nil {
			return err
		}
	}
	container := c.Name
	useTTY := tty && o.stdin && isTerminal(f.IO.In)
	if tty && o.stdin && !useTTY && !o.quiet {
		fmt.Fprintln(f.IO.ErrOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
	}
	tty = useTTY
	if sub == "attach" && !o.quiet {
		fmt.Fprintln(f.IO.ErrOut, "All commands and output from this session will be recorded in container logs, including credentials and sensitive information passed through the command prompt.")
		fmt.Fprintln(f.IO.ErrOut, "If you don't see a command prompt, try pressing enter.")
	}
	var in io.Reader
	if o.stdin {
		in = f.IO.In
	}
	var sizes remotecommand.TerminalSizeQueue
	if tty {
		restore, q := rawTerminal(f.IO.In, f.IO.Out)
		defer restore()
		sizes = q
	}
	if err := remoteExit(streamTo(cmd.Context(), f, ns, pod.Name, sub, container, command, in, f.IO.Out, f.IO.ErrOut, tty, sizes)); err != nil {
		return err
	}
	if sub == "attach" && tty && !o.quiet {
		if strings.HasPrefix(containerPath(pod, container), "spec.ephemeralContainers") {
			fmt.Fprintf(f.IO.Out, "Session ended, the ephemeral container will not be restarted but may be reattached using '%s %s -c %s -n %s -i -t' if it is still running\n", cmd.CommandPath(), pod.Name, container, pod.Namespace)
		} else {
			fmt.Fprintf(f.IO.Out, "Session ended, resume using '%s %s -c %s -n %s -i -t' command\n", cmd.CommandPath(), pod.Name, container, pod.Namespace)
		}
	}
	return nil
}

// containerPath is where a container is in the pod's spec.
func containerPath(p *corev1.Pod, name string) string {
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == name {
			return "spec.ephemeralContainers{" + name + "}"
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return "spec.initContainers{" + name + "}"
		}
	}
	return "spec.containers{" + name + "}"
}

// remoteExit turns a remote command's non-zero exit into kctl's exit code
// and kubectl's message; other errors pass unchanged.
func remoteExit(err error) error {
	var ce exec.CodeExitError
	if errors.As(err, &ce) {
		return &ExitError{Code: ce.Code, Msg: fmt.Sprintf("command terminated with exit code %d", ce.Code)}
	}
	return err
}

// streamTo runs an exec or attach session on a pod's container:
// WebSocket (v5.channel.k8s.io) first, SPDY when the upgrade is refused,
// like kubectl 1.30+.
func streamTo(ctx context.Context, f *Factory, ns, pod, sub, container string, command []string, in io.Reader, out, errOut io.Writer, tty bool, sizes remotecommand.TerminalSizeQueue) error {
	cfg, err := f.RESTConfig()
	if err != nil {
		return err
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return err
	}
	u.Path = "/api/v1/namespaces/" + ns + "/pods/" + pod + "/" + sub
	q := url.Values{"container": {container}, "stdout": {"true"}}
	for _, c := range command {
		q.Add("command", c)
	}
	if in != nil {
		q.Set("stdin", "true")
	}
	if tty {
		q.Set("tty", "true")
	} else {
		q.Set("stderr", "true")
	}
	u.RawQuery = q.Encode()
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	opts := remotecommand.StreamOptions{Stdin: in, Stdout: out, Tty: tty, TerminalSizeQueue: sizes}
	if !tty {
		opts.Stderr = errOut
	}
	return ex.StreamWithContext(ctx, opts)
}

func isTerminal(r io.Reader) bool {
	fh, ok := r.(*os.File)
	return ok && term.IsTerminal(fh.Fd())
}

// rawTerminal puts stdin in raw mode and returns the restore function and
// the queue of terminal sizes: the current one, then one per resize
// (SIGWINCH) until restore is called.
func rawTerminal(in io.Reader, out io.Writer) (func(), remotecommand.TerminalSizeQueue) {
	fh := in.(*os.File)
	state, err := term.MakeRaw(fh.Fd())
	if err != nil {
		return func() {}, nil
	}
	size := func() (remotecommand.TerminalSize, bool) { return remotecommand.TerminalSize{}, false }
	if of, ok := out.(*os.File); ok {
		size = func() (remotecommand.TerminalSize, bool) {
			ws, err := term.GetWinsize(of.Fd())
			if err != nil {
				return remotecommand.TerminalSize{}, false
			}
			return remotecommand.TerminalSize{Width: ws.Width, Height: ws.Height}, true
		}
	}
	resized, release := resizeSignals()
	q := watchTerminalSize(size, resized, release)
	return func() {
		q.stop()
		term.RestoreTerminal(fh.Fd(), state)
	}, q
}

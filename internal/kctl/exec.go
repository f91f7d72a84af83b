package kctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

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
			dash := cmd.ArgsLenAtDash()
			if len(args) == 0 {
				return usageError(cmd.CommandPath(), "pod or type/name must be specified")
			}
			if dash == -1 && len(args) > 1 {
				return usageError(cmd.CommandPath(), "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead")
			}
			if dash != 1 || len(args) < 2 {
				return usageError(cmd.CommandPath(), "you must specify at least one command for the container")
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
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return fmt.Errorf("cannot %s into a container in a completed pod; current phase is %s", sub, pod.Status.Phase)
	}
	container := o.container
	if container == "" {
		container = defaultContainer(f, pod, o.quiet)
	} else if err := checkContainer(pod, container); err != nil {
		return err
	}
	tty := o.tty && o.stdin && isTerminal(f.IO.In)
	if o.tty && !tty && !o.quiet {
		fmt.Fprintln(f.IO.ErrOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
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
	err = streamTo(cmd.Context(), f, ns, pod.Name, sub, container, command, in, f.IO.Out, f.IO.ErrOut, tty, sizes)
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

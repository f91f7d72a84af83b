package kctl

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

func newPortForwardCommand(f *Factory) *cobra.Command {
	var addresses []string
	cmd := &cobra.Command{
		Use:   "port-forward TYPE/NAME [options] [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
		Short: "Forward one or more local ports to a pod",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError(cmd.CommandPath(), "TYPE/NAME and list of ports are required for port-forward")
			}
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			pod, owner, err := podFor(cmd.Context(), f, ns, args[0])
			if err != nil {
				return err
			}
			if pod.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("unable to forward port because pod is not running. Current status=%v", pod.Status.Phase)
			}
			ports, err := translatePorts(owner, pod, args[1:])
			if err != nil {
				return err
			}
			return forward(f, cmd, ns, pod.Name, addresses, ports)
		},
	}
	cmd.Flags().StringSliceVar(&addresses, "address", []string{"localhost"}, "Addresses to listen on (comma separated). Only accepts IP addresses or localhost as a value. When localhost is supplied, kubectl will try to bind on both 127.0.0.1 and ::1 and will fail if neither of these addresses are available to bind.")
	cmd.Flags().Duration("pod-running-timeout", 0, "The length of time (like 5s, 2m, or 3h, higher than zero) to wait until at least one pod is running")
	return cmd
}

// translatePorts maps `local:remote` specs to the pod's ports: a Service's
// port becomes its targetPort (a named target is looked up in the pod), a
// named port is looked up in the containers.
func translatePorts(owner *unstructured.Unstructured, pod *corev1.Pod, specs []string) ([]string, error) {
	var svc *corev1.Service
	if owner != nil && owner.GetKind() == "Service" {
		svc = &corev1.Service{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(owner.Object, svc); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, spec := range specs {
		local, remote, hasLocal := strings.Cut(spec, ":")
		if !hasLocal {
			remote, local = local, ""
		}
		port, err := podPort(svc, pod, remote)
		if err != nil {
			return nil, err
		}
		if !hasLocal {
			local = remote
			if _, err := strconv.Atoi(remote); err != nil {
				local = strconv.Itoa(port)
			}
		}
		out = append(out, local+":"+strconv.Itoa(port))
	}
	return out, nil
}

func podPort(svc *corev1.Service, pod *corev1.Pod, remote string) (int, error) {
	if svc != nil {
		for _, sp := range svc.Spec.Ports {
			if sp.Name == remote || strconv.Itoa(int(sp.Port)) == remote {
				if sp.TargetPort.IntValue() > 0 {
					return sp.TargetPort.IntValue(), nil
				}
				remote = sp.TargetPort.String()
				if remote == "" || remote == "0" {
					return int(sp.Port), nil
				}
				break
			}
		}
	}
	if n, err := strconv.Atoi(remote); err == nil {
		return n, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == remote {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("Pod '%s' does not have a named port '%s'", pod.Name, remote)
}

// forward runs the port forwarder: SPDY tunnelled in a WebSocket
// (SPDY/3.1+portforward.k8s.io) first, plain SPDY if the upgrade fails.
func forward(f *Factory, cmd *cobra.Command, ns, pod string, addresses, ports []string) error {
	cfg, err := f.RESTConfig()
	if err != nil {
		return err
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return err
	}
	u.Path = "/api/v1/namespaces/" + ns + "/pods/" + pod + "/portforward"
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return err
	}
	dialer = portforward.NewFallbackDialer(tunnel, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	stop := make(chan struct{})
	go func() {
		<-cmd.Context().Done()
		close(stop)
	}()
	pf, err := portforward.NewOnAddresses(dialer, addresses, ports, stop, nil, f.IO.Out, f.IO.ErrOut)
	if err != nil {
		return err
	}
	return pf.ForwardPorts()
}

package kctl

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

var servicesGVR = schema.GroupVersionResource{Version: "v1", Resource: "services"}

func newClusterInfoCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster-info",
		Short: "Display cluster information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.RESTConfig()
			if err != nil {
				return err
			}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			ns := "kube-system"
			if flagChanged(cmd, "namespace") {
				ns, _, _ = f.Namespace()
			}
			list, err := dyn.Resource(servicesGVR).Namespace(ns).List(cmd.Context(), metav1.ListOptions{LabelSelector: "kubernetes.io/cluster-service=true"})
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Kubernetes control plane is running at %s\n", cfg.Host)
			for _, u := range list.Items {
				var svc corev1.Service
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &svc); err != nil {
					return err
				}
				fmt.Fprintf(f.IO.Out, "%s is running at %s\n", serviceDisplayName(&svc), serviceLink(cfg.Host, &svc))
			}
			fmt.Fprint(f.IO.Out, "\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n")
			return nil
		},
	}
	cmd.AddCommand(newClusterInfoDumpCommand(f))
	return cmd
}

func serviceDisplayName(s *corev1.Service) string {
	if n := s.Labels["kubernetes.io/name"]; n != "" {
		return n
	}
	return s.Name
}

// serviceLink is the LoadBalancer address for every port, or the API
// server's proxy URL for the first port.
func serviceLink(host string, s *corev1.Service) string {
	if ing := s.Status.LoadBalancer.Ingress; len(ing) > 0 {
		ip := ing[0].IP
		if ip == "" {
			ip = ing[0].Hostname
		}
		link := ""
		for _, p := range s.Spec.Ports {
			link += "http://" + ip + ":" + strconv.Itoa(int(p.Port)) + " "
		}
		return link
	}
	name := s.Name
	if len(s.Spec.Ports) > 0 {
		p := s.Spec.Ports[0]
		scheme := ""
		if p.Name == "https" || p.Port == 443 {
			scheme = "https"
		}
		name = utilnet.JoinSchemeNamePort(scheme, s.Name, p.Name)
	}
	return host + "/api/v1/namespaces/" + s.Namespace + "/services/" + name + "/proxy"
}

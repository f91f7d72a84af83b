package kctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newCreateServiceCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "service", Aliases: []string{"svc"}, Short: "Create a service using a specified subcommand",
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	for _, t := range []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName} {
		cmd.AddCommand(serviceGenerator(t).command(f))
	}
	return cmd
}

func serviceGenerator(t corev1.ServiceType) generator {
	return generator{use: strings.ToLower(string(t)) + " NAME [--tcp=<port>:<targetPort>]", short: "Create a " + string(t) + " service",
		wrap: fmt.Sprintf("failed to create %s service: ", t), gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"},
		flags: func(cmd *cobra.Command) {
			cmd.Flags().StringSlice("tcp", nil, "Port pairs can be specified as '<port>:<targetPort>'.")
			switch t {
			case corev1.ServiceTypeClusterIP:
				cmd.Flags().String("clusterip", "", "Assign your own ClusterIP or set to 'None' for a 'headless' service (no loadbalancing).")
			case corev1.ServiceTypeNodePort:
				cmd.Flags().Int("node-port", 0, "Port used to expose the service on each node in a cluster.")
			case corev1.ServiceTypeExternalName:
				cmd.Flags().String("external-name", "", "External name of service")
			}
		},
		build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
			tcp, _ := cmd.Flags().GetStringSlice("tcp")
			svc := &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
				Spec: corev1.ServiceSpec{Type: t, Selector: map[string]string{"app": name}}}
			if t == corev1.ServiceTypeExternalName {
				ext, _ := cmd.Flags().GetString("external-name")
				if ext == "" {
					return nil, fmt.Errorf("external name must be specified")
				}
				svc.Spec.ExternalName = ext
			} else if len(tcp) == 0 && t != corev1.ServiceTypeClusterIP {
				return nil, fmt.Errorf("at least one tcp port specifier must be provided")
			}
			nodePort := 0
			if t == corev1.ServiceTypeNodePort {
				nodePort, _ = cmd.Flags().GetInt("node-port")
			}
			for _, spec := range tcp {
				p, err := servicePort(spec, nodePort)
				if err != nil {
					return nil, err
				}
				svc.Spec.Ports = append(svc.Spec.Ports, p)
			}
			if t == corev1.ServiceTypeClusterIP {
				ip, _ := cmd.Flags().GetString("clusterip")
				if ip == "" && len(tcp) == 0 {
					return nil, fmt.Errorf("at least one tcp port specifier must be provided")
				}
				svc.Spec.ClusterIP = ip
			}
			return svc, nil
		}}
}

// servicePort parses `port[:target]`; the port is named `port-target`.
func servicePort(spec string, nodePort int) (corev1.ServicePort, error) {
	ps, ts, hasTarget := strings.Cut(spec, ":")
	port, err := strconv.Atoi(ps)
	if err != nil {
		return corev1.ServicePort{}, fmt.Errorf("invalid port %q: %w", ps, err)
	}
	target := intstr.FromInt32(int32(port))
	if hasTarget {
		if n, err := strconv.Atoi(ts); err == nil {
			target = intstr.FromInt32(int32(n))
		} else {
			target = intstr.FromString(ts)
		}
	}
	return corev1.ServicePort{Name: strings.ReplaceAll(spec, ":", "-"), Port: int32(port), TargetPort: target,
		Protocol: corev1.ProtocolTCP, NodePort: int32(nodePort)}, nil
}

func newCreateTokenCommand(f *Factory) *cobra.Command {
	var audiences []string
	var duration string
	var boundKind, boundName string
	cmd := &cobra.Command{
		Use:   "token SERVICE_ACCOUNT_NAME",
		Short: "Request a service account token",
		Args:  needArgs(1, "SERVICE_ACCOUNT_NAME is required"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			spec := map[string]any{}
			if len(audiences) > 0 {
				spec["audiences"] = toAny(audiences)
			}
			if duration != "" {
				d, err := parseDuration(duration)
				if err != nil {
					return err
				}
				spec["expirationSeconds"] = int64(d.Seconds())
			}
			if boundKind != "" {
				spec["boundObjectRef"] = map[string]any{"kind": boundKind, "apiVersion": "v1", "name": boundName}
			}
			req := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
				"metadata": map[string]any{}, "spec": spec}}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			out, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace(ns).
				Create(cmd.Context(), req, metav1.CreateOptions{}, "token")
			if err != nil {
				return fmt.Errorf("failed to create token: %v", err)
			}
			tok, _, _ := unstructured.NestedString(out.Object, "status", "token")
			if tok == "" {
				return fmt.Errorf("failed to create token: no token in server response")
			}
			fmt.Fprintln(f.IO.Out, tok)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&audiences, "audience", nil, "Audience of the requested token.")
	cmd.Flags().StringVar(&duration, "duration", "", "Requested lifetime of the issued token.")
	cmd.Flags().StringVar(&boundKind, "bound-object-kind", "", "Kind of an object to bind the token to.")
	cmd.Flags().StringVar(&boundName, "bound-object-name", "", "Name of an object to bind the token to.")
	return cmd
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

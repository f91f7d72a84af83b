package kctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newExposeCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var mf mutateFlags
	var port, targetPort, name, svcType, protocol, selector, clusterIP, externalIP, labels string
	var lbIP, affinity string
	cmd := &cobra.Command{
		Use:   "expose (-f FILENAME | TYPE NAME) [--port=port] [--protocol=TCP|UDP|SCTP] [--target-port=number-or-name] [--name=name] [--external-ip=external-ip-of-service] [--type=type]",
		Short: "Take a replication controller, service, deployment or pod and expose it as a new Kubernetes service",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mf.check(); err != nil {
				return err
			}
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			if len(errs) > 0 {
				return errs[0]
			}
			for _, s := range objs {
				svc, err := serviceFor(s.obj, port, targetPort, name, svcType, protocol, selector, labels)
				if err != nil {
					return err
				}
				svc.Spec.ClusterIP = clusterIP
				if externalIP != "" {
					svc.Spec.ExternalIPs = []string{externalIP}
				}
				svc.Spec.LoadBalancerIP = lbIP
				switch corev1.ServiceAffinity(affinity) {
				case "":
				case corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP:
					svc.Spec.SessionAffinity = corev1.ServiceAffinity(affinity)
				default:
					return fmt.Errorf("unknown session affinity: %s", affinity)
				}
				if err := createObjectAs(f, cmd, &mf, schema.GroupVersionResource{Version: "v1", Resource: "services"}, svc, "exposed"); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&sel.filenames, "filename", "f", nil, "Filename, directory, or URL to files identifying the resource to expose a service")
	fl.BoolVarP(&sel.recursive, "recursive", "R", false, "Process the directory used in -f, --filename recursively.")
	fl.StringVar(&port, "port", "", "The port that the service should serve on. Copied from the resource being exposed, if unspecified")
	fl.StringVar(&targetPort, "target-port", "", "Name or number for the port on the container that the service should direct traffic to. Optional.")
	fl.StringVar(&name, "name", "", "The name for the newly created object.")
	fl.StringVar(&svcType, "type", "", "Type for this service: ClusterIP, NodePort, LoadBalancer, or ExternalName. Default is 'ClusterIP'.")
	fl.StringVar(&protocol, "protocol", "", "The network protocol for the service to be created. Default is 'TCP'.")
	fl.StringVar(&selector, "selector", "", "A label selector to use for this service. Only equality-based selector requirements are supported.")
	fl.StringVar(&clusterIP, "cluster-ip", "", "ClusterIP to be assigned to the service. Leave empty to auto-allocate, or set to 'None' to create a headless service.")
	fl.StringVar(&lbIP, "load-balancer-ip", "", "IP to assign to the LoadBalancer. If empty, an ephemeral IP will be created and used (cloud-provider specific).")
	fl.StringVar(&affinity, "session-affinity", "", "If non-empty, set the session affinity for the service to this; legal values: 'None', 'ClientIP'")
	fl.StringVar(&externalIP, "external-ip", "", "Additional external IP address (not managed by Kubernetes) to accept for the service.")
	fl.StringVarP(&labels, "labels", "L", "", "Labels to apply to the service created by this call.")
	mf.add(cmd, "kubectl-expose", false)
	return cmd
}

// serviceFor builds the Service `expose` creates for obj.
func serviceFor(obj *unstructured.Unstructured, port, targetPort, name, svcType, protocol, selector, labels string) (*corev1.Service, error) {
	if name == "" {
		name = obj.GetName()
	}
	sel, err := exposeSelector(obj, selector)
	if err != nil {
		return nil, err
	}
	ports, err := exposePorts(obj, port)
	if err != nil {
		return nil, err
	}
	svc := &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: obj.GetLabels()},
		Spec: corev1.ServiceSpec{Selector: sel, Type: corev1.ServiceType(svcType)}}
	if labels != "" {
		svc.Labels = parseSelectorMap(labels)
	}
	for i, p := range ports {
		sp := corev1.ServicePort{Port: p.ContainerPort, Protocol: p.Protocol}
		if protocol != "" {
			sp.Protocol = corev1.Protocol(protocol)
		}
		if sp.Protocol == "" {
			sp.Protocol = corev1.ProtocolTCP
		}
		sp.TargetPort = intstr.FromInt32(p.ContainerPort)
		if targetPort != "" {
			sp.TargetPort = intstr.Parse(targetPort)
		} else if obj.GetKind() == "Service" && p.Name != "" {
			sp.TargetPort = intstr.Parse(p.Name)
		}
		if len(ports) > 1 {
			sp.Name = fmt.Sprintf("port-%d", i+1)
		}
		svc.Spec.Ports = append(svc.Spec.Ports, sp)
	}
	return svc, nil
}

func parseSelectorMap(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func exposeSelector(obj *unstructured.Unstructured, flag string) (map[string]string, error) {
	if flag != "" {
		return parseSelectorMap(flag), nil
	}
	switch obj.GetKind() {
	case "Pod":
		if len(obj.GetLabels()) == 0 {
			return nil, fmt.Errorf("the pod has no labels and cannot be exposed")
		}
		return obj.GetLabels(), nil
	case "ReplicationController", "Service":
		m, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "selector")
		if len(m) == 0 {
			return nil, fmt.Errorf("couldn't retrieve selectors via --selector flag or introspection: the %s has no selector", strings.ToLower(obj.GetKind()))
		}
		return m, nil
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet":
		if exprs, ok, _ := unstructured.NestedSlice(obj.Object, "spec", "selector", "matchExpressions"); ok && len(exprs) > 0 {
			return nil, fmt.Errorf("couldn't convert expressions - \"%v\" to map-based selector format", exprs)
		}
		m, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "selector", "matchLabels")
		return m, nil
	}
	return nil, fmt.Errorf("cannot expose a %s", obj.GroupVersionKind().GroupKind())
}

// exposePorts returns --port, or the object's container (or service) ports.
func exposePorts(obj *unstructured.Unstructured, flag string) ([]corev1.ContainerPort, error) {
	if flag != "" {
		var out []corev1.ContainerPort
		for _, p := range strings.Split(flag, ",") {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("invalid port %q", p)
			}
			out = append(out, corev1.ContainerPort{ContainerPort: int32(n)})
		}
		return out, nil
	}
	var paths [][]string
	switch obj.GetKind() {
	case "Pod":
		paths = [][]string{{"spec", "containers"}}
	case "Service":
		ps, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ports")
		var out []corev1.ContainerPort
		for _, p := range ps {
			m := p.(map[string]any)
			n, _, _ := unstructured.NestedInt64(m, "port")
			proto, _, _ := unstructured.NestedString(m, "protocol")
			name, _, _ := unstructured.NestedString(m, "name")
			out = append(out, corev1.ContainerPort{ContainerPort: int32(n), Protocol: corev1.Protocol(proto), Name: name})
		}
		if len(out) > 0 {
			return out, nil
		}
	default:
		paths = [][]string{{"spec", "template", "spec", "containers"}}
	}
	var out []corev1.ContainerPort
	for _, p := range paths {
		cs, _, _ := unstructured.NestedSlice(obj.Object, p...)
		for _, c := range cs {
			ports, _, _ := unstructured.NestedSlice(c.(map[string]any), "ports")
			for _, port := range ports {
				m := port.(map[string]any)
				n, _, _ := unstructured.NestedInt64(m, "containerPort")
				proto, _, _ := unstructured.NestedString(m, "protocol")
				out = append(out, corev1.ContainerPort{ContainerPort: int32(n), Protocol: corev1.Protocol(proto)})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("couldn't find port via --port flag or introspection")
	}
	return out, nil
}

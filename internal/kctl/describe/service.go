package describe

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func describeService(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	svc, err := into[corev1.Service](u)
	if err != nil {
		return "", err
	}
	slices, sliceErr := listTyped[discoveryv1.EndpointSlice](ctx, d, gvrSlices, svc.Namespace,
		metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc.Name})
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", svc.Name)
		w.Write(L0, "Namespace:\t%s\n", svc.Namespace)
		printLabels(w, "Labels", svc.Labels, L0)
		printAnnotations(w, svc.Annotations, L0)
		w.Write(L0, "Selector:\t%s\n", labels.FormatLabels(svc.Spec.Selector))
		w.Write(L0, "Type:\t%s\n", svc.Spec.Type)
		if svc.Spec.IPFamilyPolicy != nil {
			w.Write(L0, "IP Family Policy:\t%s\n", *svc.Spec.IPFamilyPolicy)
		}
		var fams []string
		for _, f := range svc.Spec.IPFamilies {
			fams = append(fams, string(f))
		}
		w.Write(L0, "IP Families:\t%s\n", joinOrNone(fams, ","))
		w.Write(L0, "IP:\t%s\n", svc.Spec.ClusterIP)
		w.Write(L0, "IPs:\t%s\n", joinOrNone(svc.Spec.ClusterIPs, ","))
		if len(svc.Spec.ExternalIPs) > 0 {
			w.Write(L0, "External IPs:\t%v\n", strings.Join(svc.Spec.ExternalIPs, ","))
		}
		if svc.Spec.LoadBalancerIP != "" {
			w.Write(L0, "Desired LoadBalancer IP:\t%s\n", svc.Spec.LoadBalancerIP)
		}
		if svc.Spec.ExternalName != "" {
			w.Write(L0, "External Name:\t%s\n", svc.Spec.ExternalName)
		}
		if ing := svc.Status.LoadBalancer.Ingress; len(ing) > 0 {
			var parts []string
			for _, i := range ing {
				s := i.IP
				if s == "" {
					s = i.Hostname
				} else if i.IPMode != nil {
					s += " (" + string(*i.IPMode) + ")"
				}
				parts = append(parts, s)
			}
			w.Write(L0, "LoadBalancer Ingress:\t%s\n", strings.Join(parts, ", "))
		}
		for _, p := range svc.Spec.Ports {
			name := p.Name
			if name == "" {
				name = "<unset>"
			}
			w.Write(L0, "Port:\t%s\t%d/%s\n", name, p.Port, p.Protocol)
			w.Write(L0, "TargetPort:\t%s/%s\n", p.TargetPort.String(), p.Protocol)
			if p.AppProtocol != nil {
				w.Write(L0, "AppProtocol:\t%s\n", *p.AppProtocol)
			}
			if p.NodePort != 0 {
				w.Write(L0, "NodePort:\t%s\t%d/%s\n", name, p.NodePort, p.Protocol)
			}
			w.Write(L0, "Endpoints:\t%s\n", sliceEndpoints(slices, sliceErr, p.Name))
		}
		w.Write(L0, "Session Affinity:\t%s\n", svc.Spec.SessionAffinity)
		if svc.Spec.ExternalTrafficPolicy != "" {
			w.Write(L0, "External Traffic Policy:\t%s\n", svc.Spec.ExternalTrafficPolicy)
		}
		if svc.Spec.InternalTrafficPolicy != nil {
			w.Write(L0, "Internal Traffic Policy:\t%s\n", *svc.Spec.InternalTrafficPolicy)
		}
		if svc.Spec.HealthCheckNodePort != 0 {
			w.Write(L0, "HealthCheck NodePort:\t%d\n", svc.Spec.HealthCheckNodePort)
		}
		if len(svc.Spec.LoadBalancerSourceRanges) > 0 {
			w.Write(L0, "LoadBalancer Source Ranges:\t%v\n", strings.Join(svc.Spec.LoadBalancerSourceRanges, ","))
		}
		if svc.Spec.TrafficDistribution != nil {
			w.Write(L0, "Traffic Distribution:\t%s\n", *svc.Spec.TrafficDistribution)
		}
		d.withEvents(ctx, u, w)
		return nil
	})
}

// sliceEndpoints lists up to three ready `ip:port` for the named port.
func sliceEndpoints(slices []discoveryv1.EndpointSlice, err error, portName string) string {
	if err != nil || len(slices) == 0 {
		return "<none>"
	}
	var list []string
	for _, s := range slices {
		for _, p := range s.Ports {
			if p.Name == nil || *p.Name != portName || p.Port == nil {
				continue
			}
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, a := range ep.Addresses {
					list = append(list, fmt.Sprintf("%s:%d", a, *p.Port))
				}
			}
		}
	}
	if len(list) > 3 {
		return strings.Join(list[:3], ",") + fmt.Sprintf(" + %d more...", len(list)-3)
	}
	return strings.Join(list, ",")
}

func describeEndpoints(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	ep, err := into[corev1.Endpoints](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", ep.Name)
		w.Write(L0, "Namespace:\t%s\n", ep.Namespace)
		printLabels(w, "Labels", ep.Labels, L0)
		printAnnotations(w, ep.Annotations, L0)
		w.Write(L0, "Subsets:\n")
		for _, s := range ep.Subsets {
			var ready, notReady []string
			for _, a := range s.Addresses {
				ready = append(ready, a.IP)
			}
			for _, a := range s.NotReadyAddresses {
				notReady = append(notReady, a.IP)
			}
			w.Write(L1, "Addresses:\t%s\n", joinOrNone(ready, ","))
			w.Write(L1, "NotReadyAddresses:\t%s\n", joinOrNone(notReady, ","))
			if len(s.Ports) > 0 {
				w.Write(L1, "Ports:\n")
				w.Write(L2, "Name\tPort\tProtocol\n")
				w.Write(L2, "----\t----\t--------\n")
				for _, p := range s.Ports {
					name := p.Name
					if name == "" {
						name = "<unset>"
					}
					w.Write(L2, "%s\t%d\t%s\n", name, p.Port, p.Protocol)
				}
			}
			w.Write(L0, "\n")
		}
		d.withEvents(ctx, u, w)
		return nil
	})
}

var gvrServices = schema.GroupVersionResource{Version: "v1", Resource: "services"}

func describeIngress(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	ing, err := into[networkingv1.Ingress](u)
	if err != nil {
		return "", err
	}
	backend := func(b *networkingv1.IngressBackend) string {
		if b == nil {
			return "<default>"
		}
		if b.Resource != nil {
			g := ""
			if b.Resource.APIGroup != nil {
				g = *b.Resource.APIGroup
			}
			return fmt.Sprintf("APIGroup: %s, Kind: %s, Name: %s", g, b.Resource.Kind, b.Resource.Name)
		}
		if b.Service == nil {
			return ""
		}
		port := b.Service.Port.Name
		if port == "" {
			port = fmt.Sprint(b.Service.Port.Number)
		}
		eps := ingressEndpoints(ctx, d, ing.Namespace, b.Service)
		return fmt.Sprintf("%s:%s (%s)", b.Service.Name, port, eps)
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%v\n", ing.Name)
		printLabels(w, "Labels", ing.Labels, L0)
		w.Write(L0, "Namespace:\t%v\n", ing.Namespace)
		var addrs []string
		for _, i := range ing.Status.LoadBalancer.Ingress {
			if i.IP != "" {
				addrs = append(addrs, i.IP)
			} else {
				addrs = append(addrs, i.Hostname)
			}
		}
		sort.Strings(addrs)
		w.Write(L0, "Address:\t%v\n", strings.Join(addrs, ","))
		w.Write(L0, "Ingress Class:\t%s\n", ptrOr(ing.Spec.IngressClassName, "<none>"))
		w.Write(L0, "Default backend:\t%s\n", backend(ing.Spec.DefaultBackend))
		if len(ing.Spec.TLS) > 0 {
			w.Write(L0, "TLS:\n")
			for _, t := range ing.Spec.TLS {
				if t.SecretName == "" {
					w.Write(L1, "SNI routes %v\n", strings.Join(t.Hosts, ","))
				} else {
					w.Write(L1, "%v terminates %v\n", t.SecretName, strings.Join(t.Hosts, ","))
				}
			}
		}
		w.Write(L0, "Rules:\n  Host\tPath\tBackends\n")
		w.Write(L1, "----\t----\t--------\n")
		count := 0
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			count++
			host := r.Host
			if host == "" {
				host = "*"
			}
			w.Write(L1, "%s\t\n", host)
			for _, p := range r.HTTP.Paths {
				w.Write(L2, "\t%s \t%s\n", p.Path, backend(&p.Backend))
			}
		}
		if count == 0 {
			w.Write(L1, "%s\t%s\t%s\n", "*", "*", backend(ing.Spec.DefaultBackend))
		}
		printAnnotations(w, ing.Annotations, L0)
		d.withEvents(ctx, u, w)
		return nil
	})
}

func ingressEndpoints(ctx context.Context, d *Describer, ns string, b *networkingv1.IngressServiceBackend) string {
	su, err := d.Client.Resource(gvrServices).Namespace(ns).Get(ctx, b.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("<error: %v>", err)
	}
	svc, err := into[corev1.Service](su)
	if err != nil {
		return fmt.Sprintf("<error: %v>", err)
	}
	slices, err := listTyped[discoveryv1.EndpointSlice](ctx, d, gvrSlices, ns, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + b.Name})
	for _, p := range svc.Spec.Ports {
		if (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Number != 0 && p.Port == b.Port.Number) {
			return sliceEndpoints(slices, err, p.Name)
		}
	}
	return "<none>"
}

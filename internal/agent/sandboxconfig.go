package agent

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"kserver.dev/kserver/internal/dns/resolvconf"
	"kserver.dev/kserver/internal/runtime"
)

// sandboxConfig is what the runtime needs to know of the pod: names,
// hostname, namespaces, resolv.conf for the dnsPolicy (warnings become
// events), namespaced sysctls, QoS class and pod-level resources.
func (a *Agent) sandboxConfig(pod *corev1.Pod, attempt uint32) (runtime.SandboxConfig, []resolvconf.Warning) {
	hostname, _ := podHostname(pod, a.cfg.ClusterDomain)
	cfg := runtime.SandboxConfig{
		Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID), Attempt: attempt,
		Hostname:              hostname,
		HostNetwork:           pod.Spec.HostNetwork,
		HostIPC:               pod.Spec.HostIPC,
		HostPID:               pod.Spec.HostPID,
		ShareProcessNamespace: pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace,
		QOS:                   podQOS(pod),
		Resources:             podResources(pod),
		Labels: map[string]string{
			"io.kubernetes.pod.name": pod.Name, "io.kubernetes.pod.namespace": pod.Namespace,
			"io.kubernetes.pod.uid": string(pod.UID),
		},
		Annotations: pod.Annotations,
	}
	if cfg.HostNetwork {
		cfg.Labels[labelHostNetwork] = "true"
		cfg.Hostname = "" // the host's name
		if a.cfg.HostNetNS != "" {
			// A node inside a namespace of its own (tests): "the host's
			// network" is that namespace.
			cfg.HostNetwork, cfg.NetNSPath = false, a.cfg.HostNetNS
			cfg.Hostname = a.cfg.Hostname
		}
	}
	if psc := pod.Spec.SecurityContext; psc != nil && len(psc.Sysctls) > 0 {
		cfg.Sysctls = map[string]string{}
		for _, s := range psc.Sysctls {
			cfg.Sysctls[s.Name] = s.Value
		}
	}
	var warnings []resolvconf.Warning
	if !a.cfg.Simulated {
		cfg.DNS, warnings = resolvconf.ForPod(pod, a.dnsNode())
	}
	return cfg, warnings
}

// dnsNode is the DNS side of the node for resolvconf.ForPod; the host's
// resolver file is read once.
func (a *Agent) dnsNode() resolvconf.Node {
	a.hostDNSOnce.Do(func() {
		if c, _, err := resolvconf.Host(resolvconf.Files{Host: a.cfg.ResolvConf}); err == nil {
			a.hostDNS = &c
		}
	})
	n := resolvconf.Node{ClusterDomain: a.cfg.ClusterDomain, Host: a.hostDNS, NodeIPs: []netip.Addr{a.cfg.NodeIP}}
	if a.cfg.ClusterDNS.IsValid() {
		n.ClusterDNS = []netip.Addr{a.cfg.ClusterDNS}
	}
	return n
}

// podHostname is the pod's hostname (spec.hostname or its name, at most
// 63 characters) and, with spec.subdomain, its domain
// <subdomain>.<namespace>.svc.<cluster domain>.
func podHostname(pod *corev1.Pod, clusterDomain string) (host, domain string) {
	host = pod.Name
	if pod.Spec.Hostname != "" {
		host = pod.Spec.Hostname
	}
	if len(host) > 63 {
		host = strings.TrimRight(host[:63], "-.")
	}
	if pod.Spec.Subdomain != "" && clusterDomain != "" {
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
	}
	return host, domain
}

// podQOS is status.qosClass, or computed as upstream's GetPodQOS when the
// API server has not set it.
func podQOS(pod *corev1.Pod) runtime.QOSClass {
	if pod.Status.QOSClass != "" {
		return runtime.QOSClass(pod.Status.QOSClass)
	}
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed, any := true, false
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range all {
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[n]
			lim, hasLim := c.Resources.Limits[n]
			if hasReq && !req.IsZero() || hasLim && !lim.IsZero() {
				any = true
			}
			if !hasLim || lim.IsZero() || hasReq && req.Cmp(lim) != 0 {
				guaranteed = false
			}
			addQuantity(requests, n, req)
			addQuantity(limits, n, lim)
		}
	}
	switch {
	case !any:
		return runtime.QOSBestEffort
	case guaranteed:
		return runtime.QOSGuaranteed
	}
	return runtime.QOSBurstable
}

func addQuantity(l corev1.ResourceList, n corev1.ResourceName, q resource.Quantity) {
	cur := l[n]
	cur.Add(q)
	l[n] = cur
}

// podResources are the pod-level cgroup values: the CPU requests of the
// app containers summed (or the largest init container's, if larger), and
// CPU and memory limits only when every app container has one, as the
// kubelet's ResourceConfigForPod.
func podResources(pod *corev1.Pod) runtime.Resources {
	var r runtime.Resources
	cpuLimited, memLimited := len(pod.Spec.Containers) > 0, len(pod.Spec.Containers) > 0
	for _, c := range pod.Spec.Containers {
		res := containerResources(&c)
		r.CPURequestMilli += res.CPURequestMilli
		r.MemoryRequestBytes += res.MemoryRequestBytes
		r.CPULimitMilli += res.CPULimitMilli
		r.MemoryLimitBytes += res.MemoryLimitBytes
		cpuLimited = cpuLimited && res.CPULimitMilli > 0
		memLimited = memLimited && res.MemoryLimitBytes > 0
	}
	for _, c := range pod.Spec.InitContainers {
		res := containerResources(&c)
		r.CPURequestMilli = max(r.CPURequestMilli, res.CPURequestMilli)
		r.MemoryRequestBytes = max(r.MemoryRequestBytes, res.MemoryRequestBytes)
		if cpuLimited {
			r.CPULimitMilli = max(r.CPULimitMilli, res.CPULimitMilli)
		}
		if memLimited {
			r.MemoryLimitBytes = max(r.MemoryLimitBytes, res.MemoryLimitBytes)
		}
	}
	if !cpuLimited {
		r.CPULimitMilli = 0
	}
	if !memLimited {
		r.MemoryLimitBytes = 0
	}
	return r
}

// oomScoreAdj is the kubelet's per-container OOM score adjustment for the
// pod's QoS class (the runtime clamps negative values to 0 on hosts where
// kserver lacks CAP_SYS_RESOURCE).
func oomScoreAdj(qos runtime.QOSClass, memRequest, memCapacity int64) int {
	switch qos {
	case runtime.QOSGuaranteed:
		return -997
	case runtime.QOSBestEffort:
		return 1000
	}
	if memCapacity <= 0 {
		return 999
	}
	adj := 1000 - (1000*memRequest)/memCapacity
	return int(min(max(adj, 2), 999))
}

// The kubelet's /etc/hosts headers.
const (
	managedHostsHeader            = "# Kubernetes-managed hosts file.\n"
	managedHostsHeaderHostNetwork = "# Kubernetes-managed hosts file (host network).\n"
)

// etcHosts is the pod's /etc/hosts as the kubelet writes it: localhost
// entries, the pod's addresses with its hostname (and FQDN with a
// subdomain), and the hostAliases; hostNetwork pods get the node's own
// file with the aliases added.
func etcHosts(pod *corev1.Pod, ips []string, hostname, domain, hostFile string) ([]byte, error) {
	var b strings.Builder
	if pod.Spec.HostNetwork {
		host, err := os.ReadFile(hostFile)
		if err != nil {
			return nil, err
		}
		b.WriteString(managedHostsHeaderHostNetwork)
		b.Write(host)
	} else {
		b.WriteString(managedHostsHeader)
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		for _, ip := range ips {
			if domain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
			}
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, h := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", h.IP, strings.Join(h.Hostnames, "\t"))
		}
	}
	return []byte(b.String()), nil
}

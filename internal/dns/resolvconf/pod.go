package resolvconf

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
)

// Limits the kubelet applies to a pod's resolv.conf (those of glibc's
// resolver, as extended in Kubernetes 1.28).
const (
	MaxNameservers     = 3
	MaxSearchPaths     = 32
	MaxSearchListChars = 2048
	maxSearchLength    = 253 // longer search domains make some resolvers abort
)

// Event reasons of the warnings ForPod returns, as the kubelet records them.
const (
	ReasonDNSConfigForming  = "DNSConfigForming"
	ReasonMissingClusterDNS = "MissingClusterDNS"
)

// Node is what the agent knows of the cluster's and the node's DNS.
type Node struct {
	// ClusterDNS are the cluster DNS server addresses (--cluster-dns).
	// Without them ClusterFirst pods fall back to Default, with a warning.
	ClusterDNS []netip.Addr
	// ClusterDomain is the cluster's DNS domain (--cluster-domain).
	ClusterDomain string
	// Host is the node's resolver configuration, normally from Host. Nil
	// means the node has none: Default pods then get a local nameserver
	// and the search domain ".", as the kubelet does with --resolv-conf="".
	Host *Config
	// NodeIPs choose 127.0.0.1 or ::1 for that local nameserver.
	NodeIPs []netip.Addr
}

// Warning is a problem the agent should record as a Warning Event on the
// pod, with Reason as the event's reason.
type Warning struct {
	Reason  string
	Message string
}

// ForPod returns the resolv.conf of pod (written to every container as
// /etc/resolv.conf) for its dnsPolicy and dnsConfig, as the kubelet forms
// it:
//
//   - ClusterFirst (and ClusterFirstWithHostNet, and ClusterFirst without
//     hostNetwork): the cluster DNS servers only; search
//     <ns>.svc.<domain> svc.<domain> <domain> then the host's search
//     domains; options ndots:5.
//   - Default (and ClusterFirst with hostNetwork): the host's
//     configuration.
//   - None: nothing but the pod's dnsConfig.
//
// dnsConfig is merged in last (nameservers and searches appended without
// duplicates, options replacing options of the same name), then the
// result is cut to the resolver's limits: at most MaxNameservers
// nameservers and MaxSearchPaths search domains of at most 253 characters
// and MaxSearchListChars in total. Cuts come back as warnings.
func ForPod(pod *corev1.Pod, n Node) (*runtime.DNSConfig, []Warning) {
	var warnings []Warning
	base := Config{}
	if n.Host != nil {
		base = Config{Nameservers: slices.Clone(n.Host.Nameservers), Searches: slices.Clone(n.Host.Searches),
			Options: slices.Clone(n.Host.Options)}
	}
	policy := pod.Spec.DNSPolicy
	switch {
	case policy == corev1.DNSNone:
		base = Config{}
	case policy == corev1.DNSDefault || (policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork):
		base = hostDefault(base, n)
	case len(n.ClusterDNS) == 0: // ClusterFirst(WithHostNet) or an unknown policy
		warnings = append(warnings, Warning{Reason: ReasonMissingClusterDNS, Message: fmt.Sprintf(
			"pod: %q. kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.",
			pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", corev1.DNSClusterFirst, corev1.DNSDefault)})
		base = hostDefault(base, n)
	default:
		base.Nameservers = nil
		for _, a := range n.ClusterDNS {
			base.Nameservers = append(base.Nameservers, a.String())
		}
		base.Searches = clusterSearches(base.Searches, pod.Namespace, n.ClusterDomain)
		base.Options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		base.Nameservers = unique(append(base.Nameservers, dc.Nameservers...))
		base.Searches = unique(append(base.Searches, dc.Searches...))
		var more []string
		for _, o := range dc.Options {
			if o.Value != nil && *o.Value != "" {
				more = append(more, o.Name+":"+*o.Value)
			} else {
				more = append(more, o.Name)
			}
		}
		base.Options = mergeOptions(base.Options, more)
	}
	if len(base.Nameservers) > MaxNameservers {
		base.Nameservers = base.Nameservers[:MaxNameservers]
		warnings = append(warnings, Warning{Reason: ReasonDNSConfigForming, Message: "Nameserver limits were exceeded, " +
			"some nameservers have been omitted, the applied nameserver line is: " + strings.Join(base.Nameservers, " ")})
	}
	var cut bool
	if base.Searches, cut = fitSearches(base.Searches); cut {
		warnings = append(warnings, Warning{Reason: ReasonDNSConfigForming, Message: "Search Line limits were exceeded, " +
			"some search paths have been omitted, the applied search line is: " + strings.Join(base.Searches, " ")})
	}
	return &runtime.DNSConfig{Servers: base.Nameservers, Searches: base.Searches, Options: base.Options}, warnings
}

// hostDefault is the Default policy's configuration: the host's, or a
// local nameserver with search "." when the node has no resolver file.
func hostDefault(host Config, n Node) Config {
	if n.Host != nil {
		return host
	}
	c := Config{Searches: []string{"."}}
	for _, ip := range n.NodeIPs {
		if ip.Is6() && !ip.Is4In6() {
			c.Nameservers = append(c.Nameservers, "::1")
		} else {
			c.Nameservers = append(c.Nameservers, "127.0.0.1")
		}
	}
	if len(c.Nameservers) == 0 {
		c.Nameservers = []string{"127.0.0.1"}
	}
	return c
}

// clusterSearches puts the cluster's search domains before the host's.
func clusterSearches(host []string, namespace, domain string) []string {
	if domain == "" {
		return host
	}
	cluster := []string{namespace + ".svc." + domain, "svc." + domain, domain}
	return unique(append(cluster, host...))
}

// fitSearches applies the resolver's limits to a search list and reports
// whether it had to cut.
func fitSearches(s []string) ([]string, bool) {
	cut := false
	if len(s) > MaxSearchPaths {
		s, cut = s[:MaxSearchPaths], true
	}
	kept := s[:0:0]
	for _, d := range s {
		if len(d) > maxSearchLength {
			cut = true
			continue
		}
		kept = append(kept, d)
	}
	s = kept
	for total := len(strings.Join(s, " ")); total > MaxSearchListChars; total = len(strings.Join(s, " ")) {
		s, cut = s[:len(s)-1], true
	}
	return s, cut
}

// unique drops repeated strings, keeping the first of each.
func unique(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

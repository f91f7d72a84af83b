// Package resolvconf reads and writes resolv.conf files and renders the
// /etc/resolv.conf of a pod for its dnsPolicy, as the kubelet does.
//
// It is the pod-side half of kserver's DNS: the node agent calls ForPod
// when it makes a sandbox, and the DNS server (package dns) uses Host and
// Upstreams to find the node's upstream resolvers. It sits one layer below
// both so that either may import it.
//
// Host chooses the node's resolver file the way k3s chooses the kubelet's
// --resolv-conf: /etc/resolv.conf when every nameserver in it is a global
// unicast address, else systemd-resolved's real upstream file
// (/run/systemd/resolve/resolv.conf) when that one is, else a generated
// configuration naming 8.8.8.8. A file whose nameservers are loopback
// addresses (systemd-resolved's stub 127.0.0.53, a dnsmasq on 127.0.0.1)
// cannot serve pods: inside a pod's network namespace those addresses are
// the pod itself.
package resolvconf

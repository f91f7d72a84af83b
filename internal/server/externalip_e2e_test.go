package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/server"
)

// `kserver server --node-external-ip 203.0.113.5`: the API server's
// certificate covers the address, the node's status
// lists the address as its ExternalIP (between InternalIP and Hostname,
// as k3s writes them), and ServiceLB gives a LoadBalancer Service that
// address rather than the InternalIP.
func TestNodeExternalIPReachesNodeAndServiceLB(t *testing.T) {
	c := e2e.StartWith(t, func(cfg *server.Config) {
		cfg.NodeName, cfg.Runtime, cfg.DisableAgent = "main", "sim", false
		cfg.NodeExternalIP = []string{"203.0.113.5"}
		cfg.Disable = append(cfg.Disable, "scheduler")
	})
	set, err := client.New(c.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor := func(what string, f func() error) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := f()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The API server's certificate covers the address, as k3s's does.
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port), &tls.Config{InsecureSkipVerify: true}) // only reading the certificate
	if err != nil {
		t.Fatal(err)
	}
	cert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("203.0.113.5")) }) {
		t.Errorf("serving certificate IPs %v lack the external IP", cert.IPAddresses)
	}
	waitFor("node addresses", func() error {
		n, err := set.Nodes().Get(ctx, "main", metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := fmt.Sprint([]corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			{Type: corev1.NodeExternalIP, Address: "203.0.113.5"}, {Type: corev1.NodeHostName, Address: "main"}})
		if got := fmt.Sprint(n.Status.Addresses); got != want {
			return fmt.Errorf("got %s, want %s", got, want)
		}
		return nil
	})
	_, err = set.Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 8080}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor("load balancer ingress", func() error {
		s, err := set.Services("default").Get(ctx, "lb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		in := s.Status.LoadBalancer.Ingress
		if len(in) != 1 || in[0].IP != "203.0.113.5" {
			return fmt.Errorf("ingress %+v, want only the external IP 203.0.113.5", in)
		}
		return nil
	})
}

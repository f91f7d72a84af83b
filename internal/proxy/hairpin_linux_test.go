package proxy

import (
	"bufio"
	"net"
	"testing"
	"time"

	"kserver.dev/kserver/internal/nft"
)

// TestDirectTrafficOfLocalEndpointNotMasqueraded: the node's own address
// is a Service endpoint (a host-network server such as the API server), so
// it is in the hairpin set. A connection from that address to itself that
// the Service rules did not DNAT, opened before the table existed and so
// taken up by conntrack mid-stream, must keep working: masquerading it
// would give it a new source port and the client's kernel would reset it.
func TestDirectTrafficOfLocalEndpointNotMasqueraded(t *testing.T) {
	n := newTestNode(t)
	var ln net.Listener
	var client net.Conn
	if err := n.node.Do(func() error {
		var err error
		if ln, err = net.Listen("tcp", "10.42.0.1:9443"); err != nil {
			return err
		}
		client, err = net.Dial("tcp", "10.42.0.1:9443")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	svc := Service{Namespace: "default", Name: "kubernetes", Protocol: nft.TCP, Port: 443, ClusterIP: ip("10.43.0.1"),
		Endpoints: []Endpoint{ready("10.42.0.1", 9443, true)}}
	n.sync(t, svc)

	deadline := time.Now().Add(5 * time.Second)
	_ = client.SetDeadline(deadline)
	_ = server.SetDeadline(deadline)
	cr, sr := bufio.NewReader(client), bufio.NewReader(server)
	for i := range 3 { // both directions, after the rules are in place
		if _, err := client.Write([]byte("ping\n")); err != nil {
			t.Fatalf("round %d: client write: %v", i, err)
		}
		if line, err := sr.ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("round %d: server read %q: %v", i, line, err)
		}
		if _, err := server.Write([]byte("pong\n")); err != nil {
			t.Fatalf("round %d: server write: %v", i, err)
		}
		if line, err := cr.ReadString('\n'); err != nil || line != "pong\n" {
			t.Fatalf("round %d: client read %q: %v (connection reset by a masquerade of undNATed traffic?)", i, line, err)
		}
	}
	// The Service itself still reaches the endpoint from the node.
	if err := n.node.Do(func() error {
		c, err := net.DialTimeout("tcp", "10.43.0.1:443", 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatalf("Service to the node-local endpoint: %v", err)
	}
}

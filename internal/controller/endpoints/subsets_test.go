package endpoints

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestTruncateKeepsReadyFirstAndShares(t *testing.T) {
	addrs := func(n int, prefix string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, n)
		for i := range out {
			out[i].IP = fmt.Sprintf("%s.%d", prefix, i)
		}
		return out
	}
	cases := []struct {
		name            string
		subsets         []corev1.EndpointSubset
		cut             bool
		ready, notReady []int
	}{
		{"under capacity", []corev1.EndpointSubset{{Addresses: addrs(600, "a"), NotReadyAddresses: addrs(400, "b")}}, false, []int{600}, []int{400}},
		{"not-ready cut first", []corev1.EndpointSubset{{Addresses: addrs(900, "a"), NotReadyAddresses: addrs(300, "b")}}, true, []int{900}, []int{100}},
		{"ready over capacity drops all not-ready", []corev1.EndpointSubset{
			{Addresses: addrs(900, "a"), NotReadyAddresses: addrs(10, "b")},
			{Addresses: addrs(300, "c")},
		}, true, []int{750, 250}, []int{0, 0}},
	}
	for _, tc := range cases {
		ep := &corev1.Endpoints{Subsets: tc.subsets}
		if got := truncate(ep); got != tc.cut {
			t.Errorf("%s: truncated=%v", tc.name, got)
		}
		total := 0
		for i, s := range ep.Subsets {
			if len(s.Addresses) != tc.ready[i] || len(s.NotReadyAddresses) != tc.notReady[i] {
				t.Errorf("%s: subset %d has %d ready, %d not ready; want %d, %d", tc.name, i,
					len(s.Addresses), len(s.NotReadyAddresses), tc.ready[i], tc.notReady[i])
			}
			total += len(s.Addresses) + len(s.NotReadyAddresses)
		}
		if total > MaxCapacity {
			t.Errorf("%s: %d addresses left", tc.name, total)
		}
	}
}

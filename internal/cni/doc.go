// Package cni attaches pod sandboxes to the node's pod network through
// libcni and the reference plugins (Debian's containernetworking-plugins in
// /usr/lib/cni): bridge on cni0 with the node's podCIDR, host-local IPAM,
// portmap for hostPort, and loopback.
//
// The agent gives it the node's podCIDR and the MTU the overlay chose, and
// per pod an Attachment (sandbox ID, netns path, pod identity, hostPorts);
// it never talks to the API. Render produces the conflist, which golden
// tests pin down. Add returns the pod's IP; Del is idempotent, also for a
// sandbox whose namespace is gone; Attachments lists what libcni's cache
// says is attached, so a restarted agent finds and removes what a crash
// left behind. See docs/cni.md for the decisions (ipMasq off: the overlay
// masquerades egress in its own nftables table; loopback as a separate
// list on "lo", as CRI runtimes do).
package cni

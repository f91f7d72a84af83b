// Package netns creates, enters and removes Linux network namespaces.
//
// It is the lowest layer of kserver's networking: the agent creates one
// named namespace per pod sandbox (bind-mounted under /run/netns so that it
// outlives the process and survives a restart of kserver), the CNI plugins
// configure it, and the privileged tests of cni, overlay and proxy build
// whole "nodes" out of namespaces.
//
// Entering a namespace changes the calling OS thread only, so Do locks the
// goroutine to its thread, switches, runs the function and switches back.
// A thread whose namespace cannot be restored is not returned to the Go
// scheduler (the goroutine exits with the thread still locked), so no other
// goroutine ever runs in a namespace it did not ask for.
package netns

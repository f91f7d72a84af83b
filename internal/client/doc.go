// Package client is how kserver's components — controllers, scheduler, node
// agent, DNS and proxy wiring — talk to the Kubernetes API: a scheme of
// exactly the API versions kserver serves, typed clients built on client-go's
// generic gentype clients, a small shared-informer factory on client-go's
// cache, and an event recorder on client-go's record package.
//
// It deliberately does not use client-go's generated clientset, informer
// factory, leader election or events packages: each of those links every API
// group and version ever published (alpha and beta included) into the binary,
// about 10 MB more than kserver's whole 40 MB budget allows. The pieces used
// here are the same client-go machinery (REST client, reflector, indexer,
// workqueue-friendly listers) without that weight.
package client

// Package server is the composition root of `kserver server` and
// `kserver agent`: it turns one Config into the components (datastore, API
// server, controllers, scheduler, node agent), wires them together and runs
// them under one errgroup until the context ends.
package server

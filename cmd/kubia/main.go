// Command kubia is the demo app of kserver's offline image set: the small
// HTTP server the "Kubernetes in Action" exercises deploy as luksa/kubia.
// It answers "You've hit <hostname>" on port 8080; KUBIA_MODE selects the
// variant an image runs:
//
//	v1, latest   You've hit <hostname>
//	v2           This is v2 running in pod <hostname>
//	v3           like v2 for four requests, then HTTP 500 (a bad rollout)
//	v4           This is v4 running in pod <hostname>
//	unhealthy    You've hit <hostname> for five requests, then HTTP 500
//	             "I'm not well. Please restart me!" (liveness probe exercise)
//	pet          StatefulSet exercise: POST stores the body in
//	             /var/data/kubia.txt, GET shows it
//	pet-peers    like pet, and GET lists the data of every peer found
//	             through the DNS SRV records of $SERVICE_NAME
//
// Run as "curl" (a symlink in the images) it is a minimal curl, so that
// `kubectl exec kubia -- curl -s http://kubia` works as in the book.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	if filepath.Base(os.Args[0]) == "curl" {
		os.Exit(curl(os.Args[1:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, configFromEnv(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kubia:", err)
		os.Exit(1)
	}
}

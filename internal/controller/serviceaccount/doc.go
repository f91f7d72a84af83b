// Package serviceaccount keeps what every namespace is expected to hold:
// the ServiceAccount "default" (upstream's serviceaccount-controller, which
// recreates it when deleted) and the ConfigMap "kube-root-ca.crt" with the
// CA bundle that verifies the API server's serving certificate (upstream's
// root-ca-cert-publisher), kept equal to the cluster's CA. Namespaces being
// deleted are left alone.
package serviceaccount

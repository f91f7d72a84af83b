// Package pki creates and loads kserver's certificates: the cluster CAs
// generated on first start, the API server's serving certificate (reissued
// when its names change or it nears expiry), client certificates such as the
// admin's, the service-account signing key, and the admin kubeconfig.
//
// Files live under <data-dir>/server/tls:
//
//	server-ca.crt/.key      CA that signs serving certificates (clients trust it)
//	client-ca.crt/.key      CA that signs client certificates (the API server trusts it)
//	serving-kube-apiserver.crt/.key
//	client-admin.crt/.key   CN=system:admin, O=system:masters
//	service.key             signs service-account tokens
//
// Keys are ECDSA P-256: small, fast to generate (first start must stay under
// a second) and accepted by every Kubernetes client.
package pki

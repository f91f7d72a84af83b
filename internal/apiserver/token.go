package apiserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// serveToken is POST …/serviceaccounts/<name>/token (TokenRequest): a
// signed JWT for the service account, bound to a pod when asked. The
// security work will verify these tokens; here they are issued.
func (s *Server) serveToken(c *call) {
	_, err := c.writeOptions("CreateOptions")
	if err != nil {
		c.fail(err)
		return
	}
	body, err := c.body()
	if err != nil {
		c.fail(err)
		return
	}
	d, err := s.codecs.decodeBody(c.r.Header.Get("Content-Type"), body, authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"))
	if err != nil {
		c.fail(err)
		return
	}
	tr, ok := d.obj.(*authenticationv1.TokenRequest)
	if !ok {
		c.fail(badRequest("the body of a token request must be an authentication.k8s.io/v1 TokenRequest"))
		return
	}
	kv, err := s.cfg.Store.Get(c.ctx, objectKey(c.res, c.ri.namespace, c.ri.name))
	if err != nil {
		c.fail(err)
		return
	}
	obj, err := s.decodeStored(c.storageGVK(), kv)
	if err != nil {
		c.fail(err)
		return
	}
	sa := obj.(*corev1.ServiceAccount)
	if tr.Spec.ExpirationSeconds == nil {
		def := int64(3600)
		tr.Spec.ExpirationSeconds = &def
	}
	if *tr.Spec.ExpirationSeconds < 600 {
		c.fail(apierrors.NewInvalid(schema.GroupKind{Group: "authentication.k8s.io", Kind: "TokenRequest"}, c.ri.name, field.ErrorList{
			field.Invalid(field.NewPath("spec", "expirationSeconds"), *tr.Spec.ExpirationSeconds, "may not specify a duration less than 10 minutes")}))
		return
	}
	if len(tr.Spec.Audiences) == 0 {
		tr.Spec.Audiences = []string{s.issuer()}
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second)
	token, err := s.signServiceAccountToken(sa, tr, now, exp)
	if err != nil {
		c.fail(err)
		return
	}
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	tr.Name, tr.Namespace = sa.Name, sa.Namespace
	tr.CreationTimestamp = metav1.NewTime(now)
	tr.TypeMeta = metav1.TypeMeta{Kind: "TokenRequest", APIVersion: "authentication.k8s.io/v1"}

	out, err := s.codecs.encodeObject(c.out, tr)
	if err != nil {
		c.fail(err)
		return
	}
	c.write(http.StatusCreated, out)
}

func (s *Server) issuer() string {
	if s.cfg.ServiceAccountIssuer != "" {
		return s.cfg.ServiceAccountIssuer
	}
	return "https://kubernetes.default.svc." + s.cfg.ClusterDomain
}

// signServiceAccountToken builds the JWT upstream issues for a bound token.
func (s *Server) signServiceAccountToken(sa *corev1.ServiceAccount, tr *authenticationv1.TokenRequest, now, exp time.Time) (string, error) {
	key := s.cfg.ServiceAccountKey
	if key == nil {
		return "", apierrors.NewServiceUnavailable("service account token signing is not configured")
	}
	type ref struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	}
	k8s := map[string]any{
		"namespace":      sa.Namespace,
		"serviceaccount": ref{Name: sa.Name, UID: string(sa.UID)},
	}
	if b := tr.Spec.BoundObjectRef; b != nil {
		k8s[lowerKind(b.Kind)] = ref{Name: b.Name, UID: string(b.UID)}
	}
	claims := map[string]any{
		"aud":           tr.Spec.Audiences,
		"exp":           exp.Unix(),
		"iat":           now.Unix(),
		"nbf":           now.Unix(),
		"iss":           s.issuer(),
		"sub":           "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
		"jti":           string(uuid.NewUUID()),
		"kubernetes.io": k8s,
	}
	return signJWT(key, claims)
}

func lowerKind(k string) string {
	switch k {
	case "Pod":
		return "pod"
	case "Secret":
		return "secret"
	case "Node":
		return "node"
	}
	return k
}

// signJWT signs claims with an ECDSA P-256 (ES256) or RSA (RS256) key; the
// key id is the SHA-256 of the public key, as upstream derives it.
func signJWT(key crypto.Signer, claims any) (string, error) {
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	kidSum := sha256.Sum256(pub)
	alg := "RS256"
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		alg = "ES256"
	} else if _, ok := key.(*rsa.PrivateKey); !ok {
		return "", errors.New("sign token: unsupported key type")
	}
	header, _ := json.Marshal(map[string]string{"alg": alg, "kid": base64.RawURLEncoding.EncodeToString(kidSum[:])})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", fmt.Errorf("sign token: %w", err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		if sig, err = key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			return "", fmt.Errorf("sign token: %w", err)
		}
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

package apiserver

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Reviews are create-only resources that are answered, never stored:
// SelfSubjectReview (kubectl auth whoami), TokenReview, and the access
// reviews (kubectl auth can-i, helm). Until RBAC exists (security issue)
// every authenticated user may do everything, so access reviews allow.

// isReview reports whether obj is a review the server answers itself.
func isReview(obj runtime.Object) bool {
	switch obj.(type) {
	case *authenticationv1.SelfSubjectReview, *authenticationv1.TokenReview,
		*authorizationv1.SelfSubjectAccessReview, *authorizationv1.SubjectAccessReview,
		*authorizationv1.LocalSubjectAccessReview, *authorizationv1.SelfSubjectRulesReview:
		return true
	}
	return false
}

const allowReason = "kserver: RBAC is not enabled yet; every authenticated user is allowed"

// answerReview fills the status of a review and writes it with 201.
func (s *Server) answerReview(c *call, obj runtime.Object) {
	u := userFrom(c.ctx)
	switch r := obj.(type) {
	case *authenticationv1.SelfSubjectReview:
		r.Status.UserInfo = authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	case *authenticationv1.TokenReview:
		r.Status = s.reviewToken(r.Spec)
	case *authorizationv1.SelfSubjectAccessReview:
		r.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: allowReason}
	case *authorizationv1.SubjectAccessReview:
		r.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: allowReason}
	case *authorizationv1.LocalSubjectAccessReview:
		r.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: allowReason}
	case *authorizationv1.SelfSubjectRulesReview:
		r.Status = authorizationv1.SubjectRulesReviewStatus{
			ResourceRules:    []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
			NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
		}
	}
	obj.GetObjectKind().SetGroupVersionKind(c.res.GroupVersionKind())
	body, err := c.s.codecs.encodeObject(c.out, obj)
	if err != nil {
		c.fail(err)
		return
	}
	c.write(http.StatusCreated, body)
}

// reviewToken authenticates a service-account token this server issued:
// signature, expiry and audience.
func (s *Server) reviewToken(spec authenticationv1.TokenReviewSpec) authenticationv1.TokenReviewStatus {
	fail := func(msg string) authenticationv1.TokenReviewStatus {
		return authenticationv1.TokenReviewStatus{Error: msg}
	}
	claims, ok := s.verifyJWT(spec.Token)
	if !ok {
		return fail("invalid bearer token")
	}
	if exp, _ := claims["exp"].(float64); time.Unix(int64(exp), 0).Before(s.now()) {
		return fail("invalid bearer token, token has expired")
	}
	var auds []string
	audList, _ := claims["aud"].([]any)
	for _, a := range audList {
		if str, ok := a.(string); ok {
			auds = append(auds, str)
		}
	}
	want := spec.Audiences
	if len(want) == 0 {
		want = []string{s.issuer()}
	}
	var matched []string
	for _, a := range want {
		if slices.Contains(auds, a) {
			matched = append(matched, a)
		}
	}
	if len(matched) == 0 {
		return fail("token audiences " + strings.Join(auds, ",") + " is invalid for the target audiences " + strings.Join(want, ","))
	}
	sub, _ := claims["sub"].(string)
	parts := strings.Split(sub, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		return fail("invalid bearer token")
	}
	info := authenticationv1.UserInfo{Username: sub,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + parts[2], groupAuthenticated}}
	if k8s, ok := claims["kubernetes.io"].(map[string]any); ok {
		if sa, ok := k8s["serviceaccount"].(map[string]any); ok {
			info.UID, _ = sa["uid"].(string)
		}
	}
	return authenticationv1.TokenReviewStatus{Authenticated: true, User: info, Audiences: matched}
}

// verifyJWT checks an ES256 token against the service-account key and
// returns its claims.
func (s *Server) verifyJWT(token string) (map[string]any, bool) {
	key, ok := s.cfg.ServiceAccountKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&key.PublicKey, digest[:], r, sv) {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	return claims, true
}

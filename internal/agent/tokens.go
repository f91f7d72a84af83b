package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"kserver.dev/kserver/internal/client"
)

// tokenCache requests the service-account tokens of projected volumes
// through serviceaccounts/<name>/token, bound to the pod, and renews them
// as the kubelet's token manager does: when 80% of a token's lifetime has
// passed, or when it is older than 24 hours.
type tokenCache struct {
	set *client.Set
	now func() time.Time

	mu     sync.Mutex
	tokens map[tokenKey]cachedToken
}

type tokenKey struct {
	pod        types.UID
	account    string
	audience   string
	expiration int64
}

type cachedToken struct {
	token           string
	issued, expires time.Time
	refreshAt       time.Time
}

// maxTokenAge is the kubelet's maxTTL: a token older than this is renewed
// whatever its expiry.
const maxTokenAge = 24 * time.Hour

func newTokenCache(set *client.Set, now func() time.Time) *tokenCache {
	return &tokenCache{set: set, now: now, tokens: map[tokenKey]cachedToken{}}
}

// token returns a valid token for the projection and when it must be
// renewed.
func (c *tokenCache) token(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection) (string, time.Time, error) {
	exp := int64(3600)
	if p.ExpirationSeconds != nil {
		exp = *p.ExpirationSeconds
	}
	k := tokenKey{pod: pod.UID, account: pod.Spec.ServiceAccountName, audience: p.Audience, expiration: exp}
	now := c.now()
	c.mu.Lock()
	t, ok := c.tokens[k]
	c.mu.Unlock()
	if ok && now.Before(t.refreshAt) {
		return t.token, t.refreshAt, nil
	}
	account := pod.Spec.ServiceAccountName
	if account == "" {
		account = "default"
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if p.Audience != "" {
		tr.Spec.Audiences = []string{p.Audience}
	}
	got, err := c.set.CreateToken(ctx, pod.Namespace, account, tr)
	if err != nil {
		if ok && now.Before(t.expires) { // keep serving the old one while it is valid
			return t.token, now.Add(10 * time.Second), nil
		}
		return "", time.Time{}, fmt.Errorf("failed to fetch token: %w", err)
	}
	expires := got.Status.ExpirationTimestamp.Time
	if expires.IsZero() {
		expires = now.Add(time.Duration(exp) * time.Second)
	}
	ttl := expires.Sub(now)
	refresh := now.Add(ttl * 8 / 10)
	if age := now.Add(maxTokenAge); refresh.After(age) {
		refresh = age
	}
	t = cachedToken{token: got.Status.Token, issued: now, expires: expires, refreshAt: refresh}
	c.mu.Lock()
	c.tokens[k] = t
	c.mu.Unlock()
	return t.token, t.refreshAt, nil
}

// forget drops the tokens of a pod that is gone.
func (c *tokenCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.tokens {
		if k.pod == uid {
			delete(c.tokens, k)
		}
	}
}

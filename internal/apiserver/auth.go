package apiserver

import (
	"context"
	"net/http"
	"slices"
)

// User is an authenticated identity, as upstream's user.Info.
type User struct {
	Name   string
	UID    string
	Groups []string
}

// Well-known groups.
const (
	groupMasters       = "system:masters"
	groupAuthenticated = "system:authenticated"
	userAnonymous      = "system:anonymous"
)

type userKey struct{}

// WithUser returns a context carrying an authenticated user; the in-memory
// transport uses it to give in-process components their own identity.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// authenticate finds who sent r: a user put in the context by the
// in-memory transport, or the subject of a verified TLS client certificate
// (CN = user, O = groups). Bearer tokens come with the security work; the
// chain of authenticators is here so they slot in.
func authenticate(r *http.Request) (User, bool) {
	if u, ok := r.Context().Value(userKey{}).(User); ok {
		return withAuthenticated(u), true
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		return withAuthenticated(User{Name: cert.Subject.CommonName, Groups: cert.Subject.Organization}), true
	}
	return User{Name: userAnonymous, Groups: []string{"system:unauthenticated"}}, false
}

func withAuthenticated(u User) User {
	if !slices.Contains(u.Groups, groupAuthenticated) {
		u.Groups = append(slices.Clip(u.Groups), groupAuthenticated)
	}
	return u
}

// publicPath says whether anonymous users may read path, as upstream's
// system:public-info-viewer role allows.
func publicPath(path string) bool {
	switch path {
	case "/version", "/version/", "/healthz", "/livez", "/readyz":
		return true
	}
	for _, p := range []string{"/healthz/", "/livez/", "/readyz/"} {
		if len(path) > len(p) && path[:len(p)] == p {
			return true
		}
	}
	return false
}

type userCtxKey struct{}

func userFrom(ctx context.Context) User {
	u, _ := ctx.Value(userCtxKey{}).(User)
	return u
}

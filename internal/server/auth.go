package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// secret is a credential kept as its SHA-256 digest, so comparing takes the
// same time whatever the length or content of the guess
// (subtle.ConstantTimeCompare alone returns early on a length mismatch).
type secret [sha256.Size]byte

func newSecret(s string) *secret {
	d := secret(sha256.Sum256([]byte(s)))
	return &d
}

// equal reports whether guess is the secret, in constant time.
func (s *secret) equal(guess string) bool {
	d := sha256.Sum256([]byte(guess))
	return subtle.ConstantTimeCompare(s[:], d[:]) == 1
}

// basicAuth is the webhook's username and password.
type basicAuth struct{ user, pass *secret }

// allows reports whether r carries the right basic credentials. Both parts
// are always compared so the timing does not tell which one was wrong.
func (a *basicAuth) allows(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	userOK := a.user.equal(user)
	passOK := a.pass.equal(pass)
	return ok && userOK && passOK
}

// requireToken wraps next so that it runs only for requests carrying the
// admin token as "Authorization: Bearer TOKEN", when one is configured.
func (s *Server) requireToken(next http.Handler) http.Handler {
	if s.token == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.token.equal(bearer(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}

package control

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ochopod/ochopod/runtime/security"
)

// Tokens finds the token a bearer secret belongs to; *security.TokenFile is the real one.
type Tokens interface {
	Lookup(secret string) (security.Token, bool)
}

// ScopeOf is the scope a request to path needs (DESIGN §12): /log read, /control/* and /reset control, /exec
// exec. Every other path (/info, the GET endpoints of §13, unknown paths, which answer 404) is open: ok is
// false.
func ScopeOf(path string) (s security.Scope, ok bool) {
	switch {
	case path == "/log":
		return security.ScopeRead, true
	case path == "/reset" || path == "/control" || strings.HasPrefix(path, "/control/"):
		return security.ScopeControl, true
	case path == "/exec":
		return security.ScopeExec, true
	}
	return 0, false
}

// RequireTokens puts h behind bearer tokens (DESIGN §12): a request to a path ScopeOf says needs a scope must
// carry `Authorization: Bearer <secret>` of a token with that scope. Without a token, or with an unknown one,
// it gets 401 with `WWW-Authenticate: Bearer`; with a token that lacks the scope, 403; both with a JSON error.
// Every request that needed a token is logged at INFO with the token's name (or "-"), the path and the code:
// never the secret. The line is written after the reply (AfterReply): a log line is a write to a pipe that
// wakes its reader, and on a busy machine the reply (the leader's phase) waited behind it.
func RequireTokens(h http.Handler, tokens Tokens, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope, ok := ScopeOf(r.URL.Path)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		tok, found := tokens.Lookup(bearer(r))
		rec := &codeRecorder{ResponseWriter: w}
		switch {
		case !found:
			w.Header().Set("WWW-Authenticate", `Bearer realm="ochopod"`)
			writeError(rec, http.StatusUnauthorized, "a token is required: Authorization: Bearer <secret>")
		case !tok.Has(scope):
			writeError(rec, http.StatusForbidden, fmt.Sprintf("token %q lacks the %s scope", tok.Name, scope))
		default:
			h.ServeHTTP(rec, r)
		}
		name := tok.Name
		if !found {
			name = "-"
		}
		ctx, path, code, remote := r.Context(), r.URL.Path, rec.code(), r.RemoteAddr
		AfterReply(r, func() { audit(ctx, log.Handler(), name, path, code, remote) })
	})
}

// audit writes a request's audit line at INFO. It makes the record itself: Logger.Info would also take the
// caller's program counter (runtime.Callers), a quarter of the line's cost on every request of a phase, for a
// source the pod's handlers do not print.
func audit(ctx context.Context, h slog.Handler, token, path string, code int, remote string) {
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "control API audit", 0)
	rec.AddAttrs(slog.String("token", token), slog.String("path", path), slog.Int("code", code), slog.String("remote", remote))
	_ = h.Handle(ctx, rec)
}

// bearer is the secret of the Authorization header, "" without one.
func bearer(r *http.Request) string {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(secret)
}

// codeRecorder remembers the status code a handler wrote.
type codeRecorder struct {
	http.ResponseWriter
	status int
}

func (c *codeRecorder) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *codeRecorder) code() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

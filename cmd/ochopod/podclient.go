package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ochopod/ochopod/runtime/security"
)

// Scopes of the token a verb sends (DESIGN §12).
const (
	scopeRead    = security.ScopeRead
	scopeControl = security.ScopeControl
	scopeExec    = security.ScopeExec
)

// maxPodReply caps what a verb reads of a pod's reply: /log is the largest, at least 32 KB of lines.
const maxPodReply = 8 << 20

// podClient posts to pods' control APIs with the token and TLS settings of §12.
type podClient struct {
	http *http.Client
	sec  *opsSecurity
}

// podClient returns the client of one command: no redirects followed, no proxy (control ports are inside the
// cluster's network), the pods' certificates checked against --tls-ca.
func (o *opsSettings) podClient() *podClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	o.security.transport(t)
	t.MaxIdleConnsPerHost = 4
	return &podClient{
		http: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		sec:  &o.security,
	}
}

// podError is a reply other than 200, said the way an operator reads it.
type podError struct {
	pod  string
	code int
	msg  string
}

func (e *podError) Error() string { return fmt.Sprintf("%s: %s", e.pod, e.msg) }

// errUnreachable wraps the failures to get any reply.
var errUnreachable = errors.New("unreachable")

// post sends a POST to the pod's path with the token of scope, and returns the reply of a 2xx. Any other code
// is a *podError whose message is the pod's own ("error" of its JSON), or for 401 and 403 what to do about it.
func (c *podClient) post(ctx context.Context, pod podRef, path string, scope security.Scope, body []byte, header map[string]string) ([]byte, error) {
	url := pod.Scheme + "://" + pod.Address + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pod.name(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok := c.sec.token(scope); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w: %w", pod.name(), pod.Address, errUnreachable, unwrapURL(err))
	}
	defer res.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(res.Body, maxPodReply))
	if err != nil {
		return nil, fmt.Errorf("%s: read the reply: %w", pod.name(), err)
	}
	if res.StatusCode/100 == 2 {
		return reply, nil
	}
	return reply, &podError{pod: pod.name(), code: res.StatusCode, msg: c.explain(res.StatusCode, scope, reply)}
}

// explain words a refusal: 401 and 403 say which token is missing (never the secret), others carry the pod's
// own message.
func (c *podClient) explain(code int, scope security.Scope, reply []byte) string {
	switch code {
	case http.StatusUnauthorized:
		if c.sec.token(scope) == "" {
			return fmt.Sprintf("refused (401): the pod requires a token; give --token-file with a token of scope %q", scope)
		}
		return "refused (401): the pod does not know the token sent (is --token-file the pods' file?)"
	case http.StatusForbidden:
		return fmt.Sprintf("refused (403): the token sent lacks the scope %q", scope)
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(reply, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%d %s: %s", code, http.StatusText(code), e.Error)
	}
	text := strings.TrimSpace(string(reply))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	if text == "" || text == "{}" {
		return fmt.Sprintf("%d %s", code, http.StatusText(code))
	}
	return fmt.Sprintf("%d %s: %s", code, http.StatusText(code), text)
}

// unwrapURL drops net/http's "Post <url>:" prefix: messages name the pod already.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.HasPrefix(err.Error(), "Post ") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// withTimeout bounds one request.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

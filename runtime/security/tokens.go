package security

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Scope is a set of rights a token grants (DESIGN §12). Scopes are independent: control does not imply read.
type Scope uint8

// The scopes of a token file.
const (
	ScopeRead    Scope = 1 << iota // /log
	ScopeControl                   // /control/*, /reset
	ScopeExec                      // /exec
)

var scopeNames = []struct {
	s    Scope
	name string
}{{ScopeRead, "read"}, {ScopeControl, "control"}, {ScopeExec, "exec"}}

// ParseScope reads one scope name.
func ParseScope(name string) (Scope, error) {
	for _, n := range scopeNames {
		if n.name == name {
			return n.s, nil
		}
	}
	return 0, fmt.Errorf("unknown scope %q (read, control, exec)", name)
}

// String lists the scopes, comma-separated.
func (s Scope) String() string {
	var names []string
	for _, n := range scopeNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// Token is one line of a token file. Its secret is unexported: fmt and slog print Token without it.
type Token struct {
	Name   string
	Scopes Scope
	secret string
	sum    [sha256.Size]byte // of the secret: what Lookup compares, in constant time
}

// Has tells whether the token grants every scope of s.
func (t Token) Has(s Scope) bool { return t.Scopes&s == s }

// Secret is the bearer secret, for the Authorization header of a client. Never log it.
func (t Token) Secret() string { return t.secret }

// String implements fmt.Stringer without the secret.
func (t Token) String() string { return fmt.Sprintf("token %s (%s)", t.Name, t.Scopes) }

// LogValue implements slog.LogValuer without the secret.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Tokens is a parsed token file. The zero value holds no token.
type Tokens struct{ list []Token }

// ParseTokens reads a token file: one token a line, `<secret> <name> <scope>[,<scope>...]`, fields separated
// by white space; `#` starts a comment, blank lines are skipped. Secrets and names are unique. Errors name
// the line, never its contents (it holds a secret).
func ParseTokens(data []byte) (*Tokens, error) {
	var t Tokens
	names, sums := map[string]bool{}, map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want <secret> <name> <scope>[,<scope>...], found %d fields", n, len(f))
		}
		tok := Token{secret: f[0], Name: f[1], sum: sha256.Sum256([]byte(f[0]))}
		for _, name := range strings.Split(f[2], ",") {
			s, err := ParseScope(name)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			tok.Scopes |= s
		}
		if len(tok.secret) < 16 {
			return nil, fmt.Errorf("line %d: secret of token %q is shorter than 16 characters", n, tok.Name)
		}
		if names[tok.Name] || sums[tok.sum] {
			return nil, fmt.Errorf("line %d: token %q: name or secret used twice", n, tok.Name)
		}
		names[tok.Name], sums[tok.sum] = true, true
		t.list = append(t.list, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.list) == 0 {
		return nil, errors.New("no token")
	}
	return &t, nil
}

// Lookup finds the token whose secret is secret. It compares digests of equal length with every token, in
// constant time, so how long it takes says nothing about the secrets.
func (t *Tokens) Lookup(secret string) (Token, bool) {
	if t == nil {
		return Token{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range t.list {
		if subtle.ConstantTimeCompare(sum[:], t.list[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, false
	}
	return t.list[found], true
}

// First is the first token of the file that grants s: the one the leader calls its pods with (DESIGN §12).
func (t *Tokens) First(s Scope) (Token, bool) {
	if t == nil {
		return Token{}, false
	}
	for _, tok := range t.list {
		if tok.Has(s) {
			return tok, true
		}
	}
	return Token{}, false
}

// Secrets lists every secret, for tests that check none leaked.
func (t *Tokens) Secrets() []string {
	out := make([]string, 0, len(t.list))
	for _, tok := range t.list {
		out = append(out, tok.secret)
	}
	return out
}

// TokenRecheck is how long a TokenFile trusts its last look at the file: a rotated token file is in force
// within this delay, and a request costs no system call.
const TokenRecheck = time.Second

// TokenFile is a token file kept current (see the package doc), looked at again at most every TokenRecheck.
// Safe for concurrent use.
type TokenFile struct{ w *watched[*Tokens] }

// OpenTokenFile reads path; it fails when the file cannot be read or is not valid. Later changes are picked
// up by Tokens; log receives the reloads and the failed ones.
func OpenTokenFile(path string, log *slog.Logger) (*TokenFile, error) {
	w, err := newWatched(path, "token file", ParseTokens, log)
	if err != nil {
		return nil, err
	}
	w.recheck = TokenRecheck
	return &TokenFile{w: w}, nil
}

// Tokens returns the file's tokens as they are now (never nil).
func (f *TokenFile) Tokens() *Tokens {
	t, err := f.w.current()
	if err != nil || t == nil {
		return &Tokens{}
	}
	return t
}

// Lookup is Tokens().Lookup.
func (f *TokenFile) Lookup(secret string) (Token, bool) { return f.Tokens().Lookup(secret) }

// First is Tokens().First.
func (f *TokenFile) First(s Scope) (Token, bool) { return f.Tokens().First(s) }

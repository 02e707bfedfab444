package security

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ZKCredentials are ZooKeeper digest credentials, `user:password` (DESIGN §12). fmt and slog print the user
// only.
type ZKCredentials struct {
	User     string
	password string
}

// AuthData is what ZooKeeper's "digest" scheme takes: `user:password`. Never log it.
func (c ZKCredentials) AuthData() []byte { return []byte(c.User + ":" + c.password) }

// Password is the password, for building the digest ACL. Never log it.
func (c ZKCredentials) Password() string { return c.password }

// String implements fmt.Stringer without the password.
func (c ZKCredentials) String() string { return "digest user " + c.User }

// LogValue implements slog.LogValuer without the password.
func (c ZKCredentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ParseZKCredentials reads `user:password` (surrounding white space and one trailing newline ignored; `#`
// comment lines skipped). Errors never quote the contents.
func ParseZKCredentials(data []byte) (ZKCredentials, error) {
	var line string
	for _, l := range strings.Split(string(bytes.TrimSpace(data)), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if line != "" {
			return ZKCredentials{}, errors.New("more than one user:password line")
		}
		line = l
	}
	user, pass, ok := strings.Cut(line, ":")
	switch {
	case !ok || user == "" || pass == "":
		return ZKCredentials{}, errors.New("want one line user:password, both non-empty")
	case strings.ContainsAny(user, " \t"):
		return ZKCredentials{}, errors.New("the user holds white space")
	}
	return ZKCredentials{User: user, password: pass}, nil
}

// ZKCredentialsFile is a --zk-auth-file kept current (see the package doc). Safe for concurrent use.
type ZKCredentialsFile struct{ w *watched[ZKCredentials] }

// OpenZKCredentials reads path; it fails when the file cannot be read or is not valid.
func OpenZKCredentials(path string, log *slog.Logger) (*ZKCredentialsFile, error) {
	w, err := newWatched(path, "ZooKeeper credentials file", ParseZKCredentials, log)
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	return &ZKCredentialsFile{w: w}, nil
}

// Current returns the credentials as the file holds them now (the last good ones if it became invalid).
func (f *ZKCredentialsFile) Current() (ZKCredentials, error) { return f.w.current() }

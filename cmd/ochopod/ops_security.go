package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ochopod/ochopod/runtime/zk"
)

// opsSecurity is the client side of DESIGN §12 for the operator verbs: the token sent to pods, the CA their
// certificates are checked against, the client certificate for mutual TLS, and ZooKeeper's digest.
type opsSecurity struct {
	tokenFile  string
	zkAuthFile string
	tlsCA      string
	tlsCert    string
	tlsKey     string

	tokens []opsToken  // from tokenFile, in file order
	tls    *tls.Config // nil: plain HTTP unless a pod registers https
	zkAuth []byte      // user:password, nil without a file
}

// opsToken is one line of a token file: `<secret> <name> <scope>[,<scope>...]`.
type opsToken struct {
	secret, name string
	scopes       []string
}

func (s *opsSecurity) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.tokenFile, "token-file", "", "token file (`<secret> <name> <scopes>` a line): the first token with the scope a verb needs is sent to pods (env ochopod_token_file)")
	fs.StringVar(&s.zkAuthFile, "zk-auth-file", "", "file holding user:password: ZooKeeper digest auth (env ochopod_zk_auth_file)")
	fs.StringVar(&s.tlsCA, "tls-ca", "", "CA to verify the pods' certificates with (env ochopod_tls_ca)")
	fs.StringVar(&s.tlsCert, "tls-cert", "", "client certificate for pods that require one (env ochopod_tls_cert)")
	fs.StringVar(&s.tlsKey, "tls-key", "", "key of --tls-cert (env ochopod_tls_key)")
}

func (s *opsSecurity) envFallbacks() map[string]string {
	return map[string]string{
		"token-file":   "ochopod_token_file",
		"zk-auth-file": "ochopod_zk_auth_file",
		"tls-ca":       "ochopod_tls_ca",
		"tls-cert":     "ochopod_tls_cert",
		"tls-key":      "ochopod_tls_key",
	}
}

// load reads the files the flags name. Their contents never reach an error message or a log line.
func (s *opsSecurity) load() error {
	if s.tokenFile != "" {
		data, err := os.ReadFile(s.tokenFile)
		if err != nil {
			return usagef("--token-file: %v", err)
		}
		if s.tokens, err = parseTokens(data); err != nil {
			return usagef("--token-file %s: %v", s.tokenFile, err)
		}
	}
	if s.zkAuthFile != "" {
		data, err := os.ReadFile(s.zkAuthFile)
		if err != nil {
			return usagef("--zk-auth-file: %v", err)
		}
		auth := bytes.TrimSpace(data)
		if user, pass, ok := bytes.Cut(auth, []byte(":")); !ok || len(user) == 0 || len(pass) == 0 {
			return usagef("--zk-auth-file %s: want one line user:password", s.zkAuthFile)
		}
		s.zkAuth = auth
	}
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if s.tlsCA == "" && s.tlsCert == "" {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.tlsCA != "" {
		pem, err := os.ReadFile(s.tlsCA)
		if err != nil {
			return usagef("--tls-ca: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return usagef("--tls-ca %s: no PEM certificate in it", s.tlsCA)
		}
	}
	if s.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey)
		if err != nil {
			return usagef("--tls-cert/--tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	s.tls = cfg
	return nil
}

// parseTokens reads a token file (DESIGN §12); `#` starts a comment.
func parseTokens(data []byte) ([]opsToken, error) {
	var out []opsToken
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want <secret> <name> <scope>[,<scope>...]", n)
		}
		out = append(out, opsToken{secret: f[0], name: f[1], scopes: strings.Split(f[2], ",")})
	}
	return out, sc.Err()
}

// token is the secret of the first token with scope, "" when there is none.
func (s *opsSecurity) token(scope string) string {
	for _, t := range s.tokens {
		if slices.Contains(t.scopes, scope) {
			return t.secret
		}
	}
	return ""
}

// dialZK opens the ZooKeeper session.
func (s *opsSecurity) dialZK(ctx context.Context, ens zk.Ensemble, timeout time.Duration) (zk.Conn, error) {
	if s.zkAuth != nil {
		return nil, usagef("--zk-auth-file is not supported yet")
	}
	return plainDial(ctx, ens, timeout)
}

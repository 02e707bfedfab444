package main

import (
	"context"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

// opsSecurity is the client side of DESIGN §12 for the operator verbs, read through runtime/security: the
// token sent to pods, the CA their certificates are verified with, the client certificate for mutual TLS,
// and the ZooKeeper settings `run` has (digest, private nodes, TLS), with the same environment fallbacks.
type opsSecurity struct {
	tokenFile string
	tlsCA     string
	tlsCert   string
	tlsKey    string
	zk        securitySettings // its --zk-* settings only

	tokens *security.TokenFile // nil without --token-file
	tls    *security.ClientTLS // nil: plain HTTP unless a pod registers https
	zkSec  *secured            // the ZooKeeper credentials and TLS, opened
}

func (s *opsSecurity) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.tokenFile, "token-file", "", "token file (<secret> <name> <scopes> a line): the first token with the scope a verb needs is sent to pods (env ochopod_token_file)")
	fs.StringVar(&s.tlsCA, "tls-ca", "", "CA to verify the pods' certificates with: HTTPS (env ochopod_tls_ca)")
	fs.StringVar(&s.tlsCert, "tls-cert", "", "client certificate for pods that require one (mutual TLS) (env ochopod_tls_cert)")
	fs.StringVar(&s.tlsKey, "tls-key", "", "key of --tls-cert (env ochopod_tls_key)")
	s.zk.registerZK(fs)
}

// load opens the files the flags name. Their contents never reach an error message or a log line.
func (s *opsSecurity) load() error {
	var err error
	if s.tokenFile != "" {
		if s.tokens, err = security.OpenTokenFile(s.tokenFile, nil); err != nil {
			return usagef("--token-file: %v", err)
		}
	}
	if s.zkSec, err = s.zk.open(nil); err != nil {
		return err
	}
	if s.tlsCA != "" || s.tlsCert != "" || s.tlsKey != "" {
		if s.tls, err = security.NewClientTLS(security.TLSFiles{CA: s.tlsCA, Cert: s.tlsCert, Key: s.tlsKey}, nil); err != nil {
			return usagef("--tls-ca/--tls-cert/--tls-key: %v", err)
		}
	}
	return nil
}

// token is the secret of the first token with scope; failing that the file's first token, so that the pod
// answers 403 (the scope is missing) rather than 401; "" without a token file.
func (s *opsSecurity) token(scope security.Scope) string {
	if s.tokens == nil {
		return ""
	}
	tok, ok := s.tokens.First(scope)
	if !ok {
		tok, ok = s.tokens.First(0) // every token has the empty set of scopes
	}
	if !ok {
		return ""
	}
	return tok.Secret()
}

// transport makes the HTTPS connections verify the pod against --tls-ca (and present --tls-cert).
func (s *opsSecurity) transport(t *http.Transport) {
	if s.tls != nil {
		t.DialTLSContext = s.tls.DialContext
	}
}

// dialZK opens the ZooKeeper session with the digest and TLS of the settings; a node the CLI creates (the
// paused node) gets the same ACL as the pods' nodes.
func (s *opsSecurity) dialZK(ctx context.Context, ens zk.Ensemble, timeout time.Duration) (zk.Conn, error) {
	return gozk.ConnectWith(ctx, s.zkSec.dialer(nil), ens, timeout)
}

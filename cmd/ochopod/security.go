package main

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

// securitySettings are the settings of DESIGN §12, shared by `run` and `pods`. Each has the environment
// variable ochopod_<flag with underscores> as its fallback.
type securitySettings struct {
	tokenFile   string
	tlsCert     string
	tlsKey      string
	tlsCA       string
	tlsClientCA string

	zkAuthFile string
	zkPrivate  bool
	zkTLSCA    string
	zkTLSCert  string
	zkTLSKey   string
}

// registerZK adds the ZooKeeper settings (every command that talks to ZooKeeper has them).
func (s *securitySettings) registerZK(fs *pflag.FlagSet) {
	fs.StringVar(&s.zkAuthFile, "zk-auth-file", "", "file holding user:password: ZooKeeper digest auth, and the ACL of every node created (env ochopod_zk_auth_file)")
	fs.BoolVar(&s.zkPrivate, "zk-private", false, "with --zk-auth-file: nodes are not world-readable (env ochopod_zk_private)")
	fs.StringVar(&s.zkTLSCA, "zk-tls-ca", "", "connect to ZooKeeper's secure client port, verifying the servers against this CA (env ochopod_zk_tls_ca)")
	fs.StringVar(&s.zkTLSCert, "zk-tls-cert", "", "client certificate for ZooKeeper TLS (env ochopod_zk_tls_cert)")
	fs.StringVar(&s.zkTLSKey, "zk-tls-key", "", "key of --zk-tls-cert (env ochopod_zk_tls_key)")
}

// registerControl adds the control port's settings (`run`).
func (s *securitySettings) registerControl(fs *pflag.FlagSet) {
	fs.StringVar(&s.tokenFile, "token-file", "", "control API tokens, one a line: <secret> <name> <scope>[,<scope>...] (read, control, exec) (env ochopod_token_file)")
	fs.StringVar(&s.tlsCert, "tls-cert", "", "serve the control API over HTTPS with this certificate (env ochopod_tls_cert)")
	fs.StringVar(&s.tlsKey, "tls-key", "", "key of --tls-cert (env ochopod_tls_key)")
	fs.StringVar(&s.tlsCA, "tls-ca", "", "CA the leader verifies HTTPS pods with (env ochopod_tls_ca)")
	fs.StringVar(&s.tlsClientCA, "tls-client-ca", "", "require client certificates signed by this CA: mutual TLS (env ochopod_tls_client_ca)")
}

// applySecurityEnv fills each security flag of fs the command line left unset from its variable.
func applySecurityEnv(cmd *cobra.Command, env map[string]string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || cmd.Flags().Changed(f.Name) || !isSecurityFlag(f.Name) {
			return
		}
		key := "ochopod_" + strings.ReplaceAll(f.Name, "-", "_")
		if v, ok := env[key]; ok {
			if e := cmd.Flags().Set(f.Name, v); e != nil {
				err = usagef("%s: %v", key, e)
			}
		}
	})
	return err
}

func isSecurityFlag(name string) bool {
	return name == "token-file" || strings.HasPrefix(name, "tls-") || strings.HasPrefix(name, "zk-")
}

// secured is what the settings opened: each field nil when its setting is off.
type secured struct {
	tokens    *security.TokenFile
	serverTLS *tls.Config
	clientTLS *security.ClientTLS
	zkCreds   *security.ZKCredentialsFile
	zkPrivate bool
	zkTLS     *security.ClientTLS
}

// open reads every file the settings name; a missing or invalid one is a usage error (exit 2).
func (s *securitySettings) open(log *slog.Logger) (*secured, error) {
	var sec secured
	var err error
	if s.zkPrivate && s.zkAuthFile == "" {
		return nil, usagef("--zk-private needs --zk-auth-file")
	}
	if s.zkAuthFile != "" {
		if sec.zkCreds, err = security.OpenZKCredentials(s.zkAuthFile, log); err != nil {
			return nil, usagef("--zk-auth-file: %v", err)
		}
		sec.zkPrivate = s.zkPrivate
	}
	if s.zkTLSCA != "" || s.zkTLSCert != "" || s.zkTLSKey != "" {
		if sec.zkTLS, err = security.NewClientTLS(security.TLSFiles{CA: s.zkTLSCA, Cert: s.zkTLSCert, Key: s.zkTLSKey}, log); err != nil {
			return nil, usagef("--zk-tls-*: %v", err)
		}
	}
	if s.tokenFile != "" {
		if sec.tokens, err = security.OpenTokenFile(s.tokenFile, log); err != nil {
			return nil, usagef("--token-file: %v", err)
		}
		if _, ok := sec.tokens.First(security.ScopeControl); !ok && log != nil {
			log.Warn("the token file has no control token: as leader, this pod cannot configure pods that require tokens", "path", s.tokenFile)
		}
	}
	if s.tlsCert != "" || s.tlsKey != "" || s.tlsClientCA != "" {
		if sec.serverTLS, err = security.ServerTLS(security.TLSFiles{Cert: s.tlsCert, Key: s.tlsKey, ClientCA: s.tlsClientCA}, log); err != nil {
			return nil, usagef("--tls-cert/--tls-key/--tls-client-ca: %v", err)
		}
	}
	if sec.serverTLS != nil && s.tlsCA == "" {
		return nil, usagef("--tls-cert needs --tls-ca: any pod may lead, and the leader verifies its pods with it")
	}
	if s.tlsCA != "" {
		// With mutual TLS the leader presents its own certificate to its pods (DESIGN §12).
		files := security.TLSFiles{CA: s.tlsCA}
		if s.tlsClientCA != "" {
			files.Cert, files.Key = s.tlsCert, s.tlsKey
		}
		if sec.clientTLS, err = security.NewClientTLS(files, log); err != nil {
			return nil, usagef("--tls-ca: %v", err)
		}
	}
	return &sec, nil
}

// warnOpen logs one WARN at start naming what is open (DESIGN §12), nothing when everything is protected.
func (sec *secured) warnOpen(log *slog.Logger) {
	var open []string
	if sec.tokens == nil {
		open = append(open, "control API without tokens (anyone reaching the port can kill, reset, exec: --token-file)")
	}
	if sec.serverTLS == nil {
		open = append(open, "control API in clear text (--tls-cert, --tls-key)")
	}
	if sec.zkCreds == nil {
		open = append(open, "ZooKeeper nodes writable by anyone (--zk-auth-file)")
	}
	if sec.zkTLS == nil {
		open = append(open, "ZooKeeper traffic in clear text (--zk-tls-ca)")
	}
	if len(open) > 0 {
		log.Warn("security: open: "+strings.Join(open, "; ")+" (see docs/SECURITY.md)", "open", len(open))
	}
}

// dialer is the ZooKeeper dialer with the credentials, ACL and TLS of the settings; guarded are the nodes
// whose ACL the first session checks.
func (sec *secured) dialer(log *slog.Logger, guarded ...string) *gozk.Dialer {
	d := gozk.New(log)
	if sec.zkCreds != nil {
		d.Credentials, d.Private, d.Guarded = sec.zkCreds, sec.zkPrivate, guarded
	}
	d.TLS = sec.zkTLS
	return d
}

// handler puts the control API behind the token file, when there is one.
func (sec *secured) handler(h http.Handler, log *slog.Logger) http.Handler {
	if sec.tokens == nil {
		return h
	}
	return control.RequireTokens(h, sec.tokens, log)
}

// caller is the leader's control client, secured as the settings say; count is told of every connection it
// opens (DESIGN §13: ochopod_control_client_connections_total).
func (sec *secured) caller(count func(control.ConnKind)) control.HTTPCaller {
	c := control.NewHTTPCaller()
	if sec.tokens != nil || sec.clientTLS != nil {
		cs := control.ClientSecurity{TLS: sec.clientTLS}
		if sec.tokens != nil {
			cs.Token = control.LeaderToken(sec.tokens)
		}
		c = control.NewSecureHTTPCaller(cs)
	}
	c.CountConns(count)
	return c
}

// guardedNodes are the nodes of the cluster a pod of it checks the ACL of (the persistent ones it shares,
// the custom actors' actors/ among them once a leader-scope actor wrote there, DESIGN §3).
func guardedNodes(c zk.Cluster) []string {
	return []string{"/ochopod", zk.Root, c.Path(), c.Pods(), c.Coordinator(), c.Hash(), c.Path() + "/actors"}
}

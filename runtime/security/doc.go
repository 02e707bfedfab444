// Package security reads the settings of DESIGN §12 from their files and keeps them current: control API
// tokens (--token-file), ZooKeeper digest credentials (--zk-auth-file) and TLS configurations for the control
// port and ZooKeeper (--tls-*, --zk-tls-*). `ochopod run` and the operator CLI share it.
//
// Rotation without restart (DESIGN §12): every file is watched by its reader on use. A reader stats its file
// when it is asked (one system call, no goroutine, no timer; a token file at most once a second, as it is
// asked at every request) and parses it again only when the file's identity, size or modification time
// changed; a Kubernetes Secret volume, which swaps a symlink, is followed too. A file that changed into
// something unreadable or invalid keeps the last good contents in force and is reported once (WARN) per
// change; it is never a reason to open up.
//
// TLS sessions (DESIGN §12): a ClientTLS keeps the TLS 1.3 session of each server address it met, so meeting
// a server again (a leader's connection closed by the pod's idle timeout, say) resumes: no certificate signed
// or checked again, one key exchange still. A resumption proves nothing less: the client checks the session's
// chain against its CA of now (a new CA file drops every session), and a server's ticket key changes with its
// certificate, key or client CA (and daily), crypto/tls checking a resumed client certificate against the
// client CA of now.
//
// Secrets never leave this package in a printable form: Token and ZKCredentials print (fmt, slog) without
// their secret, and parse errors name a line, never its contents.
//
// The API in brief:
//
//	tokens, err := security.OpenTokenFile(path, log)   // --token-file
//	tok, ok := tokens.Lookup(bearer)                    // constant-time; tok.Name, tok.Has(security.ScopeControl)
//	tok, ok := tokens.First(security.ScopeControl)      // what the leader sends: tok.Secret()
//
//	creds, err := security.OpenZKCredentials(path, log) // --zk-auth-file
//	c, err := creds.Current()                           // c.User, c.AuthData() for ZooKeeper's "digest" scheme
//
//	srv, err := security.ServerTLS(security.TLSFiles{Cert: c, Key: k, ClientCA: ca}, log) // control port
//	cli, err := security.NewClientTLS(security.TLSFiles{CA: ca, Cert: c, Key: k}, log)    // leader, CLI, ZooKeeper
//	conn, err := cli.DialContext(ctx, "tcp", "10.0.0.7:8080")                            // or cli.Config(host)
package security

package security

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/testkit/certs"
)

const (
	secretA = "aaaaaaaaaaaaaaaaaaaa-control"
	secretB = "bbbbbbbbbbbbbbbbbbbb-read"
)

func TestSecurity_ParseTokens(t *testing.T) {
	for _, tc := range []struct {
		name, file, err string
		want            []string // "name scopes"
	}{
		{name: "two tokens and comments", file: "# ops\n" + secretA + " leader control,exec\n\n  " + secretB + "\tviewer read # ro\n",
			want: []string{"leader control,exec", "viewer read"}},
		{name: "unknown scope", file: secretA + " x admin\n", err: "line 1: unknown scope \"admin\""},
		{name: "missing scope", file: "# c\n" + secretA + " x\n", err: "line 2: want <secret> <name> <scope>"},
		{name: "short secret", file: "tiny-secret x read\n", err: "shorter than 16"},
		{name: "name twice", file: secretA + " x read\n" + secretB + " x read\n", err: "used twice"},
		{name: "secret twice", file: secretA + " x read\n" + secretA + " y read\n", err: "used twice"},
		{name: "empty", file: "# nothing\n", err: "no token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTokens([]byte(tc.file))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				for _, s := range []string{secretA, secretB, "tiny-secret"} {
					if strings.Contains(err.Error(), s) {
						t.Fatalf("the error quotes a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tok := range got.list {
				names = append(names, tok.Name+" "+tok.Scopes.String())
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Fatalf("tokens = %v, want %v", names, tc.want)
			}
		})
	}
}

func TestSecurity_LookupAndFirst(t *testing.T) {
	toks, err := ParseTokens([]byte(secretB + " viewer read\n" + secretA + " leader control,read\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := toks.Lookup(secretA); !ok || tok.Name != "leader" || !tok.Has(ScopeControl) || tok.Has(ScopeExec) {
		t.Fatalf("Lookup(A) = %v %v", tok, ok)
	}
	if tok, ok := toks.Lookup(secretB); !ok || tok.Has(ScopeControl) || !tok.Has(ScopeRead) {
		t.Fatalf("Lookup(B) = %v %v", tok, ok)
	}
	for _, bad := range []string{"", secretA[:len(secretA)-1], secretA + "x", strings.ToUpper(secretA)} {
		if _, ok := toks.Lookup(bad); ok {
			t.Fatalf("Lookup(%q) found a token", bad)
		}
	}
	if tok, ok := toks.First(ScopeControl); !ok || tok.Secret() != secretA {
		t.Fatalf("First(control) = %v", tok)
	}
	if _, ok := toks.First(ScopeExec); ok {
		t.Fatal("First(exec) found a token")
	}
	var nilTokens *Tokens
	if _, ok := nilTokens.Lookup(secretA); ok {
		t.Fatal("a nil Tokens found a token")
	}
}

func TestSecurity_SecretsNeverPrinted(t *testing.T) {
	toks, _ := ParseTokens([]byte(secretA + " leader control\n"))
	tok, _ := toks.First(ScopeControl)
	creds, err := ParseZKCredentials([]byte("ochopod:zk-password-123\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "token", tok, "creds", creds)
	log.Info(fmt.Sprintf("%v %+v %s %v %+v", tok, tok, creds, creds, []any{tok, creds}))
	for _, s := range []string{secretA, "zk-password-123"} {
		if strings.Contains(buf.String(), s) {
			t.Fatalf("a secret was printed: %s", buf.String())
		}
	}
	if !strings.Contains(buf.String(), "leader") || !strings.Contains(buf.String(), "ochopod") {
		t.Fatalf("names missing: %s", buf.String())
	}
}

func TestSecurity_ParseZKCredentials(t *testing.T) {
	for _, tc := range []struct{ file, user, err string }{
		{file: "ochopod:s3cret\n", user: "ochopod"},
		{file: "# rotated\n  ochopod:pa:ss  \n", user: "ochopod"},
		{file: "ochopod\n", err: "want one line"},
		{file: ":pw", err: "want one line"},
		{file: "a:b\nc:d\n", err: "more than one"},
		{file: "a b:c", err: "white space"},
	} {
		c, err := ParseZKCredentials([]byte(tc.file))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("%q: err = %v, want %q", tc.file, err, tc.err)
			}
			continue
		}
		if err != nil || c.User != tc.user {
			t.Fatalf("%q: %v %v", tc.file, c, err)
		}
	}
	c, _ := ParseZKCredentials([]byte("u:pa:ss"))
	if string(c.AuthData()) != "u:pa:ss" || c.Password() != "pa:ss" {
		t.Fatalf("AuthData = %q", c.AuthData())
	}
}

// A changed file is read again at the next use; a broken one keeps the last good contents and says so once.
func TestSecurity_TokenFileReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	write := func(s string) {
		t.Helper()
		if err := certs.WriteAtomic(path, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenTokenFile(path, nil); err == nil {
		t.Fatal("a missing token file opened")
	}
	write(secretA + " leader control\n")
	var logs bytes.Buffer
	f, err := OpenTokenFile(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if f.w.recheck != TokenRecheck {
		t.Fatalf("recheck = %v", f.w.recheck)
	}
	f.w.recheck = 0 // every use looks at the file: no waiting in a unit test
	if _, ok := f.Lookup(secretA); !ok {
		t.Fatal("A not found")
	}
	write(secretB + " viewer read\n")
	if _, ok := f.Lookup(secretA); ok {
		t.Fatal("A still valid after the rotation")
	}
	if tok, ok := f.Lookup(secretB); !ok || tok.Name != "viewer" {
		t.Fatal("B not found after the rotation")
	}
	write("garbage\n")
	for range 3 {
		if _, ok := f.Lookup(secretB); !ok {
			t.Fatal("a broken file dropped the last good tokens")
		}
	}
	if n := strings.Count(logs.String(), "cannot reload token file"); n != 1 {
		t.Fatalf("%d warnings about the broken file, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "garbage") || strings.Contains(logs.String(), secretB) {
		t.Fatalf("the log quotes the file: %s", logs.String())
	}
}

// tlsPair serves one handshake with srv and dials it with cli; it returns the client's error.
func tlsPair(t *testing.T, srv *tls.Config, cli *ClientTLS) error {
	t.Helper()
	_, err := tlsMeet(t, srv, cli)
	return err
}

// tlsMeet is tlsPair that also returns the client's connection state.
func tlsMeet(t *testing.T, srv *tls.Config, cli *ClientTLS) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte("ok"))
		}
		done <- err
	}()
	var cs tls.ConnectionState
	c, err := cli.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err == nil {
		_, err = io.ReadFull(c, make([]byte, 2)) // reads the session ticket too
		cs = c.(*tls.Conn).ConnectionState()
		c.Close()
	}
	<-done
	return cs, err
}

// instantRecheck makes every use of a TLS file look at it, for the length of the test.
func instantRecheck(t *testing.T) {
	old := FileRecheck
	FileRecheck = 0
	t.Cleanup(func() { FileRecheck = old })
}

func TestSecurity_TLSVerifiesAndRotates(t *testing.T) {
	instantRecheck(t)
	dir := t.TempDir()
	ca, err := certs.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	srvPair, _ := ca.Issue("127.0.0.1")
	srvFiles, err := ca.WriteFiles(dir, "srv-", srvPair)
	if err != nil {
		t.Fatal(err)
	}
	cliPair, _ := ca.Issue("leader")
	cliFiles, _ := ca.WriteFiles(dir, "cli-", cliPair)

	srv, err := ServerTLS(TLSFiles{Cert: srvFiles.Cert, Key: srvFiles.Key, ClientCA: srvFiles.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClientTLS(TLSFiles{CA: cliFiles.CA, Cert: cliFiles.Cert, Key: cliFiles.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlsPair(t, srv, cli); err != nil {
		t.Fatalf("mutual TLS failed: %v", err)
	}
	anon, _ := NewClientTLS(TLSFiles{CA: cliFiles.CA}, nil)
	if err := tlsPair(t, srv, anon); err == nil {
		t.Fatal("a client without a certificate got through mutual TLS")
	}

	// Another CA's server: refused by the client until the client's CA file is rotated to that CA.
	other, _ := certs.NewCA("other CA")
	otherPair, _ := other.Issue("127.0.0.1")
	otherDir := t.TempDir()
	otherFiles, _ := other.WriteFiles(otherDir, "", otherPair)
	otherSrv, _ := ServerTLS(TLSFiles{Cert: otherFiles.Cert, Key: otherFiles.Key}, nil)
	noMTLS, _ := NewClientTLS(TLSFiles{CA: cliFiles.CA}, nil)
	if err := tlsPair(t, otherSrv, noMTLS); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("a server of another CA: err = %v", err)
	}
	if err := certs.WriteAtomic(cliFiles.CA, other.CertPEM); err != nil {
		t.Fatal(err)
	}
	if err := tlsPair(t, otherSrv, noMTLS); err != nil {
		t.Fatalf("after the CA rotation: %v", err)
	}

	// The server's certificate rotated to one of the other CA: served at the next handshake.
	rotated, _ := other.Issue("127.0.0.1")
	if _, err := other.WriteFiles(dir, "srv-", rotated); err != nil {
		t.Fatal(err)
	}
	srvNoMTLS, _ := ServerTLS(TLSFiles{Cert: srvFiles.Cert, Key: srvFiles.Key}, nil)
	if err := tlsPair(t, srvNoMTLS, noMTLS); err != nil {
		t.Fatalf("rotated server certificate: %v", err)
	}

	// A name the certificate does not hold is refused.
	wrongName, _ := other.Issue("10.9.9.9")
	wf, _ := other.WriteFiles(t.TempDir(), "", wrongName)
	wrongSrv, _ := ServerTLS(TLSFiles{Cert: wf.Cert, Key: wf.Key}, nil)
	if err := tlsPair(t, wrongSrv, noMTLS); err == nil {
		t.Fatal("a certificate for another address was accepted")
	}
}

func TestSecurity_TLSBadSettings(t *testing.T) {
	if _, err := ServerTLS(TLSFiles{Cert: "x"}, nil); err == nil {
		t.Fatal("a server without a key")
	}
	if _, err := NewClientTLS(TLSFiles{}, nil); err == nil {
		t.Fatal("a client without a CA")
	}
	if _, err := NewClientTLS(TLSFiles{CA: "/nonexistent", Cert: "c"}, nil); err == nil {
		t.Fatal("a client certificate without a key")
	}
	dir := t.TempDir()
	if err := certs.WriteAtomic(filepath.Join(dir, "ca"), []byte("not PEM")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClientTLS(TLSFiles{CA: filepath.Join(dir, "ca")}, nil); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Fatalf("a CA file without PEM: %v", err)
	}
}

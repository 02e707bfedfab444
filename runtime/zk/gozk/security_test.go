package gozk_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gozklib "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/certs"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// openWith dials with d and waits for the session; cleanup closes it and drains its events.
func openWith(t *testing.T, d *gozk.Dialer, servers ...string) *session {
	t.Helper()
	c, events, err := d.Dial(zk.Ensemble{Servers: servers}, timeout)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{Conn: c, t: t, events: events}
	t.Cleanup(func() { c.Close(); s.rest() })
	s.await(zk.StateConnected)
	return s
}

func credsFile(t *testing.T, userPass string) *security.ZKCredentialsFile {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zk-auth")
	if err := os.WriteFile(path, []byte(userPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := security.OpenZKCredentials(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// syncBuffer is a log sink safe for the adapter's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// DESIGN §12: with credentials every node the Conn creates (persistent, ephemeral, sequential, in a Multi)
// carries digest all + world read: a client without the digest reads but gets NoAuth on set and delete; with
// Private it cannot read either. The session is authenticated before Connected and again after a reconnect.
func TestIntegration_DigestACLOnEveryNode(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	px := newProxy(t, srv.Addr())
	creds := credsFile(t, "ochopod:s3cret-zk-password")
	for _, private := range []bool{false, true} {
		root := "/open"
		if private {
			root = "/private"
		}
		d := gozk.New(testLogger(t))
		d.Credentials, d.Private = creds, private
		owner := openWith(t, d, px.Addr())
		mustCreate(t, owner, root, "", zk.Persistent)
		mustCreate(t, owner, root+"/eph", "x", zk.Ephemeral)
		seq := mustCreate(t, owner, root+"/seq-", "x", zk.EphemeralSequential)
		_, err := owner.Multi(zk.CreateOp{Path: root + "/multi", Data: []byte("x"), Mode: zk.Persistent})
		must(t, "multi", err)

		// A reconnection: the library resends the credentials before anything else.
		px.Cut()
		owner.await(zk.StateDisconnected)
		owner.await(zk.StateConnected)
		mustCreate(t, owner, root+"/after-reconnect", "x", zk.Persistent)
		_, err = owner.Set(root+"/multi", []byte("y"), zk.AnyVersion)
		must(t, "set by the owner after a reconnect", err)

		stranger := dial(t, []string{srv.Addr()}, "", timeout)
		for _, p := range []string{root, root + "/eph", seq, root + "/multi", root + "/after-reconnect"} {
			_, err := stranger.Set(p, []byte("forged"), zk.AnyVersion)
			wantErr(t, "set "+p+" without the digest", err, gozklib.ErrNoAuth)
			err = stranger.Delete(p, zk.AnyVersion)
			if p == root {
				wantErr(t, "delete "+p+" without the digest", err, zk.ErrNotEmpty)
			} else {
				wantErr(t, "delete "+p+" without the digest", err, gozklib.ErrNoAuth)
			}
			_, _, err = stranger.Get(p)
			if private {
				wantErr(t, "get "+p+" without the digest", err, gozklib.ErrNoAuth)
			} else {
				must(t, "get "+p+" without the digest", err)
			}
		}
		_, err = stranger.Create(root+"/planted", nil, zk.Ephemeral)
		wantErr(t, "a node planted without the digest", err, gozklib.ErrNoAuth)
	}
}

// A pod with credentials on a tree made without them works, and says what it found (one WARN a node).
func TestIntegration_GuardedNodesMadeWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv := zkserver.Start(t)
	plain := dial(t, []string{srv.Addr()}, "", timeout)
	mustCreate(t, plain, "/old", "", zk.Persistent)
	var logs syncBuffer
	d := gozk.New(slog.New(slog.NewTextHandler(&logs, nil)))
	d.Credentials, d.Guarded = credsFile(t, "ochopod:pw-0123456789"), []string{"/old", "/missing"}
	s := openWith(t, d, srv.Addr())
	mustCreate(t, s, "/old/new", "", zk.Persistent)
	deadline := time.Now().Add(wait)
	for !strings.Contains(logs.String(), "created without credentials") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the check runs right after Connected, off the caller
	}
	if n := strings.Count(logs.String(), "created without credentials"); n != 1 || !strings.Contains(logs.String(), "paths=[/old]") {
		t.Fatalf("want one WARN naming /old:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "pw-0123456789") {
		t.Fatalf("the password is in the log:\n%s", logs.String())
	}
}

// DESIGN §12: the Conn speaks TLS to ZooKeeper's secure client port (Netty, PEM stores), verifying the server
// against the CA; a client that trusts another CA never gets a session.
func TestIntegration_TLSToZooKeeper(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := certs.NewCA("zk CA")
	must(t, "CA", err)
	pair, err := ca.Issue("127.0.0.1")
	must(t, "issue", err)
	keyStore, trustStore := filepath.Join(dir, "keystore.pem"), filepath.Join(dir, "truststore.pem")
	must(t, "key store", os.WriteFile(keyStore, append(append([]byte{}, pair.KeyPEM...), pair.CertPEM...), 0o600))
	must(t, "trust store", os.WriteFile(trustStore, ca.CertPEM, 0o600))
	port, err := zkserver.FreePort()
	must(t, "port", err)
	srv := zkserver.Start(t, zkserver.WithTLS(zkserver.TLS{Port: port, KeyStore: keyStore, TrustStore: trustStore}))
	secure := "127.0.0.1:" + strconv.Itoa(port)

	files, err := ca.WriteFiles(dir, "client-", pair)
	must(t, "files", err)
	cli, err := security.NewClientTLS(security.TLSFiles{CA: files.CA}, nil)
	must(t, "client TLS", err)
	d := gozk.New(testLogger(t))
	d.TLS = cli
	s := openWith(t, d, secure)
	mustCreate(t, s, "/over-tls", "x", zk.Persistent)
	if ok, _, err := dial(t, []string{srv.Addr()}, "", timeout).Exists("/over-tls"); !ok || err != nil {
		t.Fatalf("the node made over TLS: %v %v", ok, err)
	}

	other, _ := certs.NewCA("other CA")
	otherDir := t.TempDir()
	otherPair, _ := other.Issue("x")
	of, _ := other.WriteFiles(otherDir, "", otherPair)
	wrong, err := security.NewClientTLS(security.TLSFiles{CA: of.CA}, nil)
	must(t, "wrong client TLS", err)
	d2 := gozk.New(testLogger(t))
	d2.TLS, d2.ConnectTimeout = wrong, 2*time.Second
	c, events, err := d2.Dial(zk.Ensemble{Servers: []string{secure}}, timeout)
	must(t, "dial", err)
	s2 := &session{Conn: c, t: t, events: events}
	if ev, _ := s2.next(); ev.State != zk.StateConnecting {
		t.Fatalf("first event %v", ev.State)
	}
	_, _, err = c.Exists("/over-tls") // fails once every server was tried: the handshake never succeeds
	if err == nil {
		t.Fatal("a client that trusts another CA got an answer")
	}
	c.Close()
	for _, ev := range s2.rest() {
		if ev.State == zk.StateConnected {
			t.Fatal("a client that trusts another CA got a session")
		}
	}
}

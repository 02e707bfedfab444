package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gozklib "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/certs"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// The secrets of the secured tests: each must never show up anywhere but in its file (DESIGN §12).
const (
	secControl = "ctl-secret-7f3a9c1e5b2d4f60"
	secRead    = "read-secret-0c8e2a4b6d1f3e57"
	secExec    = "exec-secret-9d7b5f3a1c2e4d68"
	secZKPass  = "zk-password-4e6a8c0b2d9f1735"
)

// secFiles are the files of a secured deployment, in a private directory.
type secFiles struct {
	dir              string
	tokens, zkAuth   string
	ca, cert, key    string // the pods' (and the test client's) CA, certificate for 127.0.0.1, key
	keyStore, trusts string // ZooKeeper's PEM stores, for its secure client port
	secrets          []string
}

func newSecFiles(t testing.TB) secFiles {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.NewCA("ochopod test CA")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := ca.WriteFiles(dir, "", pair)
	if err != nil {
		t.Fatal(err)
	}
	f := secFiles{dir: dir, ca: tf.CA, cert: tf.Cert, key: tf.Key,
		tokens: filepath.Join(dir, "tokens"), zkAuth: filepath.Join(dir, "zk-auth"),
		keyStore: filepath.Join(dir, "zk-keystore.pem"), trusts: filepath.Join(dir, "zk-truststore.pem"),
		secrets: []string{secControl, secRead, secExec, secZKPass, string(pair.KeyPEM)},
	}
	for p, data := range map[string]string{
		f.tokens:   "# test tokens\n" + secRead + " viewer read\n" + secControl + " leader control,read\n" + secExec + " ops exec\n",
		f.zkAuth:   "ochopod:" + secZKPass + "\n",
		f.keyStore: string(pair.KeyPEM) + string(pair.CertPEM),
		f.trusts:   string(ca.CertPEM),
	} {
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// client is an HTTP client of the secured pods: it trusts the CA and presents the pods' certificate.
func (f secFiles) client(t testing.TB) *http.Client {
	t.Helper()
	tc, err := security.NewClientTLS(security.TLSFiles{CA: f.ca, Cert: f.cert, Key: f.key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{Timeout: 10 * time.Second, Transport: control.SecureTransport(tr, control.ClientSecurity{TLS: tc})}
}

// post calls path on the pod with the secret (none if ""), over scheme; it returns the code and the body.
func post(t testing.TB, c *http.Client, scheme string, p *podProcess, path, secret string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, p.port, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("POST %s: 401 without WWW-Authenticate: Bearer", path)
	}
	return res.StatusCode, string(body)
}

// infoOver is /info over scheme; ok is false when the pod does not answer.
func infoOver(c *http.Client, scheme string, p *podProcess) (map[string]any, bool) {
	res, err := c.Post(fmt.Sprintf("%s://127.0.0.1:%d/info", scheme, p.port), "application/json", nil)
	if err != nil {
		return nil, false
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body) // to the end: the connection is kept alive
	var m map[string]any
	if err != nil || res.StatusCode != 200 || json.Unmarshal(body, &m) != nil {
		return nil, false
	}
	return m, true
}

// waitInfoOver polls /info of each pod until ok holds for all of them.
func waitInfoOver(t testing.TB, c *http.Client, scheme string, pods []*podProcess, within time.Duration, ok func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	out := make([]map[string]any, len(pods))
	for i, p := range pods {
		for {
			m, answered := infoOver(c, scheme, p)
			if answered && ok(m) {
				out[i] = m
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %d (port %d): condition not met within %s; last /info %v\n%s", i, p.port, within, m, p.out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

func isLeader(m map[string]any) bool {
	s, _ := m["state"].(string)
	return strings.HasPrefix(s, "leader")
}

// walk lists every node under root (root included) as seen by conn.
func walk(t testing.TB, conn zk.Conn, root string) []string {
	t.Helper()
	out := []string{root}
	kids, _, err := conn.Children(root)
	if err != nil {
		t.Fatalf("children of %s: %v", root, err)
	}
	for _, k := range kids {
		out = append(out, walk(t, conn, path.Join(root, k))...)
	}
	return out
}

// stranger is a ZooKeeper session without credentials.
func stranger(t testing.TB, addr string) zk.Conn { return mdObserve(t, addr) }

// owner is a ZooKeeper session with the deployment's credentials.
func owner(t testing.TB, addr string, f secFiles) zk.Conn {
	t.Helper()
	creds, err := security.OpenZKCredentials(f.zkAuth, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := gozk.New(nil)
	d.Credentials = creds
	ens, _ := zk.ParseEnsemble(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := gozk.ConnectWith(ctx, d, ens, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// DESIGN §12, "what it must show": without a token /control/kill, /reset, /exec and /log answer 401 and the
// process keeps running; a read token reads /log and gets 403 on /control/off; a control token works; each of
// those requests is audited by token name. /info stays open. A pod with tokens only warns that the rest is open.
func TestIntegration_TokensGuardTheControlAPI(t *testing.T) {
	t.Parallel()
	f := newSecFiles(t)
	srv := zkserver.Start(t)
	p := mdStartPod(t, srv.Addr(), "tokens", 10*time.Second, []string{"--token-file", f.tokens}, "sleep", "600")
	c := &http.Client{Timeout: 10 * time.Second}
	first := waitInfoOver(t, c, "http", []*podProcess{p}, 60*time.Second, mdRunning)[0]
	pid := mdPid(first)

	for _, tc := range []struct {
		path, secret string
		code         int
	}{
		{"/control/kill", "", 401},
		{"/control/kill", "not-a-known-secret-at-all", 401},
		{"/reset", "", 401},
		{"/exec", "", 401},
		{"/log", "", 401},
		{"/control/off", secRead, 403},
		{"/exec", secRead, 403},
		{"/control/kill", secExec, 403},
	} {
		if code, body := post(t, c, "http", p, tc.path, tc.secret, "X-Shell", "ls"); code != tc.code || !strings.Contains(body, `"error"`) {
			t.Errorf("%s with %q: %d %s, want %d and a JSON error", tc.path, tc.secret, code, body, tc.code)
		}
	}
	m := waitInfoOver(t, c, "http", []*podProcess{p}, 10*time.Second, mdRunning)[0]
	if mdPid(m) != pid || !p.alive() {
		t.Fatalf("the process changed or the pod died: pid %d → %d", pid, mdPid(m))
	}
	if code, body := post(t, c, "http", p, "/log", secRead); code != 200 || !strings.HasPrefix(body, "[") {
		t.Fatalf("/log with the read token: %d %s", code, body)
	}
	if code, body := post(t, c, "http", p, "/control/off", secControl); code != 200 {
		t.Fatalf("/control/off with the control token: %d %s", code, body)
	}
	waitInfoOver(t, c, "http", []*podProcess{p}, 30*time.Second, func(m map[string]any) bool { return m["process"] == "stopped" })
	if code, _ := post(t, c, "http", p, "/reset", secControl); code != 200 {
		t.Fatalf("/reset with the control token: %d", code)
	}

	waitLog(t, p, "path=/reset code=200")
	out := p.out.String()
	for _, want := range []string{"token=- path=/control/kill code=401", "token=viewer path=/control/off code=403",
		"token=viewer path=/log code=200", "token=leader path=/control/off code=200", "security: open:"} {
		if !strings.Contains(out, want) {
			t.Errorf("the pod's log lacks %q", want)
		}
	}
	if strings.Contains(out, "without tokens") {
		t.Error("the start WARN says the control API has no tokens")
	}
	for _, s := range f.secrets {
		if strings.Contains(out, s) {
			t.Fatalf("a secret is in the pod's log")
		}
	}
}

// startSecured starts n pods with every §12 setting of the control port and ZooKeeper credentials.
func startSecured(t testing.TB, f secFiles, zkAddr, cluster string, n int, extra ...string) []*podProcess {
	t.Helper()
	flags := append([]string{"--token-file", f.tokens, "--zk-auth-file", f.zkAuth, "--tls-cert", f.cert, "--tls-key", f.key,
		"--tls-ca", f.ca, "--tls-client-ca", f.ca}, extra...)
	pods := make([]*podProcess, n)
	for i := range pods {
		pods[i] = mdStartPod(t, zkAddr, cluster, 10*time.Second, flags, "sleep", "600")
	}
	return pods
}

// DESIGN §12: the leader keeps its HTTPS connections to its pods alive from one phase to the next, even
// past the pods' idle timeout ("kept connections"; --idle-timeout, short here), so a pod that joins after a
// quiet spell costs the phase one TLS handshake, the new pod's, not one per pod (counted by the leader's
// ochopod_control_client_connections_total, the scale bench's conns column).
func TestIntegration_SecuredPhasesKeepTheirConnections(t *testing.T) {
	t.Parallel()
	f := newSecFiles(t)
	srv := zkserver.Start(t)
	flags := keptFlags(f, "--idle-timeout", "2s")
	pods, c, obs, cl, infos := keptCluster(t, f, srv.Addr(), "kept", 3, flags)
	lead := slices.IndexFunc(infos, isLeader)
	if lead < 0 {
		t.Fatalf("no leader: %v", infos)
	}
	before := clientConns(t, c, "https", pods[lead])
	if before != (connCounts{full: 3}) {
		t.Fatalf("the leader of 3 pods opened %+v connections, want 3 with a full handshake", before)
	}
	for _, p := range pods {
		idleClosed(t, f, p, 30*time.Second) // one after the other: each waits 2 s at least
	}
	pods = append(pods, mdStartPod(t, srv.Addr(), "kept", 10*time.Second, flags, "sleep", "600"))
	mdWaitConfigured(t, obs, cl, nil, 4, 60*time.Second)
	if m, ok := infoOver(c, "https", pods[lead]); !ok || !isLeader(m) {
		t.Fatalf("the leader changed: %v", m)
	}
	if got := clientConns(t, c, "https", pods[lead]).minus(before); got != (connCounts{full: 1}) {
		t.Fatalf("the phase of a pod joining after the idle timeout opened %+v connections, want one, to the new pod", got)
	}
}

// DESIGN §12: a cluster with tokens, mutual TLS on the control port and ZooKeeper credentials converges and
// hands over; a client without the digest gets NoAuth on set and delete of every node Ochopod created; and
// no secret is in any log line, /info, /log, payload or ZooKeeper node.
func TestIntegration_SecuredClusterConvergesHandsOverAndLeaksNothing(t *testing.T) {
	t.Parallel()
	f := newSecFiles(t)
	srv := zkserver.Start(t)
	pods := startSecured(t, f, srv.Addr(), "secured", 3)
	c := f.client(t)
	waitInfoOver(t, c, "https", pods, 90*time.Second, mdRunning)
	own := owner(t, srv.Addr(), f)
	cl := zk.ClusterOf("it", "secured")
	mdWaitConfigured(t, own, cl, nil, 3, 60*time.Second)

	// Plain HTTP, and TLS without a client certificate, get nowhere.
	if res, err := (&http.Client{Timeout: 5 * time.Second}).Post(fmt.Sprintf("http://127.0.0.1:%d/info", pods[0].port), "", nil); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("a TLS pod answered plain HTTP")
		}
	}
	anon, _ := security.NewClientTLS(security.TLSFiles{CA: f.ca}, nil)
	anonClient := &http.Client{Timeout: 5 * time.Second, Transport: control.SecureTransport(http.DefaultTransport.(*http.Transport).Clone(), control.ClientSecurity{TLS: anon})}
	if _, err := anonClient.Post(fmt.Sprintf("https://127.0.0.1:%d/info", pods[0].port), "", nil); err == nil {
		t.Fatal("mutual TLS let a client without a certificate in")
	}

	// Hand-over: the leader leaves, another leads and configures the two left.
	lead := -1
	for deadline := time.Now().Add(30 * time.Second); lead < 0; time.Sleep(10 * time.Millisecond) {
		for i, p := range pods {
			if m, ok := infoOver(c, "https", p); ok && isLeader(m) {
				lead = i
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
	}
	if err := pods[lead].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	mdWaitExit(t, pods[lead], 60*time.Second)
	rest := append(append([]*podProcess{}, pods[:lead]...), pods[lead+1:]...)
	mdWaitConfigured(t, own, cl, nil, 2, 60*time.Second)
	infos := waitInfoOver(t, c, "https", rest, 60*time.Second, mdRunning)
	if !isLeader(infos[0]) && !isLeader(infos[1]) {
		t.Fatalf("no leader after the hand-over: %v", infos)
	}

	// ZooKeeper: every node Ochopod created is the digest user's.
	str := stranger(t, srv.Addr())
	nodes := walk(t, own, "/ochopod")
	if len(nodes) < 8 {
		t.Fatalf("too few nodes: %v", nodes)
	}
	for _, n := range nodes {
		_, err := str.Set(n, []byte("forged"), zk.AnyVersion)
		if !errors.Is(err, gozklib.ErrNoAuth) {
			t.Errorf("set %s without the digest: %v, want NoAuth", n, err)
		}
		err = str.Delete(n, zk.AnyVersion)
		if !errors.Is(err, gozklib.ErrNoAuth) && !(n == "/ochopod" && errors.Is(err, zk.ErrNotEmpty)) {
			t.Errorf("delete %s without the digest: %v, want NoAuth", n, err)
		}
	}
	if _, err := str.Create(cl.Pods()+"/forged.", []byte(`{"ip":"127.0.0.1"}`), zk.EphemeralSequential); !errors.Is(err, gozklib.ErrNoAuth) {
		t.Errorf("a forged pod node: %v, want NoAuth", err)
	}
	if _, err := str.Create(cl.Coordinator()+"/0123456789abcdef0123456789abcdef__lock__", nil, zk.EphemeralSequential); !errors.Is(err, gozklib.ErrNoAuth) {
		t.Errorf("a planted lock contender: %v, want NoAuth", err)
	}

	// Secrets: nowhere.
	var seen bytes.Buffer
	for _, n := range nodes {
		data, _, err := own.Get(n)
		if err != nil {
			t.Fatalf("get %s: %v", n, err)
		}
		fmt.Fprintf(&seen, "%s %s\n", n, data)
	}
	for _, p := range pods {
		seen.WriteString(p.out.String())
	}
	for _, p := range rest {
		_, info := post(t, c, "https", p, "/info", "")
		_, log := post(t, c, "https", p, "/log", secRead)
		seen.WriteString(info + log)
	}
	if n := strings.Count(seen.String(), `"scheme":"https"`); n < 2 {
		t.Errorf("the pods' payloads do not say https (%d)", n)
	}
	for _, s := range f.secrets {
		if strings.Contains(seen.String(), s) {
			t.Fatalf("a secret leaked into the logs, /info, /log or ZooKeeper")
		}
	}
	if !strings.Contains(seen.String(), "security: open: ZooKeeper traffic in clear text") {
		t.Error("the start WARN does not name the one thing left open")
	}
}

// DESIGN §12: a pod over ZooKeeper TLS (secure client port, Netty, client certificates required) with
// --zk-private registers and leads; a client without the digest cannot even read its nodes; `ochopod pods`
// lists it only with the credentials, and reaches the secure port only with a client certificate.
func TestIntegration_PodOverZooKeeperTLSWithPrivateNodes(t *testing.T) {
	t.Parallel()
	f := newSecFiles(t)
	port, err := zkserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := zkserver.Start(t, zkserver.WithTLS(zkserver.TLS{Port: port, KeyStore: f.keyStore, TrustStore: f.trusts, ClientAuth: "need"}))
	secure := "127.0.0.1:" + strconv.Itoa(port)
	p := mdStartPod(t, secure, "private", 10*time.Second,
		[]string{"--zk-tls-ca", f.ca, "--zk-tls-cert", f.cert, "--zk-tls-key", f.key, "--zk-auth-file", f.zkAuth, "--zk-private"}, "sleep", "600")
	c := &http.Client{Timeout: 10 * time.Second}
	m := waitInfoOver(t, c, "http", []*podProcess{p}, 90*time.Second, func(m map[string]any) bool { return mdRunning(m) && isLeader(m) })[0]

	str := stranger(t, srv.Addr())
	cl := zk.ClusterOf("it", "private")
	own := owner(t, srv.Addr(), f)

	// A new session (POST /reset) authenticates again: the pod registers anew, its new node as private.
	kids, _, err := own.Children(cl.Pods())
	if err != nil || len(kids) != 1 {
		t.Fatalf("pods before the reset: %v %v", kids, err)
	}
	_, before, _ := own.Get(cl.Pods() + "/" + kids[0])
	if code, _ := post(t, c, "http", p, "/reset", ""); code != 200 {
		t.Fatalf("/reset: %d", code)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		kids, _, err = own.Children(cl.Pods())
		if err == nil && len(kids) == 1 {
			if _, st, err := own.Get(cl.Pods() + "/" + kids[0]); err == nil && st.EphemeralOwner != before.EphemeralOwner {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod did not register on a new session: %v %v\n%s", kids, err, p.out.String())
		}
	}
	waitInfoOver(t, c, "http", []*podProcess{p}, 60*time.Second, func(m map[string]any) bool { return mdRunning(m) && isLeader(m) })

	nodes := walk(t, own, cl.Path())
	for _, n := range nodes {
		if _, _, err := str.Get(n); !errors.Is(err, gozklib.ErrNoAuth) {
			t.Errorf("get %s without the digest: %v, want NoAuth", n, err)
		}
	}

	run := func(args ...string) (string, error) {
		out, err := exec.Command(buildBinary(t), append([]string{"pods", "--json", "--timeout", "30s"}, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("--zk", secure, "--zk-tls-ca", f.ca, "--zk-tls-cert", f.cert, "--zk-tls-key", f.key, "--zk-auth-file", f.zkAuth)
	if err != nil || !strings.Contains(out, m["key"].(string)) {
		t.Fatalf("ochopod pods with the credentials: %v\n%s", err, out)
	}
	if out, err := run("--zk", secure, "--zk-tls-ca", f.ca, "--zk-auth-file", f.zkAuth, "--timeout", "5s"); err == nil {
		t.Fatalf("ochopod pods without a client certificate reached the secure port:\n%s", out)
	}
	if out, err := run("--zk", srv.Addr()); err == nil && strings.Contains(out, m["key"].(string)) {
		t.Fatalf("ochopod pods without the credentials listed the private pod:\n%s", out)
	}
}

// DESIGN §12: a rotated token file and a rotated certificate take effect on a running pod, without a restart.
func TestIntegration_RotationWithoutRestart(t *testing.T) {
	t.Parallel()
	f := newSecFiles(t)
	srv := zkserver.Start(t)
	p := mdStartPod(t, srv.Addr(), "rotate", 10*time.Second,
		[]string{"--token-file", f.tokens, "--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca}, "sleep", "600")
	c := f.client(t)
	waitInfoOver(t, c, "https", []*podProcess{p}, 60*time.Second, mdRunning)
	if code, _ := post(t, c, "https", p, "/log", secRead); code != 200 {
		t.Fatalf("/log before the rotation: %d", code)
	}

	// Tokens: the old read token is gone, a new one works.
	const newRead = "rotated-read-secret-5a1c3e7b9d"
	if err := certs.WriteAtomic(f.tokens, []byte(newRead+" viewer2 read\n"+secControl+" leader control\n")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) { // security.TokenRecheck
		code, _ := post(t, c, "https", p, "/log", secRead)
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotated-out token: %d, want 401", code)
		}
	}
	if code, _ := post(t, c, "https", p, "/log", newRead); code != 200 {
		t.Fatalf("the new token: %d, want 200", code)
	}

	// Certificate: the pod now serves one of a new CA; a client that trusts only the old CA is refused, one
	// that trusts the new CA gets in (new connections: the old ones keep their session).
	ca2, err := certs.NewCA("rotated CA")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca2.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir2 := t.TempDir()
	f2, err := ca2.WriteFiles(dir2, "", pair)
	if err != nil {
		t.Fatal(err)
	}
	for _, mv := range [][2]string{{f2.Key, f.key}, {f2.Cert, f.cert}} {
		data, err := os.ReadFile(mv[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := certs.WriteAtomic(mv[1], data); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) { // security.FileRecheck
		if _, ok := infoOver(f.client(t), "https", p); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a client of the old CA still got in after the rotation")
		}
	}
	tc, err := security.NewClientTLS(security.TLSFiles{CA: f2.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	newCA := &http.Client{Timeout: 10 * time.Second, Transport: control.SecureTransport(http.DefaultTransport.(*http.Transport).Clone(), control.ClientSecurity{TLS: tc})}
	if _, ok := infoOver(newCA, "https", p); !ok {
		t.Fatalf("a client of the new CA was refused:\n%s", p.out.String())
	}
	if !p.alive() {
		t.Fatal("the pod died")
	}
}

// A §12 setting that cannot work is a usage error (exit 2) naming the setting, from a flag or its variable,
// and never quoting a secret file's contents.
func TestSecuritySettingsErrorsExitWithStatus2(t *testing.T) {
	f := newSecFiles(t)
	bad := filepath.Join(f.dir, "bad-tokens")
	if err := os.WriteFile(bad, []byte(secControl+" leader admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zk := []string{"run", "--binding", "local", "--zk", "127.0.0.1:2181"}
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{args: []string{"--zk-private"}, want: "--zk-private needs --zk-auth-file"},
		{args: []string{"--tls-cert", f.cert, "--tls-key", f.key}, want: "--tls-cert needs --tls-ca"},
		{args: []string{"--tls-cert", f.cert}, want: "--tls-cert"},
		{args: []string{"--token-file", bad}, want: "--token-file"},
		{env: "ochopod_token_file=" + bad, want: "--token-file"},
		{env: "ochopod_zk_auth_file=/nonexistent", want: "--zk-auth-file"},
		{args: []string{"--zk-tls-cert", f.cert}, want: "--zk-tls"},
		{args: []string{"--tls-ca", f.tokens}, want: "--tls-ca"},
	} {
		cmd := exec.Command(buildBinary(t), append(append([]string{}, zk...), tc.args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v %s: exit %v, want 2 and %q:\n%s", tc.args, tc.env, cmd.ProcessState, tc.want, out)
		}
		if strings.Contains(string(out), secControl) {
			t.Errorf("%v: the error quotes a secret", tc.args)
		}
	}
}

// DESIGN §12: a pod with credentials on a cluster whose tree was made without them says so (one WARN a node
// it found open) and still registers, leads and runs its process.
func TestIntegration_CredentialsOnATreeMadeWithoutThem(t *testing.T) {
	t.Parallel()
	f := newSecFiles(t)
	srv := zkserver.Start(t)
	c := &http.Client{Timeout: 10 * time.Second}
	open := mdStartPod(t, srv.Addr(), "legacy", 10*time.Second, nil, "sleep", "600")
	waitInfoOver(t, c, "http", []*podProcess{open}, 60*time.Second, mdRunning)
	if err := open.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	mdWaitExit(t, open, 60*time.Second)

	p := mdStartPod(t, srv.Addr(), "legacy", 10*time.Second, []string{"--zk-auth-file", f.zkAuth}, "sleep", "600")
	waitInfoOver(t, c, "http", []*podProcess{p}, 60*time.Second, func(m map[string]any) bool { return mdRunning(m) && isLeader(m) })
	waitLog(t, p, "created without credentials")
	out := p.out.String()
	cl := zk.ClusterOf("it", "legacy")
	if strings.Count(out, "created without credentials") != 1 {
		t.Errorf("want one WARN:\n%s", out)
	}
	warn := out[strings.Index(out, "created without credentials"):]
	warn = warn[:strings.IndexByte(warn, '\n')]
	for _, n := range []string{cl.Pods(), cl.Hash(), cl.Coordinator()} {
		if !strings.Contains(warn, n+" ") && !strings.Contains(warn, n+"]") {
			t.Errorf("the WARN does not name %s: %s", n, warn)
		}
	}
	if strings.Contains(out, secZKPass) {
		t.Fatal("the ZooKeeper password is in the log")
	}
}

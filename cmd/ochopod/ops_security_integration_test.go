package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gozklib "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// DESIGN §12, §14: the operator verbs on a secured cluster (tokens, mutual TLS, ZooKeeper digest), with the
// flags or their environment variables; a missing token or scope reads as what to do, never as JSON; the
// paused node gets the pods' ACL; no secret is printed.
func TestIntegration_OpsOnASecuredCluster(t *testing.T) {
	f := newSecFiles(t)
	srv := zkserver.Start(t)
	zkAddr := srv.Addr()
	startSecured(t, f, zkAddr, "sec", 2, "--pipe")
	tlsFlags := []string{"--zk", zkAddr, "--zk-auth-file", f.zkAuth, "--tls-ca", f.ca, "--tls-cert", f.cert, "--tls-key", f.key}
	all := append([]string{"--token-file", f.tokens}, tlsFlags...)
	var printed []string
	run := func(env []string, args ...string) (string, string, int) {
		out, errOut, code := opsRunEnv(t, env, args...)
		printed = append(printed, out, errOut)
		return out, errOut, code
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var views []lsCluster
		opsJSON(t, &views, append([]string{"ls", "it.sec"}, all...)...)
		if settled(2)(views) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the secured cluster did not settle: %+v", views)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// No token: 401, said plainly.
	_, errOut, code := run(nil, append([]string{"log", "it.sec/0"}, tlsFlags...)...)
	if code != 1 || !strings.Contains(errOut, `refused (401): the pod requires a token; give --token-file with a token of scope "read"`) || strings.Contains(errOut, "{") {
		t.Fatalf("log without a token: exit %d: %s", code, errOut)
	}
	// A token without the scope: 403.
	readOnly := filepath.Join(f.dir, "read-only")
	if err := os.WriteFile(readOnly, []byte(secRead+" viewer read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run(nil, append([]string{"ctl", "off", "it.sec/0", "--token-file", readOnly}, tlsFlags...)...)
	if code != 1 || !strings.Contains(errOut, `refused (403): the token sent lacks the scope "control"`) {
		t.Fatalf("ctl with a read token: exit %d: %s", code, errOut)
	}
	// Without the CA the pods' certificates are not trusted; without the ZooKeeper digest nothing works.
	if _, errOut, code = run(nil, "info", "it.sec/0", "--zk", zkAddr, "--zk-auth-file", f.zkAuth); code != 1 {
		t.Fatalf("info without TLS settings: exit %d: %s", code, errOut)
	}
	// Every verb with the settings given as environment variables.
	env := []string{"ochopod_zk=" + zkAddr, "ochopod_zk_auth_file=" + f.zkAuth, "ochopod_tls_ca=" + f.ca, "ochopod_tls_cert=" + f.cert,
		"ochopod_tls_key=" + f.key, "ochopod_token_file=" + f.tokens}
	for _, args := range [][]string{{"ctl", "off", "sec"}, {"ctl", "on", "sec"}, {"log", "sec/1"}, {"info", "sec/1"}, {"reset", "sec/1"},
		{"history", "sec"}, {"graph"}, {"pause", "sec"}} {
		if out, errOut, code := run(env, args...); code != 0 {
			t.Fatalf("ochopod %v with the environment: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	// The paused node carries the digest ACL, as the pods' nodes do: a stranger cannot lift the pause.
	str := stranger(t, zkAddr)
	if err := str.Delete(zk.ClusterOf("it", "sec").Paused(), zk.AnyVersion); !errors.Is(err, gozklib.ErrNoAuth) {
		t.Fatalf("a stranger deleting the paused node: %v, want NoAuth", err)
	}
	if _, _, code := run(env, "resume", "sec"); code != 0 {
		t.Fatal("resume with the digest failed")
	}
	for _, out := range printed {
		for _, secret := range f.secrets {
			if strings.Contains(out, strings.TrimSpace(secret)) {
				t.Fatalf("a secret was printed:\n%s", out)
			}
		}
	}
}

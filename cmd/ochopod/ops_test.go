package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/testkit/certs"
)

// DESIGN §12, §14: a 401 or 403 reads as what to do about it, never as the pod's JSON nor the secret.
func TestPodClient_RefusalsAreExplained(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Header.Get("Authorization") {
		case "":
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"missing token"}`))
		case "Bearer s3cret-read-0123456789":
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"scope"}`))
		case "Bearer s3cret-control-0123456789":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"off of phase x refused"}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# ops\ns3cret-read-0123456789   alice read\ns3cret-control-0123456789 bob control,read # bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pod := podRef{Cluster: "it.web", Seq: 3, Address: strings.TrimPrefix(srv.URL, "http://"), Scheme: "http"}
	cases := []struct {
		tokenFile string
		scope     security.Scope
		code      int
		want      string
	}{
		{"", scopeControl, 401, `it.web/3: refused (401): the pod requires a token; give --token-file with a token of scope "control"`},
		{tokens, scopeExec, 403, `it.web/3: refused (403): the token sent lacks the scope "exec"`}, // no exec token: the first one goes
		{tokens, scopeRead, 403, `it.web/3: refused (403): the token sent lacks the scope "read"`},
		{tokens, scopeControl, 409, `it.web/3: 409 Conflict: off of phase x refused`},
	}
	for _, c := range cases {
		o := &opsSettings{}
		o.security.tokenFile = c.tokenFile
		if err := o.security.load(); err != nil {
			t.Fatal(err)
		}
		_, err := o.podClient().post(context.Background(), pod, "/x", c.scope, nil, nil)
		var pe *podError
		if !errors.As(err, &pe) || pe.code != c.code || err.Error() != c.want {
			t.Errorf("token file %q, scope %s: %v, want %q", c.tokenFile, c.scope, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("a secret in the message: %v", err)
		}
	}
}

// DESIGN §12: with --tls-ca the CLI speaks HTTPS to a pod and verifies it against the CA; with --tls-cert it
// presents its certificate to a pod that requires one; a pod signed by another CA is refused.
func TestPodClient_TLSVerifiesThePodAndPresentsTheClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := certs.NewCA("ops test CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue("operator")
	if err != nil {
		t.Fatal(err)
	}
	sf, err := ca.WriteFiles(dir, "server", server)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := ca.WriteFiles(dir, "client", client)
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := security.ServerTLS(security.TLSFiles{Cert: sf.Cert, Key: sf.Key, ClientCA: sf.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"state":"leader"}`))
	}))
	srv.TLS = srvTLS
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	call := func(s opsSecurity) error {
		o := &opsSettings{security: s}
		if err := o.security.load(); err != nil {
			t.Fatal(err)
		}
		ref, ok := o.addressTarget(addr)
		if !ok || ref.Scheme != "https" {
			t.Fatalf("%s with TLS settings: %+v", addr, ref)
		}
		_, err := o.podClient().post(context.Background(), ref, "/info", scopeRead, nil, nil)
		return err
	}
	if err := call(opsSecurity{tlsCA: sf.CA, tlsCert: cf.Cert, tlsKey: cf.Key}); err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	if err := call(opsSecurity{tlsCA: sf.CA}); err == nil {
		t.Fatal("no client certificate, yet the pod answered")
	}
	other, err := certs.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	op, err := other.Issue("x")
	if err != nil {
		t.Fatal(err)
	}
	of, err := other.WriteFiles(dir, "other", op)
	if err != nil {
		t.Fatal(err)
	}
	if err := call(opsSecurity{tlsCA: of.CA, tlsCert: cf.Cert, tlsKey: cf.Key}); err == nil || !errors.Is(err, errUnreachable) {
		t.Fatalf("a pod the CA did not sign: %v", err)
	}
}

func TestOverlap_NewLinesOfAFollowedLog(t *testing.T) {
	cases := []struct {
		prev, next []string
		want       int
	}{
		{nil, []string{"a"}, 0},
		{[]string{"a", "b"}, []string{"a", "b", "c"}, 2},
		{[]string{"a", "b", "c"}, []string{"b", "c", "d"}, 2}, // the ring dropped "a"
		{[]string{"a", "b"}, []string{"x", "y"}, 0},           // all new (more than the ring holds)
		{[]string{"a", "b"}, []string{"a", "b"}, 2},
	}
	for _, c := range cases {
		if got := overlap(c.prev, c.next); got != c.want {
			t.Errorf("overlap(%v, %v) = %d, want %d", c.prev, c.next, got, c.want)
		}
	}
}

func TestMatchClusters_GlobOnQualifiedOrOwnName(t *testing.T) {
	names := []string{"prod.eu.web", "prod.us.web", "staging.db", "staging.web-2"}
	for glob, want := range map[string][]string{
		"*":           names,
		"web":         {"prod.eu.web", "prod.us.web"},
		"web*":        {"prod.eu.web", "prod.us.web", "staging.web-2"},
		"prod.*.web":  {"prod.eu.web", "prod.us.web"},
		"staging.*":   {"staging.db", "staging.web-2"},
		"nothing":     nil,
		"prod.eu.web": {"prod.eu.web"},
	} {
		if got := matchClusters(names, glob); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v, want %v", glob, got, want)
		}
	}
}

func TestSelectPods_SeqKeyPrefixAndAmbiguity(t *testing.T) {
	pl := payload.Payload{"ip": "10.0.0.1", "port": "8080", "ports": map[string]any{"8080": int64(31000)}}
	pods := []cluster.Pod{
		{Key: "aa11", Node: "aa11.0000000000", Seq: 0, Payload: pl},
		{Key: "aa22", Node: "aa22.0000000001", Seq: 1, Payload: pl},
		{Key: "aa22", Node: "aa22.0000000004", Seq: 1, Payload: pl.With("ip", "10.0.0.2")}, // re-registered
		{Key: "664807ab", Node: "664807ab.0000000002", Seq: 2, Payload: pl},
	}
	o := &opsSettings{}
	for sel, want := range map[string]string{"0": "aa11", "1": "aa22", "aa1": "aa11", "aa22": "aa22", "2": "664807ab", "6648": "664807ab"} {
		got, err := o.selectPods("ns.web", pods, sel, true)
		if err != nil || len(got) != 1 || got[0].Key != want {
			t.Errorf("%q: %+v, %v", sel, got, err)
		}
	}
	if got, _ := o.selectPods("ns.web", pods, "1", true); got[0].Address != "10.0.0.2:31000" {
		t.Errorf("the newest node of a key wins: %+v", got)
	}
	if _, err := o.selectPods("ns.web", pods, "aa", true); err == nil || !strings.Contains(err.Error(), "names 2 pods") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := o.selectPods("ns.web", pods, "7", true); err == nil {
		t.Error("no pod 7, yet no error")
	}
	if got, err := o.selectPods("ns.web", pods, "", false); err != nil || len(got) != 3 {
		t.Errorf("whole cluster: %+v, %v", got, err)
	}
}

func TestAddressTarget(t *testing.T) {
	o := &opsSettings{}
	for target, want := range map[string]string{"127.0.0.1:8080": "http://127.0.0.1:8080", "https://h:1": "https://h:1",
		"[::1]:9": "http://[::1]:9", "web/0": "", "web": "", "h:0": "", "h:x": ""} {
		ref, ok := o.addressTarget(target)
		if got := ref.Scheme + "://" + ref.Address; (ok && got != want) || (!ok && want != "") {
			t.Errorf("%q: %q %v, want %q", target, got, ok, want)
		}
	}
}

func TestWriteYAML_SameKeysAsJSON(t *testing.T) {
	var b bytes.Buffer
	v := lsCluster{Cluster: "a.b", Pods: []lsPod{{Key: "k", Seq: 12345678}}, Skipped: []lsSkipped{}}
	if err := writeYAML(&b, []lsCluster{v}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- cluster: a.b\n", "  pods:\n    - key: k\n      seq: 12345678\n", "  skipped: []\n", `  hash: ""`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("yaml lacks %q:\n%s", want, b.String())
		}
	}
}

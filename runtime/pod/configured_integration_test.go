package pod_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	gozklib "github.com/go-zookeeper/zk"
	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/fakeproc"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// heardBy is a ClusterConfigured one pod's actor heard.
type heardBy struct {
	key string
	msg *v1.ClusterConfigured
}

// hearer is a pod-scope actor that passes on every ClusterConfigured it hears.
type hearer struct {
	key string
	out chan<- heardBy
}

func (h hearer) Started(host.Context)       {}
func (h hearer) Release(host.Context, bool) {}
func (h hearer) Receive(_ host.Context, m proto.Message) {
	if c, ok := m.(*v1.ClusterConfigured); ok {
		h.out <- heardBy{h.key, c}
	}
}

// marker is a leader-scope actor that writes a node under its own at each configuration it hears (the
// leader's), and reports the completion.
type marker struct {
	env   custom.Env
	out   chan<- *v1.NodeWritten
	epoch *uint64
}

func (m marker) Started(host.Context)       {}
func (m marker) Release(host.Context, bool) {}
func (m marker) Receive(ctx host.Context, msg proto.Message) {
	switch msg := msg.(type) {
	case *v1.ClusterConfigured:
		*m.epoch++
		m.env.Nodes.Set(ctx, *m.epoch, "sub/mark", []byte(msg.GetHash()))
	case *v1.NodeWritten:
		m.out <- msg
	}
}

// DESIGN §4 "Custom actors" on real ZooKeeper with the §12 digest credentials: three pods (one with a
// process, two that only register), each with a pod-scope actor, configure as one cluster; every pod's
// actor, followers' and the leader pod's alike, hears the configuration as its pod ran the phase's ok, once
// per phase, with the pods and the hash the leader wrote. The leader-scope actor's nodes (DESIGN §3
// <cluster>/actors/<name>/...) carry the ACL of every node Ochopod creates: a client without the digest
// reads them but cannot change or delete them.
func TestIntegration_EveryPodsActorsHearTheConfigurationAndActorNodesCarryTheACL(t *testing.T) {
	srv := zkserver.Start(t)
	f := newFixture(t, srv.Addr())
	authFile := filepath.Join(t.TempDir(), "zk-auth")
	if err := os.WriteFile(authFile, []byte("ochopod:actors-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := security.OpenZKCredentials(authFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	heard, written := make(chan heardBy, 256), make(chan *v1.NodeWritten, 64)
	keys := map[string]bool{}
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p, _ := f.startConfig("heard", 5*time.Second, func(c *pod.Config) {
			d := gozk.New(f.log)
			d.Credentials = creds
			c.Dialer = d
			c.Payload["ports"] = map[string]any{"8080": ln.Addr().(*net.TCPAddr).Port}
			c.Model = &pod.ModelConfig{}
			if i == 0 {
				c.Lifecycle = &pod.LifecycleConfig{Lifecycle: sdk.Exec{Argv: []string{"server"}}, Spawner: fakeproc.New()}
			}
			key, epoch := c.Key, new(uint64)
			keys[key] = true
			c.Actors = []custom.Actor{
				{Name: "hearer", Scope: custom.ScopePod, Supervisor: host.DefaultSupervisor(),
					New: func(custom.Env) host.Behaviour { return hearer{key: key, out: heard} }},
				{Name: "marker", Scope: custom.ScopeLeader, Supervisor: host.DefaultSupervisor(),
					New: func(env custom.Env) host.Behaviour { return marker{env: env, out: written, epoch: epoch} }},
			}
		})
		srvHTTP := &http.Server{Handler: control.Handler(p, nil, control.Settings{}, f.log), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srvHTTP.Serve(ln) }()
		t.Cleanup(func() { _ = srvHTTP.Close() })
	}

	obs := observer(t, srv.Addr())
	cl := zk.ClusterOf("test", "heard")
	phases := map[string]map[string]bool{} // by pod key: the phases its actor heard
	last := map[string]*v1.ClusterConfigured{}
	deadline := time.After(waitLong)
	poll := time.NewTicker(50 * time.Millisecond) // the pods hear the ok before the leader writes the hash
	defer poll.Stop()
	for done := false; !done; {
		select {
		case <-poll.C:
		case h := <-heard:
			if s := h.msg.GetSource(); s != v1.ConfiguredSource_CONFIGURED_SOURCE_POD {
				t.Fatalf("pod %s: its pod-scope actor heard a ClusterConfigured of source %s", h.key, s)
			}
			if phases[h.key] == nil {
				phases[h.key] = map[string]bool{}
			}
			if p := h.msg.GetPhase(); p == "" || phases[h.key][p] {
				t.Fatalf("pod %s: its actor heard phase %q twice, or unnamed", h.key, p)
			}
			phases[h.key][h.msg.GetPhase()] = true
			last[h.key] = h.msg
		case <-deadline:
			t.Fatalf("not every pod's actor heard the cluster of 3 the leader wrote within %s: %v", waitLong, last)
		}
		hash, _, err := obs.Get(cl.Hash())
		if err != nil {
			continue
		}
		done = len(last) == 3
		for k := range keys {
			done = done && len(last[k].GetPods()) == 3 && last[k].GetHash() == string(hash)
		}
	}

	var w *v1.NodeWritten
	for w == nil || w.GetFailure() != nil {
		select {
		case w = <-written:
		case <-deadline:
			t.Fatalf("the leader-scope actor wrote nothing within %s (last: %v)", waitLong, w)
		}
	}
	stranger := observer(t, srv.Addr()) // no digest
	dir := custom.Dir(cl, "marker")
	for _, n := range []string{cl.Path() + "/actors", dir, dir + "/sub", dir + "/sub/mark"} {
		if _, _, err := stranger.Get(n); err != nil {
			t.Errorf("get %s without the digest: %v, want world read", n, err)
		}
		if _, err := stranger.Set(n, []byte("forged"), zk.AnyVersion); !errors.Is(err, gozklib.ErrNoAuth) {
			t.Errorf("set %s without the digest: %v, want NoAuth", n, err)
		}
		if err := stranger.Delete(n, zk.AnyVersion); !errors.Is(err, gozklib.ErrNoAuth) {
			t.Errorf("delete %s without the digest: %v, want NoAuth", n, err)
		}
	}
	if _, err := stranger.Create(dir+"/planted", []byte("x"), zk.Persistent); !errors.Is(err, gozklib.ErrNoAuth) {
		t.Errorf("a node planted under %s without the digest: %v, want NoAuth", dir, err)
	}
	t.Log(fmt.Sprintf("phases heard by pod: %v", phases))
}

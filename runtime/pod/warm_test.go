package pod

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// warmRecorder is a control.Caller and control.Warmer that records what it is asked to warm.
type warmRecorder struct{ warmed chan []string }

func (warmRecorder) Post(context.Context, string, []byte) (int, []byte, error) { return 200, nil, nil }
func (r warmRecorder) Warm(urls []string)                                      { r.warmed <- slices.Clone(urls) }

// The pods registered in ZooKeeper: a valid one, an HTTPS one, and three the warm-up must leave out.
var warmRegistered = map[string]string{
	"aaaa.0000000001": `{"ip":"10.0.0.1","port":"8080","ports":{"8080":9001},"seq":1}`,
	"bbbb.0000000002": `{"ip":"10.0.0.2","port":"8080","ports":{"8080":8080},"seq":2,"scheme":"https"}`,
	"cccc.0000000003": `{"ip":"$(id)","port":"8080","ports":{"8080":8080},"seq":3}`, // invalid (DESIGN §12)
	"dddd.0000000004": ``,                                                           // registering: not a pod yet
	"eeee.0000000005": `{"ip":"10.0.0.5","port":"8080","seq":5}`,                    // its control port not exposed
}

// DESIGN §12: when the leader starts its model, the caller warms its connections to the pods of the pod's own
// base (the cluster the last phase configured), and, when the pod has none, to the pods registered in
// ZooKeeper; only to those with a valid control address, HTTPS for those that say so.
func TestWarmUp_TheNewLeadersModelWarmsThePodsConnections(t *testing.T) {
	srv := zkmem.New(vclock.New())
	conn := srv.Connect(t)
	web := zk.ClusterOf("ns", "web")
	if err := zk.EnsurePath(conn, web.Pods()); err != nil {
		t.Fatal(err)
	}
	for name, data := range warmRegistered {
		if _, err := conn.Create(web.Pods()+"/"+name, []byte(data), zk.Persistent); err != nil {
			t.Fatal(err)
		}
	}
	system := actor.NewActorSystem()
	defer system.Shutdown()
	base := &v1.Base{Pods: map[string][]byte{
		"pod1": []byte(`{"ip":"10.0.1.1","port":"8080","ports":{"8080":8080},"seq":1}`),
		"pod2": []byte(`{"ip":"10.0.1.2","port":"8080","ports":{"8080":8080},"seq":2,"scheme":"https"}`),
		"pod3": []byte(`{"ip":"10.0.1.3; rm -rf /","port":"8080","ports":{"8080":8080},"seq":3}`), // invalid
	}}
	for _, tc := range []struct {
		name string
		base *v1.Base // what the pod's root answers; nil: no root
		want []string
	}{
		{"from ZooKeeper, without a root", nil, []string{"http://10.0.0.1:9001", "https://10.0.0.2:8080"}},
		{"from ZooKeeper, without a base", &v1.Base{}, []string{"http://10.0.0.1:9001", "https://10.0.0.2:8080"}},
		{"from the pod's base", base, []string{"http://10.0.1.1:8080", "https://10.0.1.2:8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root *actor.PID
			if tc.base != nil {
				root = system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
					if _, ok := c.Message().(*v1.GetBase); ok {
						c.Respond(tc.base)
					}
				}))
				defer system.Root.Stop(root)
			}
			rec := warmRecorder{warmed: make(chan []string, 1)}
			worker := modelWorker(Config{Cluster: web, Clock: clock.Real{}, Model: &ModelConfig{Caller: rec}}, nil, system.Root, root)
			worker(conn, web.Coordinator()+"/lock") // the leader spawns what this returns
			select {
			case got := <-rec.warmed:
				if !slices.Equal(got, tc.want) {
					t.Fatalf("warmed %q, want %q", got, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("nothing warmed within 10 s of the model's start")
			}
		})
	}
}

// DESIGN §12 "kept connections": a pod keeps the connections to the valid pods of its base, itself included
// (a phase calls it too), and none when its base has no other pod it keeps (HTTPS).
func TestKeptURLs_ThePodsOfTheBaseWithAnotherPod(t *testing.T) {
	own := `{"ip":"10.0.1.1","port":"8080","ports":{"8080":8080},"seq":1,"scheme":"https"}`
	other := `{"ip":"10.0.1.2","port":"8080","ports":{"8080":8080},"seq":2,"scheme":"https"}`
	bad := `{"ip":"10.0.1.3; rm -rf /","port":"8080","ports":{"8080":8080},"seq":3,"scheme":"https"}`
	plain := `{"ip":"10.0.1.4","port":"8080","ports":{"8080":8080},"seq":4}` // never kept: control.Keeper
	for _, tc := range []struct {
		name string
		pods map[string]string
		want []string
	}{
		{"no base", nil, nil},
		{"only itself", map[string]string{"own": own}, nil},
		{"itself, an invalid pod and a plain one", map[string]string{"own": own, "bad": bad, "plain": plain}, nil},
		{"itself and another", map[string]string{"own": own, "other": other, "bad": bad}, []string{"https://10.0.1.1:8080", "https://10.0.1.2:8080"}},
		{"another, not itself", map[string]string{"other": other}, []string{"https://10.0.1.2:8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &v1.Base{Pods: map[string][]byte{}}
			for k, v := range tc.pods {
				b.Pods[k] = []byte(v)
			}
			var kept keptPods
			got := kept.urls(b, "own")
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("kept %q, want %q", got, tc.want)
			}
		})
	}
}

// keptPods remembers each HTTPS pod's URL by its payload: a pod whose payload changed (another host port) is
// read again, one that left the base is forgotten, one whose payload turned invalid is no longer kept, and a
// plain pod is not remembered at all.
func TestKeptPods_ReadsAChangedPayloadAgain(t *testing.T) {
	pod := func(ip string, port int) []byte {
		return fmt.Appendf(nil, `{"ip":"%s","port":"8080","ports":{"8080":%d},"seq":1,"scheme":"https"}`, ip, port)
	}
	var kept keptPods
	steps := []struct {
		name string
		pods map[string][]byte
		want []string
	}{
		{"first", map[string][]byte{"a": pod("10.0.1.1", 8080), "b": pod("10.0.1.2", 8080)},
			[]string{"https://10.0.1.1:8080", "https://10.0.1.2:8080"}},
		{"b moved", map[string][]byte{"a": pod("10.0.1.1", 8080), "b": pod("10.0.1.2", 9090)},
			[]string{"https://10.0.1.1:8080", "https://10.0.1.2:9090"}},
		{"b turned invalid", map[string][]byte{"a": pod("10.0.1.1", 8080), "b": pod("10.0.1.2; rm -rf /", 9090)},
			[]string{"https://10.0.1.1:8080"}},
		{"b left, c came, a plain pod too", map[string][]byte{"a": pod("10.0.1.1", 8080), "c": pod("10.0.1.3", 8080),
			"p": []byte(`{"ip":"10.0.1.4","port":"8080","ports":{"8080":8080},"seq":4}`)},
			[]string{"https://10.0.1.1:8080", "https://10.0.1.3:8080"}},
	}
	for _, st := range steps {
		got := kept.urls(&v1.Base{Pods: st.pods}, "own") // not in the base: any pod of it is kept
		if !slices.Equal(got, st.want) {
			t.Fatalf("%s: kept %q, want %q", st.name, got, st.want)
		}
	}
	if _, ok := kept.byKey["b"]; ok {
		t.Fatal("the pod that left is still remembered")
	}
	if _, ok := kept.byKey["p"]; ok {
		t.Fatal("a plain pod is remembered: a base of plain pods would cost a pod memory for nothing")
	}
}

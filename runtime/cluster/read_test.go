package cluster_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

var web = zk.ClusterOf("prod", "web")

func memConn(t *testing.T) zk.Conn {
	t.Helper()
	srv := zkmem.New(vclock.New())
	c := srv.Connect(t)
	return c
}

func create(t testing.TB, c zk.Conn, p, data string) {
	t.Helper()
	if err := zk.EnsurePath(c, web.Pods()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(p, []byte(data), zk.Persistent); err != nil {
		t.Fatal(err)
	}
}

// Pods come sorted by key with their seq (the payload's; else the node's, and the pod is still registering);
// foreign names and payloads that are not JSON objects are skipped with a reason, never fatal.
func TestReadPods_SortsSkipsAndFallsBackToTheNodeSeq(t *testing.T) {
	c := memConn(t)
	create(t, c, web.Pods()+"/bbbb.0000000002", `{"ip":"10.0.0.2","port":"8080","seq":2}`)
	create(t, c, web.Pods()+"/aaaa.0000000007", `{"ip":"10.0.0.1"}`) // seq not written yet
	create(t, c, web.Pods()+"/cccc.0000000003", `not json`)
	create(t, c, web.Pods()+"/stray", `{}`)
	create(t, c, web.Pods()+"/dddd.0000000009", ``) // the original's pods create their node empty
	pods, skipped, err := cluster.ReadPods(c, web)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pods {
		got = append(got, fmt.Sprintf("%s/%s/%d/%s/%v", p.Key, p.Node, p.Seq, p.Payload.String("ip"), p.Registering))
	}
	want := []string{"aaaa/aaaa.0000000007/7/10.0.0.1/true", "bbbb/bbbb.0000000002/2/10.0.0.2/false", "dddd/dddd.0000000009/9//true"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pods %v, want %v", got, want)
	}
	if len(skipped) != 2 {
		t.Fatalf("skipped %+v, want the garbage and the stray node", skipped)
	}
	if pods, _, err := cluster.ReadPods(c, zk.ClusterOf("prod", "none")); err != nil || pods != nil {
		t.Fatalf("a cluster nobody registered: %v, %v", pods, err)
	}
}

// A PodReader reads a complete pod's payload once (a pod never rewrites it after its seq), a pod still
// registering until it is complete, and forgets the nodes that are gone.
func TestPodReader_ReadsEachCompletePodOnce(t *testing.T) {
	c := memConn(t)
	a, b := web.Pods()+"/aaaa.0000000001", web.Pods()+"/bbbb.0000000002"
	create(t, c, a, `{"ip":"10.0.0.1","port":"8080","seq":1}`)
	create(t, c, b, `{"ip":"10.0.0.2"}`)
	r := &cluster.PodReader{}
	read := func() string {
		t.Helper()
		pods, _, err := r.Read(c, web)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range pods {
			out = append(out, fmt.Sprintf("%s:%s:%v", p.Key, p.Payload.String("ip"), p.Registering))
		}
		return fmt.Sprint(out)
	}
	if got := read(); got != "[aaaa:10.0.0.1:false bbbb:10.0.0.2:true]" {
		t.Fatalf("first read: %s", got)
	}
	for p, data := range map[string]string{a: `{"ip":"10.9.9.9","port":"8080","seq":1}`, b: `{"ip":"10.0.0.2","port":"8080","seq":2}`} {
		if _, err := c.Set(p, []byte(data), zk.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(); got != "[aaaa:10.0.0.1:false bbbb:10.0.0.2:false]" {
		t.Fatalf("after the writes: %s (a's payload was final: read once; b's is complete now)", got)
	}
	if pods, _, _ := cluster.ReadPods(c, web); pods[0].Payload.String("ip") != "10.9.9.9" {
		t.Fatal("ReadPods remembers: it must read every node")
	}
	if err := c.Delete(a, zk.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "[bbbb:10.0.0.2:false]" {
		t.Fatalf("after a left: %s", got)
	}
}

// DESIGN §12: a complete payload that breaks the rules is skipped, reported by the first read that sees it
// only (the leader warns once per node), and never keeps the valid pods from being read.
func TestPodReader_SkipsAnInvalidPodOnce(t *testing.T) {
	c := memConn(t)
	create(t, c, web.Pods()+"/aaaa.0000000001", `{"ip":"10.0.0.1","port":"8080","seq":1}`)
	create(t, c, web.Pods()+"/bbbb.0000000002", `{"ip":"10.9.9.9\"; touch pwned; echo \"","port":"8080","seq":2}`)
	create(t, c, web.Pods()+"/cccc.0000000003", `{"ip":"10.0.0.3","port":"8080","seq":"abc","ports":{"x":-1}}`)
	create(t, c, web.Pods()+"/dddd.0000000004", `{"ip":"10.0.0.4","port":"8080","seq":9}`) // a seq it was never given
	create(t, c, web.Pods()+"/stray", `{}`)
	r := &cluster.PodReader{}
	for i, want := range []int{4, 0} {
		pods, skipped, err := r.Read(c, web)
		if err != nil {
			t.Fatal(err)
		}
		if len(pods) != 1 || pods[0].Key != "aaaa" {
			t.Fatalf("read %d: pods %+v, want aaaa alone", i, pods)
		}
		if len(skipped) != want {
			t.Fatalf("read %d: skipped %+v, want %d reported", i, skipped, want)
		}
	}
	if _, skipped, _ := cluster.ReadPods(c, web); len(skipped) != 4 {
		t.Fatalf("ReadPods remembers nothing: it reports every invalid node, got %+v", skipped)
	}
}

// BenchmarkIntegration_ReadPods reads 200 registered pods from a real ZooKeeper, pipelined, one Get after
// the other (what a Conn without zk.Pipeliner gets), and through a PodReader that read them before (what the
// leader does at every change).
// Run: go test -run '^$' -bench Integration_ReadPods ./runtime/cluster/
func BenchmarkIntegration_ReadPods(b *testing.B) {
	srv := zkserver.Start(b)
	ens, err := zk.ParseEnsemble(srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	const n = 200
	for i := range n {
		create(b, c, fmt.Sprintf("%s/%08x-0000-4000-8000-%012x.%010d", web.Pods(), i, i, i),
			fmt.Sprintf(`{"ip":"127.0.0.1","port":"8080","ports":{"8080":%d},"seq":%d,"cluster":"web","namespace":"prod"}`, 20000+i, i))
	}
	for _, v := range []struct {
		name string
		conn zk.Conn
		r    *cluster.PodReader
	}{{"pipelined", c, nil}, {"one-by-one", struct{ zk.Conn }{c}, nil}, {"remembered", c, &cluster.PodReader{}}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				pods, _, err := v.r.Read(v.conn, web)
				if err != nil || len(pods) != n {
					b.Fatalf("%d pods, %v", len(pods), err)
				}
			}
		})
	}
}

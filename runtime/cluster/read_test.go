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
	c, _, err := srv.Dial(zk.Ensemble{Servers: []string{zkmem.ServerName}}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
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
	create(t, c, web.Pods()+"/bbbb.0000000002", `{"ip":"10.0.0.2","seq":2}`)
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

// BenchmarkIntegration_ReadPods reads 200 registered pods from a real ZooKeeper, pipelined (what the model
// does) and one Get after the other (what a Conn without zk.Pipeliner gets).
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
	}{{"pipelined", c}, {"one-by-one", struct{ zk.Conn }{c}}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				pods, _, err := cluster.ReadPods(v.conn, web)
				if err != nil || len(pods) != n {
					b.Fatalf("%d pods, %v", len(pods), err)
				}
			}
		})
	}
}

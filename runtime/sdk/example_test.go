package sdk_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ochopod/ochopod/runtime/sdk"
)

// zookeeperPod configures a ZooKeeper ensemble member: its myid comes from the pod's seq (stable for its
// life), and every member gets the same server.N lines, built from the whole cluster.
type zookeeperPod struct {
	dir string
}

func (z zookeeperPod) Configure(_ context.Context, c *sdk.Cluster) (sdk.Command, error) {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "dataDir=%s\nclientPort=2181\n", z.dir)
	for _, p := range c.Pods {
		seq, _ := p.Payload.Seq()
		fmt.Fprintf(&cfg, "server.%d=%s:2888:3888\n", seq+1, p.Payload.String("ip"))
	}
	if err := os.WriteFile(filepath.Join(z.dir, "zoo.cfg"), []byte(cfg.String()), 0o644); err != nil {
		return sdk.Command{}, err
	}
	if err := os.WriteFile(filepath.Join(z.dir, "myid"), fmt.Appendf(nil, "%d\n", c.Seq+1), 0o644); err != nil {
		return sdk.Command{}, err
	}
	return sdk.Command{
		Argv: []string{"/usr/share/zookeeper/bin/zkServer.sh", "start-foreground", filepath.Join(z.dir, "zoo.cfg")},
		Env:  map[string]string{"JVMFLAGS": "-Xmx512m"},
	}, nil
}

// SanityCheck makes a failing member cost the pod one of its checks.
func (z zookeeperPod) SanityCheck(_ context.Context, pid int) (map[string]any, error) {
	return map[string]any{"pid": pid}, nil
}

// A custom lifecycle implements Configure, and whichever optional callbacks it needs.
func Example_customLifecycle() {
	dir, _ := os.MkdirTemp("", "zk-example-")
	defer os.RemoveAll(dir)
	c, _ := sdk.ParseCluster([]byte(`{"key": "b", "pods": {
		"a": {"ip": "10.0.0.1", "seq": 0},
		"b": {"ip": "10.0.0.2", "seq": 1},
		"c": {"ip": "10.0.0.3", "seq": 4}}}`))
	var lc sdk.Lifecycle = zookeeperPod{dir: dir}
	cmd, err := lc.Configure(context.Background(), c)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, checks := lc.(sdk.SanityChecker)
	cfg, _ := os.ReadFile(filepath.Join(dir, "zoo.cfg"))
	myid, _ := os.ReadFile(filepath.Join(dir, "myid"))
	fmt.Print(strings.Join(strings.Split(string(cfg), "\n")[2:], "\n"))
	fmt.Printf("myid %s", myid)
	fmt.Println(filepath.Base(cmd.Argv[0]), cmd.Argv[1], "sanity checks:", checks)
	// Output:
	// server.1=10.0.0.1:2888:3888
	// server.2=10.0.0.2:2888:3888
	// server.5=10.0.0.3:2888:3888
	// myid 2
	// zkServer.sh start-foreground sanity checks: true
}

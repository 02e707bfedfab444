package sdk

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
)

// wireOf is the body a leader sends with n pods registered as `ochopod run` registers them.
func wireOf(n int) []byte {
	w := Wire{Pods: map[string]payload.Payload{}, Dependencies: map[string]map[string]payload.Payload{}}
	for i := range n {
		key := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		w.Pods[key] = payload.Payload{"application": "", "binding": "local", "cluster": "web", "debug": "false",
			"ip": "127.0.0.1", "local": "true", "namespace": "prod", "node": "local", "port": "8080",
			"ports": map[string]any{"8080": 20000 + i}, "public": "127.0.0.1", "seq": i, "status": "", "task": "",
			"zk": "127.0.0.1:2181"}
		w.Key = key
	}
	body, err := json.Marshal(w)
	if err != nil {
		panic(err)
	}
	return body
}

// BenchmarkCluster measures what a pod does with a phase's cluster of 200 pods: open the envelope (every
// request of a phase that does not run a callback), parse it whole, copy it, and render its variables from
// the parsed cluster (ClusterEnv, for hooks) and from the envelope (every start).
// Run: go test -run '^$' -bench Cluster ./runtime/sdk/
func BenchmarkCluster(b *testing.B) {
	body := wireOf(200)
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := OpenEnvelope(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := ParseCluster(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	c, err := ParseCluster(body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("clone", func(b *testing.B) {
		for b.Loop() {
			c.Clone()
		}
	})
	b.Run("env", func(b *testing.B) {
		for b.Loop() {
			if _, err := ClusterEnv(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	e, err := OpenEnvelope(body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("envelope-env", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Env(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

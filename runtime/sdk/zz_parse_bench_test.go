package sdk

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
)

func wireBody(n int) []byte {
	w := Wire{Pods: map[string]payload.Payload{}, Dependencies: map[string]map[string]payload.Payload{}}
	for i := range n {
		key := fmt.Sprintf("%032x", i*7919)
		w.Pods[key] = payload.Payload{"application": "it", "cluster": "scale", "namespace": "it", "binding": "local",
			"ip": "127.0.0.1", "public": "127.0.0.1", "port": "8080", "ports": map[string]any{"8080": 20000 + i},
			"seq": i, "status": "", "task": "", "node": "local", "framework": "local", "zk": "127.0.0.1:2181", "start": 1764000000 + i}
		w.Key = key
	}
	b, _ := json.Marshal(w)
	return b
}

func BenchmarkParse200(b *testing.B) {
	body := wireBody(200)
	b.Logf("body %d bytes", len(body))
	b.Run("valid", func(b *testing.B) {
		for b.Loop() {
			json.Valid(body)
		}
	})
	b.Run("rawmap", func(b *testing.B) {
		for b.Loop() {
			var m map[string]json.RawMessage
			json.Unmarshal(body, &m)
		}
	})
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			ParseCluster(body)
		}
	})
	c, _ := ParseCluster(body)
	b.Run("env", func(b *testing.B) {
		for b.Loop() {
			ClusterEnv(c)
		}
	})
}

func BenchmarkClone200(b *testing.B) {
	c, _ := ParseCluster(wireBody(200))
	for b.Loop() {
		c.Clone()
	}
}

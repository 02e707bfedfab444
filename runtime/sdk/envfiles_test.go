package sdk

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
)

// DESIGN §11: the cluster reaches the process as files always (JSON, 0600, in a directory private to the
// pod), and as variables only while each fits one environment string: 1 000 pods are over 128 KiB.
func TestClusterFiles_WriteTheDocumentsAndSetOnlyWhatFits(t *testing.T) {
	files, err := NewClusterFiles()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = files.Remove() }()
	for _, n := range []int{3, 1000} {
		pods := map[string]any{}
		for i := range n {
			pods[fmt.Sprintf("k%04d", i)] = map[string]any{"ip": "10.0.0.1", "port": "8080", "ports": map[string]any{"8080": 20000 + i}, "seq": i, "pad": strings.Repeat("x", 200)}
		}
		body, _ := json.Marshal(map[string]any{"key": "k0001", "pods": pods, "dependencies": map[string]any{}})
		e, err := OpenEnvelope(body)
		if err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{}
		for _, kv := range files.Environ(e) {
			k, v, _ := strings.Cut(kv, "=")
			if len(kv)+1 > MaxEnvString {
				t.Fatalf("%d pods: %s is %d bytes, over the limit", n, k, len(kv))
			}
			vars[k] = v
		}
		data, err := os.ReadFile(vars[EnvPodsFile])
		if err != nil {
			t.Fatalf("%d pods: %v (vars %v)", n, err, vars["OCHOPOD_ERROR"])
		}
		var list []map[string]any
		if err := json.Unmarshal(data, &list); err != nil || len(list) != n {
			t.Fatalf("%d pods: the file holds %d pods (%v)", n, len(list), err)
		}
		if _, set := vars["OCHOPOD_PODS"]; set != (n == 3) {
			t.Fatalf("%d pods: OCHOPOD_PODS set: %v", n, set)
		}
		if vars["OCHOPOD_SIZE"] != fmt.Sprint(n) || vars[EnvDependenciesFile] == "" {
			t.Fatalf("%d pods: %v", n, vars)
		}
		for path, want := range map[string]os.FileMode{files.Dir: 0o700, vars[EnvPodsFile]: 0o600, vars[EnvDependenciesFile]: 0o600} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Fatalf("%s: %v, want mode %o", path, err, want)
			}
		}
	}
}

// FittedClusterEnv is ClusterEnv after Fit, whatever outgrows one environment string: the pods, one
// dependency, or only all of them together.
func TestFittedClusterEnv_IsClusterEnvAfterFit(t *testing.T) {
	pods := func(prefix string, n int) []Pod {
		out := make([]Pod, n)
		for i := range out {
			out[i] = Pod{Key: fmt.Sprintf("%s-%05d", prefix, i), Payload: payload.Payload{"ip": "10.0.0.1", "seq": i, "pad": strings.Repeat("x", 200)}}
		}
		return out
	}
	for _, c := range []struct {
		name string
		pods []Pod
		deps map[string][]Pod
		cut  []string
	}{
		{"small", pods("p", 3), map[string][]Pod{"db": pods("d", 2)}, nil},
		{"many pods", pods("p", 1000), map[string][]Pod{"db": pods("d", 2)}, []string{"OCHOPOD_PODS"}},
		{"a large dependency", pods("p", 3), map[string][]Pod{"db": pods("d", 2), "web": pods("w", 1000)}, []string{"OCHOPOD_DEPENDENCIES"}},
		{"dependencies large together", pods("p", 3), map[string][]Pod{"a": pods("a", 300), "b": pods("b", 300)}, []string{"OCHOPOD_DEPENDENCIES"}},
		{"everything", pods("p", 1000), map[string][]Pod{"db": pods("d", 1000)}, []string{"OCHOPOD_DEPENDENCIES", "OCHOPOD_PODS"}},
	} {
		cluster := newCluster(c.pods[1].Key, c.pods, c.deps)
		want, err := ClusterEnv(cluster)
		if err != nil {
			t.Fatal(err)
		}
		wantDropped := Fit(want)
		got, dropped, err := FittedClusterEnv(cluster)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || !slices.Equal(dropped, wantDropped) || !slices.Equal(dropped, c.cut) {
			t.Errorf("%s: dropped %v, want %v (cut %v); same variables: %v", c.name, dropped, wantDropped, c.cut, reflect.DeepEqual(got, want))
		}
	}
}

// BenchmarkClusterEnv is a spec pod's variables for its hooks, at each callback, for a 1 MiB body's cluster.
// Run: go test -run '^$' -bench ClusterEnv -benchmem ./runtime/sdk/
func BenchmarkClusterEnv(b *testing.B) {
	c, err := ParseCluster(wireOf(3700))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fitted", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := FittedClusterEnv(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole-then-fit", func(b *testing.B) {
		for b.Loop() {
			vars, err := ClusterEnv(c)
			if err != nil {
				b.Fatal(err)
			}
			Fit(vars)
		}
	})
}

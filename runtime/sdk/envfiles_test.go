package sdk

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
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

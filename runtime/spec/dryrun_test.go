package spec

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what the dry runs print") //nolint:gochecknoglobals // test flag

// The dry run of each example for testdata/pods.json, against testdata/<name>.golden (go test -update rewrites
// them).
func TestDryRun_Golden(t *testing.T) {
	pods := []byte(readFile(t, "testdata/pods.json"))
	for _, c := range []struct {
		golden, spec string
		rt           Runtime
	}{
		{"web", "testdata/web.yaml", Runtime{Dir: "/srv/web", Env: []string{"HOME=/root"}}},
		{"web-command-line", "testdata/web.yaml", Runtime{Dir: "/srv/web", Argv: []string{"nginx", "-g", "daemon off; error_log /dev/stderr;"}}},
		{"zookeeper", "testdata/zookeeper.yaml", Runtime{Env: []string{"ZK_HEAP=2g"}}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			s, err := Load(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.DryRun(pods, c.rt)
			if err != nil {
				t.Fatal(err)
			}
			path := "testdata/" + c.golden + ".golden"
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, path); got != want {
				t.Fatalf("the dry run differs from %s (go test -update rewrites it):\n%s", path, got)
			}
		})
	}
}

func TestDryRun_WritesNothing(t *testing.T) {
	dir := t.TempDir()
	s := mustParse(t, "command: [x]\ntemplates: [{path: a.conf, content: a}]\n")
	out, err := s.DryRun([]byte(readFile(t, "testdata/pods.json")), Runtime{Dir: dir})
	if err != nil || !strings.Contains(out, "==> "+dir+"/a.conf (mode 0644, 1 bytes) <==\na\n\\ No newline at end of file\n") {
		t.Fatalf("got %q, %v", out, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the dry run wrote %v", entries)
	}
}

func TestDryRun_BadClusters(t *testing.T) {
	s := mustParse(t, "command: [x]\n")
	for _, c := range []struct{ pods, want string }{
		{`not json`, "cluster: invalid character"},
		{`{"pods": {"a": {}}}`, "cluster: no key"},
		{`{"pods": {"a": {}}, "key": "b"}`, `cluster: key "b" is not among the 1 pods`},
	} {
		if _, err := s.DryRun([]byte(c.pods), Runtime{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.pods, err, c.want)
		}
	}
}

package spec

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// cluster reads a cluster in the leader's wire form.
func cluster(t *testing.T, wire string) *sdk.Cluster {
	t.Helper()
	c, err := sdk.ParseCluster([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// threePods is testdata/pods.json: pod b2 (index 1, seq 7) of prod.web, two pods of prod.api (declared as "api").
func threePods(t *testing.T) *sdk.Cluster { return cluster(t, readFile(t, "testdata/pods.json")) }

func TestRender_TemplatesSeeTheClusterAndTheHelpers(t *testing.T) {
	s := mustParse(t, `
command: [serve, "--id={{.Seq}}", "--rank={{.Index}}/{{.Size}}"]
env:
  OWN: '{{grep "" 8080}}'
  OWN_PUBLIC: '{{grep "" 8080 true}}'
  API: '{{grep "api" 8000}}'
  API_ABSOLUTE: '{{grep "/prod.api" 8000}}'
  API_QUALIFIED: '{{grep "prod.api" 8000}}'
  API_PODS: '{{range dependency "/prod.api"}}{{.Key}} {{end}}'
  UNKNOWN: '{{grep "nope" 8000}}'
  NOT_EXPOSED: '{{grep "" 9999}}'
  SELF: '{{.Self.ip}}:{{port .Self 8080}} {{.Self.seq}} {{.Key}}'
  MYID: '{{add .Index 1}}'
  KEYS: '{{range .Pods}}{{.Key}} {{end}}'
  FIRST_API_PORT: '{{port (index (index .Dependencies "api") 0) 8000}}'
  JSON: '{{json .Self.ports}}'
  JOINED: '{{.Self.tags | join "+"}}'
  HOME_DIR: '{{.Env.HOME}}'
  SET: '{{env "HOME" | default "none"}}'
  UNSET: '{{env "NOT_SET" | default "none"}}'
`)
	c := threePods(t)
	c.Pods[1].Payload["tags"] = []any{"a", "b"}
	r, err := s.Render(c, Runtime{Env: []string{"HOME=/home/web", "PATH=/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"serve", "--id=7", "--rank=1/3"}; !reflect.DeepEqual(r.Command.Argv, want) {
		t.Errorf("argv %q, want %q", r.Command.Argv, want)
	}
	want := map[string]string{
		"OWN":            "10.0.0.1:31001,10.0.0.2:31002,10.0.0.3:31003",
		"OWN_PUBLIC":     "54.0.0.1:31001,54.0.0.2:31002,54.0.0.3:31003",
		"API":            "10.0.1.4:30004,10.0.1.9:30009", // sorted by key: x4, x9
		"API_ABSOLUTE":   "10.0.1.4:30004,10.0.1.9:30009", // declared "api": found by the payloads' names
		"API_QUALIFIED":  "10.0.1.4:30004,10.0.1.9:30009",
		"API_PODS":       "x4 x9 ",
		"UNKNOWN":        "",
		"NOT_EXPOSED":    "",
		"SELF":           "10.0.0.2:31002 7 b2",
		"MYID":           "2",
		"KEYS":           "a1 b2 c3 ",
		"FIRST_API_PORT": "30004",
		"JSON":           `{"80":32002,"8080":31002}`,
		"JOINED":         "a+b",
		"HOME_DIR":       "/home/web",
		"SET":            "/home/web",
		"UNSET":          "none",
	}
	if !reflect.DeepEqual(r.Command.Env, want) {
		for k, v := range want {
			if r.Command.Env[k] != v {
				t.Errorf("%s = %q, want %q", k, r.Command.Env[k], v)
			}
		}
	}
	if r.Shell || r.FromCommandLine || len(r.Files) != 0 {
		t.Errorf("unexpected %+v", r)
	}
}

// A missing key is an error naming the spec's line, not "<no value>" in a config file.
func TestRender_AMissingKeyIsAnErrorWithTheLine(t *testing.T) {
	s := mustParse(t, "command: [x]\ntemplates:\n  - path: /etc/a.conf\n    content: 'host {{.Self.hostname}}'\n")
	_, err := s.Render(threePods(t), Runtime{})
	if err == nil || !strings.Contains(err.Error(), `pod.yaml:3: templates[0]: template: /etc/a.conf:1:12: executing "/etc/a.conf" at <.Self.hostname>: map has no entry for key "hostname"`) {
		t.Fatalf("got %v", err)
	}
	s = mustParse(t, "command: [x]\nenv:\n  A: '{{.Env.NOT_SET}}'\n")
	if _, err := s.Render(threePods(t), Runtime{}); err == nil || !strings.Contains(err.Error(), `pod.yaml:3: env.A:`) {
		t.Fatalf("got %v", err)
	}
	s = mustParse(t, "command: [x]\nenv:\n  A: '{{port .Self 1234}}'\n")
	if _, err := s.Render(threePods(t), Runtime{}); err == nil || !strings.Contains(err.Error(), "does not expose port 1234") {
		t.Fatalf("got %v", err)
	}
}

func TestRender_TheCommandLineReplacesTheCommandAsIs(t *testing.T) {
	s := mustParse(t, "command: 'exec serve {{.Index | shq}}'\n")
	r, err := s.Render(threePods(t), Runtime{})
	if err != nil || !r.Shell || !reflect.DeepEqual(r.Command.Argv, []string{"exec serve '1'"}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	r, err = s.Render(threePods(t), Runtime{Argv: []string{"echo", "{{.Index}}"}})
	if err != nil || r.Shell || !r.FromCommandLine || !reflect.DeepEqual(r.Command.Argv, []string{"echo", "{{.Index}}"}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	if _, err := mustParse(t, "port: 1\n").Render(threePods(t), Runtime{}); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Fatalf("no command: got %v", err)
	}
}

func TestRender_RelativePathsAreUnderTheWorkingDirectory(t *testing.T) {
	s := mustParse(t, "command: [x]\ntemplates:\n  - {path: conf/a, content: a}\n  - {path: /abs/b, content: b, mode: 600}\n")
	r, err := s.Render(threePods(t), Runtime{Dir: "/srv"})
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{Path: "/srv/conf/a", Mode: 0o644, Content: []byte("a")}, {Path: "/abs/b", Mode: 0o600, Content: []byte("b")}}
	if !reflect.DeepEqual(r.Files, want) {
		t.Fatalf("got %+v", r.Files)
	}
}

func TestWriteFile_IsAtomicWithItsModeAndLeavesNoTemporaryFile(t *testing.T) {
	old := syscall.Umask(0o077) // the mode is set explicitly, whatever the umask
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "app.conf")
	for _, step := range []struct {
		content string
		mode    Mode
	}{{"first\n", 0o640}, {"second, longer\n", 0o755}, {"", 0o666}} {
		if err := WriteFile(path, []byte(step.content), step.mode); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path); got != step.content {
			t.Errorf("content %q, want %q", got, step.content)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != step.mode.FileMode() {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), step.mode.FileMode())
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 || entries[0].Name() != "app.conf" {
			t.Errorf("the directory holds %v, want only app.conf", entries)
		}
	}
}

func TestWriteFile_AFailureLeavesTheOldFileAndNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.conf")
	if err := WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path+".d", 0o755); err != nil {
		t.Fatal(err)
	}
	// Renaming a file over a directory fails after the temporary file was written.
	if err := WriteFile(path+".d", []byte("new"), 0o644); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("the directory holds %v, want app.conf and app.conf.d", entries)
	}
	if got := readFile(t, path); got != "old" {
		t.Fatalf("content %q", got)
	}
}

func TestConfigure_WritesTheFilesAndReturnsTheCommand(t *testing.T) {
	dir := t.TempDir()
	s := mustParse(t, `
command: [serve, "{{.Index}}"]
env: {PEERS: '{{grep "" 8080}}'}
templates:
  - {path: peers.txt, mode: "0600", content: "{{range .Pods}}{{.Payload.ip}}\n{{end}}"}
`)
	l := s.Lifecycle(Runtime{Dir: dir})
	cmd, err := l.Configure(context.Background(), threePods(t))
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Command{Argv: []string{"serve", "1"}, Env: map[string]string{"PEERS": "10.0.0.1:31001,10.0.0.2:31002,10.0.0.3:31003"}}
	if !reflect.DeepEqual(cmd, want) {
		t.Errorf("command %+v, want %+v", cmd, want)
	}
	if got := readFile(t, filepath.Join(dir, "peers.txt")); got != "10.0.0.1\n10.0.0.2\n10.0.0.3\n" {
		t.Errorf("peers.txt: %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "peers.txt")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// After each configuration the files follow the cluster, even without a restart; unchanged files are left
// alone (same inode).
func TestConfigured_RewritesOnlyTheFilesThatChanged(t *testing.T) {
	dir := t.TempDir()
	s := mustParse(t, `
command: [serve]
templates:
  - {path: size, content: "{{.Size}}"}
  - {path: fixed, content: "same"}
`)
	l := s.Lifecycle(Runtime{Dir: dir}).(sdk.Configurer)
	c := threePods(t)
	if _, err := l.(sdk.Lifecycle).Configure(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	before := map[string]os.FileInfo{}
	for _, n := range []string{"size", "fixed"} {
		before[n], _ = os.Stat(filepath.Join(dir, n))
	}
	c2 := cluster(t, `{"key": "a1", "pods": {"a1": {"ip": "10.0.0.1"}, "b2": {"ip": "10.0.0.2"}}}`)
	if err := l.Configured(context.Background(), c2); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "size")); got != "2" {
		t.Errorf("size is %q after the cluster shrank", got)
	}
	after, _ := os.Stat(filepath.Join(dir, "fixed"))
	if !os.SameFile(before["fixed"], after) {
		t.Errorf("an unchanged file was rewritten")
	}
	after, _ = os.Stat(filepath.Join(dir, "size"))
	if os.SameFile(before["size"], after) {
		t.Errorf("a changed file was not replaced by a new one")
	}
}

// A template that fails on this cluster fails the check (which the leader retries), not only the start.
func TestCanConfigure_FailsWhenATemplateFailsAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	s := mustParse(t, "command: [x]\ntemplates:\n  - {path: a, content: '{{index .Dependencies \"api\" 5}}'}\n")
	l := s.Lifecycle(Runtime{Dir: dir}).(sdk.CanConfigurer)
	if err := l.CanConfigure(context.Background(), threePods(t)); err == nil || !strings.Contains(err.Error(), "templates[0]") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the check wrote %v", entries)
	}
}

// Templates call a payload's methods as they did with text/template's executor: every exported method of
// payload.Payload is given to them (a new one must be added to payloadMethod).
func TestRender_PayloadMethods(t *testing.T) {
	typ := reflect.TypeFor[payload.Payload]()
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; payloadMethod(payload.Payload{}, name) == nil {
			t.Errorf("payloadMethod does not give %s", name)
		}
	}
	s := mustParse(t, "command: [\"{{index .Self.Ports \\\"8080\\\"}}\", \"{{.Self.String \\\"ip\\\"}}\"]\n")
	r, err := s.Render(threePods(t), Runtime{})
	if err != nil {
		t.Fatal(err)
	}
	self := NewData(threePods(t), nil).Self
	if want := []string{strconv.FormatInt(self.Ports()["8080"], 10), self.String("ip")}; !reflect.DeepEqual(r.Command.Argv, want) || want[1] == "" {
		t.Fatalf("got %q, want %q", r.Command.Argv, want)
	}
}

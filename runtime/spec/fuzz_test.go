package spec

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/sdk"
)

// FuzzParse: whatever a spec file holds, Parse answers a spec or an *Error naming the file, never a panic;
// a spec that loads with a command run by /bin/sh -c quotes every value it prints (DESIGN §12).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		readFileF(f, "testdata/zookeeper.yaml"),
		"command: 'exec serve {{.Self.ip | shq}}'\n", "command: 'exec serve {{.Self.ip}}'\n",
		"shell: true\ncommand: [a, '{{if .Index}}{{.Key}}{{end}}']\n", "tools:\n  x: {argv: [ls], args: ['[0-9]+']}\n",
		"templates:\n  - {path: a, content: '{{range .Pods}}{{.Key}}{{end}}'}\n", "port: 1\nport: 2\n", "- a\n", "{{", "command: '{{define \"x\"}}{{end}}'\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "pod.yaml")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "pod.yaml") {
				t.Fatalf("error %T %v does not name the file", err, err)
			}
			return
		}
		if s.Command != nil && (s.Command.Shell || (s.Shell != nil && *s.Shell)) {
			if err := s.CheckShell(); err != nil {
				t.Fatalf("a shell command that loads prints values unquoted: %v", err)
			}
		}
	})
}

// renderSpec is what FuzzRender renders: a value of the cluster in a list, in a shell command, in env and
// in a file.
const renderSpec = `
command: [echo, '{{.Self.custom}}', '{{range .Pods}}{{.Payload.custom}}{{end}}']
env:
  CUSTOM: '{{.Self.custom}}'
templates:
  - path: out.txt
    content: 'custom={{.Self.custom}} peers={{grep "" 8080}} json={{json .Self}}'
`

// FuzzRender: a hostile value renders without a panic, stays one argument of a list command and one word
// of a shell command, or is refused as the cluster's fault (sdk.ErrBadCluster: 400) when no exec can pass it.
func FuzzRender(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Add("a\x00b")
	f.Add("{{.Key}}")
	list, err := Parse([]byte(renderSpec), "pod.yaml")
	if err != nil {
		f.Fatal(err)
	}
	shell, err := Parse([]byte("command: 'echo {{.Self.custom | shq}}'\n"), "pod.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c := hostileCluster(t, v)
		r, err := list.Render(c, Runtime{})
		if strings.IndexByte(v, 0) >= 0 {
			if !errors.Is(err, sdk.ErrBadCluster) {
				t.Fatalf("a NUL: %v, want ErrBadCluster", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if !reflect.DeepEqual(r.Command.Argv, []string{"echo", v, v}) || r.Command.Env["CUSTOM"] != v {
			t.Fatalf("%q: argv %q env %q", v, r.Command.Argv, r.Command.Env)
		}
		r, err = shell.Render(c, Runtime{})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got, ok := words(r.Command.Argv[0]); !ok || !reflect.DeepEqual(got, []string{"echo", v}) {
			t.Fatalf("%q: the shell command %q splits into %q (%v)", v, r.Command.Argv[0], got, ok)
		}
	})
}

func readFileF(f *testing.F, path string) string {
	f.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}

package spec

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// hostile are values a pod's payload may carry in keys DESIGN §12 leaves free (its own: a binding's).
var hostile = []string{
	`10.9.9.9"; touch pwned; echo "`, `$(touch pwned)`, "`touch pwned`", `'; touch pwned; '`, `a b	c`,
	`\'`, `'`, `''`, `x\`, "line\nbreak; touch pwned", `*`, `~root`, `--flag`, `&& touch pwned`, `|`, ``,
}

// words splits a command line as /bin/sh does for the forms shq writes and plain words: single quotes,
// backslash escapes, blanks. ok is false on anything else outside quotes (an operator, an expansion): the
// value changed the command's structure.
func words(line string) (out []string, ok bool) {
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted:
			if c == '\'' {
				quoted = false
			} else {
				cur.WriteByte(c)
			}
		case c == '\'':
			quoted, in = true, true
		case c == '\\':
			if i+1 == len(line) {
				return nil, false
			}
			i++
			cur.WriteByte(line[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				out, in = append(out, cur.String()), false
				cur.Reset()
			}
		case strings.IndexByte("\n;&|<>()$`\"*?[]#~", c) >= 0:
			return nil, false
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		return nil, false
	}
	if in {
		out = append(out, cur.String())
	}
	return out, true
}

func hostileCluster(t testing.TB, custom string) *sdk.Cluster {
	t.Helper()
	c, err := sdk.FromWire(sdk.Wire{Key: "k1", Pods: map[string]payload.Payload{
		"k1": {"ip": "10.0.0.1", "port": "8080", "ports": map[string]any{"8080": int64(31001)}, "seq": int64(1), "custom": custom},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// DESIGN §12: shq makes any value one word of a shell command.
func TestShq_AnyValueIsOneWord(t *testing.T) {
	for _, v := range hostile {
		got, ok := words("printf %s " + shq(v))
		if !ok || !reflect.DeepEqual(got, []string{"printf", "%s", v}) {
			t.Errorf("shq(%q) = %s: words %q %v", v, shq(v), got, ok)
		}
	}
}

// DESIGN §12: a command run by /bin/sh -c (one string, or a list with shell: true) prints values only through
// shq, or the spec does not load: the error names the file and the line.
func TestParse_ShellCommandsMustQuoteEveryValue(t *testing.T) {
	for _, tc := range []struct {
		spec string
		bad  string // "" when the spec loads
	}{
		{"command: 'exec serve {{.Self.ip}}'\n", "pod.yaml:1: command: {{.Self.ip}} puts a value"},
		{"command: 'exec serve {{.Self.ip | shq}} {{.Index | shq}}'\n", ""},
		{"command: 'serve {{if .Index}}{{.Self.custom}}{{end}}'\n", "{{.Self.custom}}"},
		{"command: 'serve {{range .Pods}}{{.Payload.ip | shq}} {{end}}'\n", ""},
		{"command: 'serve {{range .Pods}}{{.Payload.ip | printf \"%s\"}}{{end}}'\n", "{{.Payload.ip | printf \"%s\"}}"},
		{"command: 'serve {{$ip := .Self.ip}}{{$ip | shq}}'\n", ""},
		{"command: '{{define \"x\"}}{{.}}{{end}}serve {{template \"x\" .Self.ip}}'\n", `{{template "x" .Self.ip}}`},
		{"shell: true\ncommand: [serve, '{{.Self.ip}}']\n", "pod.yaml:2: command[1]:"},
		{"command: [serve, '{{.Self.ip}}']\n", ""}, // a list is argv: a value stays one argument
		{"command: 'serve'\nenv: {A: '{{.Self.custom}}'}\n", ""},
	} {
		_, err := Parse([]byte(tc.spec), "pod.yaml")
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%q: %v", tc.spec, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%q: %v, want an error with %q", tc.spec, err, tc.bad)
		}
	}
}

// --shell makes a spec's list a shell command: CheckShell holds it to the same rule.
func TestCheckShell_ForAListTurnedIntoAShellCommand(t *testing.T) {
	s := mustParse(t, "command: [serve, '{{.Self.ip}}']\n")
	if err := s.CheckShell(); err == nil || !strings.Contains(err.Error(), "pod.yaml:1: command[1]") {
		t.Fatalf("CheckShell: %v", err)
	}
	if err := mustParse(t, "command: [serve, '{{.Self.ip | shq}}']\n").CheckShell(); err != nil {
		t.Fatal(err)
	}
}

// A value never changes a command's structure: in a list it is one argument as is, in a shell command one
// quoted word; a value no exec can pass (a NUL) is the cluster's fault (sdk.ErrBadCluster: 400), as is data
// a template cannot render.
func TestRender_HostileValuesKeepTheCommandsStructure(t *testing.T) {
	list := mustParse(t, "command: [echo, '{{.Self.custom}}']\n")
	shell := mustParse(t, "command: 'echo {{.Self.custom | shq}}'\n")
	for _, v := range hostile {
		c := hostileCluster(t, v)
		r, err := list.Render(c, Runtime{})
		if err != nil || !reflect.DeepEqual(r.Command.Argv, []string{"echo", v}) {
			t.Errorf("list with %q: %q %v", v, r.Command.Argv, err)
		}
		r, err = shell.Render(c, Runtime{})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := words(r.Command.Argv[0]); !ok || !reflect.DeepEqual(got, []string{"echo", v}) {
			t.Errorf("shell with %q: %s is %q %v", v, r.Command.Argv[0], got, ok)
		}
	}
	_, err := list.Render(hostileCluster(t, "a\x00b"), Runtime{})
	if !errors.Is(err, sdk.ErrBadCluster) {
		t.Fatalf("a NUL: %v, want ErrBadCluster", err)
	}
	_, err = mustParse(t, "command: [echo, '{{port .Self 9999}}']\n").Render(hostileCluster(t, ""), Runtime{})
	if !errors.Is(err, sdk.ErrBadCluster) || !strings.Contains(err.Error(), "pod.yaml:1:") {
		t.Fatalf("data the template cannot render: %v, want ErrBadCluster with the line", err)
	}
}

// The same, by the real /bin/sh: it prints each value back whole, and runs nothing else.
func TestShq_RealShellPrintsTheValueBack(t *testing.T) {
	r := rt(t)
	for _, v := range hostile {
		o, err := run(t.Context(), r, proc.Spec{Argv: []string{"/bin/sh", "-c", "printf %s " + shq(v)}, Dir: r.Dir}, waitLong)
		if err != nil || string(o.stdout) != v {
			t.Errorf("sh printed %q (%v), want %q", o.stdout, err, v)
		}
	}
	if entries, _ := os.ReadDir(r.Dir); len(entries) != 0 {
		t.Fatalf("the shell ran a value: %v", entries)
	}
}

// DESIGN §12: a tool with args takes only what its patterns allow, so the example's log tool reads its log
// and nothing a caller names; args: [] takes no argument; without args any argument goes (as before).
func TestControlTools_ArgsBoundWhatACallerAppends(t *testing.T) {
	s := mustParse(t, `
tools:
  lines: {argv: [sh, -c, 'echo "$1"', lines], args: ['[0-9]{1,4}']}
  fixed: {argv: [echo, fixed], args: []}
  free: {argv: [echo]}
`)
	tools := s.ControlTools(rt(t))
	for _, tc := range []struct {
		tool string
		args []string
		ok   bool
	}{
		{"lines", []string{"100"}, true},
		{"lines", nil, true},
		{"lines", []string{"/etc/passwd"}, false},
		{"lines", []string{"100", "/etc/passwd"}, false},
		{"lines", []string{"100\n"}, false},
		{"fixed", nil, true},
		{"fixed", []string{"/proc/self/environ"}, false},
		{"free", []string{"/etc/passwd"}, true},
	} {
		code, out, err := tools[tc.tool](t.Context(), tc.args)
		if (err == nil && code == 0) != tc.ok {
			t.Errorf("%s %q: code %d %v %q, want ok=%v", tc.tool, tc.args, code, err, out, tc.ok)
		}
	}
	if _, err := Parse([]byte("tools:\n  x: {argv: [ls], args: ['(']}\n"), "pod.yaml"); err == nil || !strings.Contains(err.Error(), "pod.yaml:2: tools.x.args") {
		t.Fatalf("a bad pattern: %v", err)
	}
}

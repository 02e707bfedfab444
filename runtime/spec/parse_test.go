package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func mustParse(t *testing.T, text string) *Spec {
	t.Helper()
	s, err := Parse([]byte(text), "pod.yaml")
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", text, err)
	}
	return s
}

func TestParse_TheExampleLoadsWithEverySetting(t *testing.T) {
	s, err := Load("testdata/web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	str := func(p *string) string { return *p }
	dur := func(p *Duration) time.Duration { return p.Std() }
	checks := []struct {
		what      string
		got, want any
	}{
		{"cluster", str(s.Cluster), "web"},
		{"namespace", str(s.Namespace), "prod"},
		{"port", *s.Port, 8080},
		{"zk (commented out)", s.ZK, (*string)(nil)},
		{"session_timeout", dur(s.SessionTimeout), 10 * time.Second},
		{"linger", dur(s.Linger), 5 * time.Second},
		{"log_level", str(s.LogLevel), "info"},
		{"depends_on", s.DependsOn, []string{"api"}},
		{"damper", dur(s.Damper), 5 * time.Second},
		{"probe_every", dur(s.ProbeEvery), 30 * time.Second},
		{"grace", dur(s.Grace), 30 * time.Second},
		{"sequential", *s.Sequential, false},
		{"full_shutdown", *s.FullShutdown, false},
		{"checks", *s.Checks, 3},
		{"check_every", dur(s.CheckEvery), 20 * time.Second},
		{"pipe", *s.Pipe, true},
		{"start", *s.Start, true},
		{"cwd", str(s.Cwd), "/srv/web"},
		{"command", *s.Command, Command{Argv: []string{"nginx", "-c", "/srv/web/nginx.conf", "-g", "daemon off;"}}},
		{"env", len(s.Env), 4},
		{"templates", len(s.Templates), 2},
		{"mode 1", *s.Templates[0].Mode, Mode(0o644)},
		{"mode 2 (unquoted)", *s.Templates[1].Mode, Mode(0o640)},
		{"source read", strings.Contains(s.Templates[1].text, `"peers"`), true},
		{"hooks", len(s.Hooks.list()), 7},
		{"sanity_check timeout", s.Hooks.SanityCheck.Timeout.Std(), 5 * time.Second},
		{"tear_down argv", s.Hooks.TearDown.Argv, []string{"nginx", "-s", "quit"}},
		{"probe", s.Probe.Shell != "", true},
		{"tools", len(s.Tools), 2},
		{"tool argv", s.Tools["log"].Argv, []string{"sh", "-c", `exec tail -n "$1" /var/log/web/access.log`, "log"}},
		{"tool args", *s.Tools["log"].Args, []string{"[0-9]{1,4}"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

// A spec written back as YAML reads the same: the custom types (durations, modes, both forms of command)
// marshal in a form they parse.
func TestParse_RoundTrip(t *testing.T) {
	for _, text := range []string{
		readFile(t, "testdata/web.yaml"),
		"command: exec nginx -g 'daemon off;'\nenv: {A: b}\ntemplates: [{path: x, content: ''}]\n",
	} {
		first, err := Parse([]byte(text), "testdata/web.yaml")
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(first)
		if err != nil {
			t.Fatal(err)
		}
		second, err := Parse(out, "testdata/web.yaml")
		if err != nil {
			t.Fatalf("the marshalled spec does not parse: %v\n%s", err, out)
		}
		again, err := yaml.Marshal(second)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(again) {
			t.Fatalf("round trip changed the spec:\n%s\n---\n%s", out, again)
		}
		if !reflect.DeepEqual(first.Command, second.Command) || !reflect.DeepEqual(first.Hooks, second.Hooks) ||
			!reflect.DeepEqual(first.Grace, second.Grace) || !reflect.DeepEqual(first.Templates[0].Mode, second.Templates[0].Mode) {
			t.Fatalf("round trip changed values:\n%s", out)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every kind of mistake is reported with the file, the line and where in the spec, in words.
func TestParse_ErrorsNameTheFileAndLine(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.tmpl")
	cases := []struct {
		name, text string
		want       []string // substrings of the message, in this order
	}{
		{"unknown top-level key", "cluster: web\nclustr: web\n",
			[]string{`pod.yaml:2: unknown key "clustr": did you mean "cluster"? (known keys: binding, check_every, check_start, checks, cluster,`}},
		{"unknown hook", "hooks:\n  initialize: {argv: [true]}\n  on_start:\n    argv: [true]\n",
			[]string{`pod.yaml:3: hooks: unknown key "on_start" (known keys: can_configure, configured, finalize, initialize, sanity_check, signaled, tear_down)`}},
		{"unknown key in a hook", "hooks:\n  sanity_check:\n    shell: true\n    timout: 5s\n",
			[]string{`pod.yaml:4: hooks.sanity_check: unknown key "timout": did you mean "timeout"? (known keys: argv, shell, timeout)`}},
		{"flag spelling", "check-every: 5s\n", []string{`pod.yaml:1: unknown key "check-every": did you mean "check_every"?`}},
		{"a tool has no shell", "tools:\n  x:\n    shell: ls\n",
			[]string{`pod.yaml:3: tools.x: unknown key "shell" (known keys: args, argv, description, timeout)`}},
		{"wrong type: string for int", "cluster: web\nport: http\n", []string{`pod.yaml:2: port: want an integer, got "http"`}},
		{"wrong type: long string", "checks: threethreethree\n", []string{`pod.yaml:1: checks: want an integer, got "threethreethree"`}},
		{"wrong type: bool", "\n\nsoft: maybe\n", []string{`pod.yaml:3: soft: want true or false, got "maybe"`}},
		{"wrong type: list", "depends_on: db\n", []string{`pod.yaml:1: depends_on: want a list of strings, got "db"`}},
		{"wrong type: hooks", "hooks: [a]\n", []string{`pod.yaml:1: hooks: want a mapping of hook names`}},
		{"wrong type: in a list", "depends_on: [a, [b]]\n", []string{`pod.yaml:1: depends_on[1]: want a string, got a list`}},
		{"bad duration", "grace: 10\n", []string{`pod.yaml:1: grace: "10" is not a duration: want a number with a unit, such as 10s`}},
		{"bad duration in a hook", "probe:\n  argv: [x]\n  timeout: soon\n", []string{`pod.yaml:3: probe.timeout: "soon" is not a duration`}},
		{"negative duration", "damper: -1s\n", []string{`pod.yaml:1: damper: duration -1s must not be negative`}},
		{"zero grace", "grace: 0s\n", []string{`pod.yaml:1: grace: must be more than 0`}},
		{"bad port", "port: 70000\n", []string{`pod.yaml:1: port: 70000 is not a port`}},
		{"bad checks", "checks: 0\n", []string{`pod.yaml:1: checks: 0: want at least 1`}},
		{"empty string setting", "cluster: ''\n", []string{`pod.yaml:1: cluster: must not be empty`}},
		{"bad mode", "templates:\n  - path: a\n    content: x\n    mode: \"0999\"\n",
			[]string{`pod.yaml:4: templates[0].mode: mode "0999": want octal permission bits such as 0644`}},
		{"mode out of range", "templates:\n  - path: a\n    content: x\n    mode: 17777\n", []string{`pod.yaml:4: templates[0].mode: mode the number 17777: want octal`}},
		{"mode as letters", "templates:\n- {path: a, content: x, mode: rw-r--r--}\n", []string{`pod.yaml:2: templates[0].mode: mode "rw-r--r--"`}},
		{"template without content", "templates:\n  - path: a\n", []string{`pod.yaml:2: templates[0]: a template needs content`}},
		{"template with both", "templates:\n  - path: a\n    content: x\n    source: y\n", []string{`pod.yaml:2: templates[0]: give content or source, not both`}},
		{"template without path", "templates:\n  - content: x\n", []string{`pod.yaml:2: templates[0]: a template needs a path`}},
		{"template twice", "templates:\n  - {path: /a/b, content: x}\n  - {path: /a/./b, content: y}\n", []string{`pod.yaml:3: templates[1].path: /a/./b is written by templates[0] already`}},
		{"template source missing", "templates:\n  - path: a\n    source: " + missing + "\n", []string{`pod.yaml:3: templates[0].source: cannot read the template: open ` + missing}},
		{"template syntax", "templates:\n  - path: /etc/x.conf\n    content: |\n      ok\n      {{.Index\n", []string{`pod.yaml:3: templates[0].content: template: /etc/x.conf:3: unclosed action started at /etc/x.conf:2`}},
		{"template unknown function", "env:\n  A: '{{nope 1}}'\n", []string{`pod.yaml:2: env.A: template: env.A:1: function "nope" not defined`}},
		{"command template", "command: [run, '{{.Index']\n", []string{`pod.yaml:1: command[1]: template: command[1]:1: unclosed action`}},
		{"bad env name", "env:\n  1X: a\n", []string{`pod.yaml:2: env.1X: not a variable name`}},
		{"empty command", "command: []\n", []string{`pod.yaml:1: command: the command is empty`}},
		{"command of the wrong type", "command: {a: b}\n", []string{`pod.yaml:1: command: want the command as a list of arguments, or as one string`}},
		{"string command without shell", "shell: false\ncommand: nginx -g 'daemon off;'\n", []string{`pod.yaml:2: command: a command written as one string is run by /bin/sh -c, so shell cannot be false`}},
		{"hook with argv and shell", "hooks:\n  finalize:\n    argv: [a]\n    shell: b\n", []string{`pod.yaml:2: hooks.finalize: give argv or shell, not both`}},
		{"hook with neither", "hooks:\n  finalize: {timeout: 1s}\n", []string{`pod.yaml:2: hooks.finalize: give argv (a program and its arguments) or shell`}},
		{"tool without argv", "tools:\n  x: {description: nothing}\n", []string{`pod.yaml:2: tools.x: a tool needs argv`}},
		{"tool name with a space", "tools:\n  'a b': {argv: [ls]}\n", []string{`pod.yaml:2: tools.a b: tool name "a b": want one word`}},
		{"key twice", "port: 1\nport: 2\n", []string{`pod.yaml:2: key "port" given twice (first at line 1)`}},
		{"syntax", "port: 1\nenv: [\n", []string{`pod.yaml:2: did not find expected node content`}},
		{"empty", "", []string{`pod.yaml: the spec is empty`}},
		{"comments only", "# nothing\n", []string{`pod.yaml: the spec is empty`}},
		{"not a mapping", "- a\n", []string{`pod.yaml:1: want a mapping of settings at the top, got a list`}},
		{"two documents", "port: 1\n---\nport: 2\n", []string{`pod.yaml:2: only one YAML document is allowed`}},
		{"every problem at once, by line", "port: x\nhooks:\n  bogus: {}\ngrace: 1\n",
			[]string{"pod.yaml:1: port: want an integer", "\npod.yaml:3: hooks: unknown key \"bogus\"", "\npod.yaml:4: grace: \"1\" is not a duration"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.text), "pod.yaml")
			if err == nil {
				t.Fatalf("no error for:\n%s\n(got %+v)", c.text, s)
			}
			var se *Error
			if !errors.As(err, &se) || se.File != "pod.yaml" || len(se.Problems) == 0 {
				t.Fatalf("want a *spec.Error, got %T %v", err, err)
			}
			msg, at := err.Error(), 0
			for _, w := range c.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("the message\n%s\nlacks (after offset %d)\n%s", msg, at, w)
				}
				at += i + len(w)
			}
		})
	}
}

func TestParse_ModesAreOctalDigits(t *testing.T) {
	for _, m := range []string{"644", "0644", `"0644"`, "0o644", `'644'`} {
		s := mustParse(t, "templates: [{path: a, content: x, mode: "+m+"}]\n")
		if got := *s.Templates[0].Mode; got != 0o644 {
			t.Errorf("mode %s read as %s, want 0644", m, got)
		}
	}
	s := mustParse(t, "templates: [{path: a, content: x, mode: 4755}, {path: b, content: y}]\n")
	if got := s.Templates[0].Mode.FileMode(); got != fs.ModeSetuid|0o755 {
		t.Errorf("4755 is %v, want setuid 0755", got)
	}
	if s.Templates[1].Mode != nil {
		t.Errorf("no mode should stay unset (0644 when rendered)")
	}
}

func TestParse_StringCommandRunsByTheShell(t *testing.T) {
	s := mustParse(t, "command: exec nginx -g 'daemon off;'\n")
	if want := (Command{Argv: []string{"exec nginx -g 'daemon off;'"}, Shell: true}); !reflect.DeepEqual(*s.Command, want) {
		t.Fatalf("got %#v", *s.Command)
	}
	s = mustParse(t, "command: [sleep, 10]\n") // numbers are arguments too
	if want := []string{"sleep", "10"}; !reflect.DeepEqual(s.Command.Argv, want) || s.Command.Shell {
		t.Fatalf("got %#v", *s.Command)
	}
}

func TestLoad_MissingFileIsNotExist(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "pod.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

// The example in the package documentation is testdata/web.yaml, word for word.
func TestDoc_ExampleIsTestdataWebYAML(t *testing.T) {
	doc := readFile(t, "doc.go")
	_, block, ok := strings.Cut(doc, "// # A complete example\n")
	if !ok {
		t.Fatal("doc.go has no example section")
	}
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		switch {
		case l == "//":
			lines = append(lines, "")
		case strings.HasPrefix(l, "//\t"):
			lines = append(lines, strings.TrimPrefix(l, "//\t"))
		}
	}
	got := strings.TrimLeft(strings.Join(lines, "\n"), "\n") + "\n"
	if want := readFile(t, "testdata/web.yaml"); got != want {
		t.Fatalf("the example in doc.go differs from testdata/web.yaml:\n%s", got)
	}
}

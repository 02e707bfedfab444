package spec

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// validate checks what the types cannot, reads the templates' sources and parses every template, so that a
// spec that loads can only fail later on the cluster's data. dir is the base of relative sources.
func (s *Spec) validate(l locator, dir string) []Problem {
	var ps []Problem
	add := func(msg string, path ...any) { ps = append(ps, l.problem(msg, path...)) }

	if s.Port != nil && (*s.Port < 1 || *s.Port > 65535) {
		add(fmt.Sprintf("%d is not a port: want 1 to 65535", *s.Port), "port")
	}
	if s.Checks != nil && *s.Checks < 1 {
		add(fmt.Sprintf("%d: want at least 1", *s.Checks), "checks")
	}
	for _, d := range []struct {
		key string
		v   *Duration
	}{{"grace", s.Grace}, {"check_every", s.CheckEvery}, {"probe_every", s.ProbeEvery}, {"session_timeout", s.SessionTimeout}} {
		if d.v != nil && *d.v == 0 {
			add("must be more than 0", d.key)
		}
	}
	for _, v := range []struct {
		key string
		v   *string
	}{
		{"zk", s.ZK}, {"cluster", s.Cluster}, {"namespace", s.Namespace}, {"binding", s.Binding},
		{"log_level", s.LogLevel}, {"log_format", s.LogFormat}, {"cwd", s.Cwd},
	} {
		if v.v != nil && strings.TrimSpace(*v.v) == "" {
			add("must not be empty (leave the key out for the default)", v.key)
		}
	}
	for i, d := range s.DependsOn {
		if strings.TrimSpace(d) == "" {
			add("an empty cluster name", "depends_on", i)
		}
	}

	if c := s.Command; c != nil {
		switch {
		case len(c.Argv) == 0:
			add("the command is empty", "command")
		case strings.TrimSpace(c.Argv[0]) == "":
			add("the program is empty", "command")
		case c.Shell && s.Shell != nil && !*s.Shell:
			add("a command written as one string is run by /bin/sh -c, so shell cannot be false: write the command as a list of arguments instead", "command")
		}
		for i, arg := range c.Argv {
			path := []any{"command", i}
			if c.Shell {
				path = path[:1]
			}
			if err := parseTemplate(pathString(path), arg); err != nil {
				add(err.Error(), path...)
			}
		}
		if c.Shell || (s.Shell != nil && *s.Shell) { // DESIGN §12: values go through shq
			ps = append(ps, s.shellProblems(l)...)
		}
	}

	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		if !validEnvName(k) {
			add("not a variable name: want letters, digits and _, not starting with a digit", "env", k)
			continue
		}
		if err := parseTemplate("env."+k, s.Env[k]); err != nil {
			add(err.Error(), "env", k)
		}
	}

	seen := map[string]int{}
	for i := range s.Templates {
		t := &s.Templates[i]
		switch {
		case strings.TrimSpace(t.Path) == "":
			add("a template needs a path", "templates", i)
			continue
		case strings.ContainsRune(t.Path, 0) || strings.HasSuffix(t.Path, "/"):
			add(fmt.Sprintf("%q is not a file path", t.Path), "templates", i, "path")
			continue
		}
		clean := filepath.Clean(t.Path)
		if j, dup := seen[clean]; dup {
			add(fmt.Sprintf("%s is written by templates[%d] already", t.Path, j), "templates", i, "path")
		}
		seen[clean] = i
		switch {
		case t.Content != nil && t.Source != "":
			add("give content or source, not both", "templates", i)
			continue
		case t.Content != nil:
			t.text = *t.Content
		case t.Source != "":
			src := t.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(dir, src)
			}
			b, err := os.ReadFile(src)
			if err != nil {
				add(fmt.Sprintf("cannot read the template: %v", err), "templates", i, "source")
				continue
			}
			t.text = string(b)
		default:
			add("a template needs content (the template itself) or source (a file holding it)", "templates", i)
			continue
		}
		if err := parseTemplate(t.name(), t.text); err != nil {
			where := "content"
			if t.Source != "" {
				where = "source"
			}
			add(err.Error(), "templates", i, where)
		}
	}

	for _, h := range s.Hooks.list() {
		ps = append(ps, h.hook.validate(l, "hooks", h.name)...)
	}
	if s.Probe != nil {
		ps = append(ps, s.Probe.validate(l, "probe")...)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Tools)) {
		t := s.Tools[name]
		switch {
		case name == "" || strings.IndexFunc(name, unicode.IsSpace) >= 0:
			add(fmt.Sprintf("tool name %q: want one word (/exec splits its header on white space)", name), "tools", name)
		case len(t.Argv) == 0 || t.Argv[0] == "":
			add("a tool needs argv: the program and its first arguments", "tools", name)
		}
		if _, err := t.patterns(); err != nil {
			add(err.Error(), "tools", name, "args")
		}
	}
	return ps
}

func (h *Hook) validate(l locator, path ...any) []Problem {
	switch {
	case len(h.Argv) > 0 && h.Shell != "":
		return []Problem{l.problem("give argv or shell, not both", path...)}
	case len(h.Argv) == 0 && strings.TrimSpace(h.Shell) == "":
		return []Problem{l.problem("give argv (a program and its arguments) or shell (a command line for /bin/sh -c)", path...)}
	case len(h.Argv) > 0 && h.Argv[0] == "":
		return []Problem{l.problem("the program is empty", append(path, "argv")...)}
	}
	return nil
}

// name is the template's name in error messages: its source file, or the file it renders.
func (t *Template) name() string {
	if t.Source != "" {
		return t.Source
	}
	return t.Path
}

// namedHook is a hook with its YAML name.
type namedHook struct {
	name string
	hook *Hook
}

// list is the hooks that are given, in the order of DESIGN §6.
func (h Hooks) list() []namedHook {
	var out []namedHook
	for _, n := range []namedHook{
		{"initialize", h.Initialize}, {"can_configure", h.CanConfigure}, {"configured", h.Configured},
		{"sanity_check", h.SanityCheck}, {"tear_down", h.TearDown}, {"signaled", h.Signaled}, {"finalize", h.Finalize},
	} {
		if n.hook != nil {
			out = append(out, n)
		}
	}
	return out
}

func validEnvName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, r := range k {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

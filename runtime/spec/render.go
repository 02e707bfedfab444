package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/tmpl"
)

// Data is what the templates of a spec see (command, env and files): the cluster as this pod sees it during a
// configuration, its own payload, and the pod's environment. Numbers of the payloads that are integers (seq,
// ports) are int64, so {{.Self.seq}} prints 12, not 1.2e+01.
type Data struct {
	Key          string               // this pod's key
	Seq          int64                // this pod's seq, stable for its life
	Index        int                  // this pod's rank in the cluster sorted by key, 0..Size-1
	Size         int                  // how many pods the cluster has
	Pods         []sdk.Pod            // the cluster sorted by key: .Key and .Payload of each
	Dependencies map[string][]sdk.Pod // depends_on entry as declared -> its pods as last configured, sorted by key
	Self         payload.Payload      // this pod's registration payload (.Self.ip, .Self.ports...)
	Env          map[string]string    // the pod's environment (.Env.HOME fails when HOME is not set)

	cluster *sdk.Cluster
}

// NewData is the data of the templates for cluster c and the pod's environment env (KEY=VALUE).
func NewData(c *sdk.Cluster, env []string) *Data {
	d := &Data{
		Key: c.Key, Seq: c.Seq, Index: c.Index, Size: c.Size,
		Pods: normalPods(c.Pods), Dependencies: map[string][]sdk.Pod{}, Env: envMap(env), cluster: c,
	}
	for name, pods := range c.Dependencies {
		d.Dependencies[name] = normalPods(pods)
	}
	if c.Index >= 0 && c.Index < len(d.Pods) {
		d.Self = d.Pods[c.Index].Payload
	} else {
		d.Self = payload.Payload{}
	}
	return d
}

// funcs are the helpers of the templates (see the package documentation).
func (d *Data) funcs() template.FuncMap {
	return template.FuncMap{
		"grep":       d.grep,
		"dependency": d.dependency,
		"port":       hostPort,
		"json":       toJSON,
		"join":       join,
		"env":        func(name string) string { return d.Env[name] },
		"default":    orDefault,
		"add":        add,
		"shq":        shq,
	}
}

// grep is "ip:port,ip:port" for the pods of a dependency that expose a container port (see sdk.Cluster.Grep).
// The dependency is named as in depends_on ("db", "/prod.db", "db-*"; "" is this pod's own cluster), or
// as one cluster among them (sdk.Cluster.Dependency). An unknown dependency, or one without pods, gives "".
func (d *Data) grep(dependency string, port any, public ...bool) (string, error) {
	p, err := toInt(port)
	if err != nil {
		return "", fmt.Errorf("grep: port: %w", err)
	}
	if len(public) > 1 {
		return "", errors.New("grep: want a dependency, a port and at most one true or false (public)")
	}
	if d.cluster == nil {
		return "", nil
	}
	return strings.Join(d.cluster.Grep(dependency, int(p), len(public) == 1 && public[0]), ","), nil
}

// dependency is the pods of a dependency named as grep takes it, sorted by key; none when unknown.
func (d *Data) dependency(name string) []sdk.Pod {
	if d.cluster == nil {
		return nil
	}
	return normalPods(d.cluster.Dependency(name))
}

// hostPort is the host port a pod (an element of .Pods, or a payload such as .Self) maps a container port to.
func hostPort(pod any, containerPort any) (int64, error) {
	var p payload.Payload
	switch v := pod.(type) {
	case sdk.Pod:
		p = v.Payload
	case payload.Payload:
		p = v
	case map[string]any:
		p = v
	default:
		return 0, fmt.Errorf("port: want a pod or a payload, got %T", pod)
	}
	cp, err := toInt(containerPort)
	if err != nil {
		return 0, fmt.Errorf("port: %w", err)
	}
	host, ok := p.Ports()[strconv.FormatInt(cp, 10)]
	if !ok {
		return 0, fmt.Errorf("port: the pod at %s does not expose port %d", p.String(payload.KeyIP), cp)
	}
	return host, nil
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return string(b), nil
}

// join is strings.Join for the lists templates hold; the separator comes first so that pipes read well:
// {{.List | join ","}}.
func join(sep string, list any) (string, error) {
	switch v := list.(type) {
	case []string:
		return strings.Join(v, sep), nil
	case string:
		return v, nil
	}
	rv := reflect.ValueOf(list)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return "", fmt.Errorf("join: want a list, got %T", list)
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		parts[i] = fmt.Sprint(rv.Index(i).Interface())
	}
	return strings.Join(parts, sep), nil
}

// orDefault is v, or def when v is empty (nil, "", 0, false, an empty list or mapping): {{env "X" | default "y"}}.
func orDefault(def, v any) any {
	if v == nil {
		return def
	}
	if rv := reflect.ValueOf(v); rv.IsZero() || ((rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0) {
		return def
	}
	return v
}

func add(a, b any) (int64, error) {
	x, err := toInt(a)
	if err != nil {
		return 0, fmt.Errorf("add: %w", err)
	}
	y, err := toInt(b)
	if err != nil {
		return 0, fmt.Errorf("add: %w", err)
	}
	return x + y, nil
}

func toInt(v any) (int64, error) {
	switch v := v.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case float64:
		if v == math.Trunc(v) {
			return int64(v), nil
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// parseTemplate checks that text parses, with the helpers known.
func parseTemplate(name, text string) error {
	_, err := newTemplate(name, text, &Data{})
	return err
}

func newTemplate(name, text string, d *Data) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(d.funcs()).Parse(text)
}

// execute renders text with package tmpl, not text/template's Execute: a binary that reaches the latter
// keeps every exported method of its types (2.2 MB of ochopod's; see package tmpl).
func execute(name, text string, d *Data) (string, error) {
	t, err := newTemplate(name, text, d)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, t, d, tmpl.Options{Funcs: d.funcs(), Methods: payloadMethod}); err != nil {
		return "", dataError{err}
	}
	return b.String(), nil
}

// payloadMethod gives the methods of a payload (.Self, .Payload of a pod) to templates, as text/template
// did: {{.Self.Ports}}, {{.Self.String "ip"}}.
func payloadMethod(receiver any, name string) any {
	p, ok := receiver.(payload.Payload)
	if !ok {
		return nil
	}
	switch name {
	case "ControlAddress":
		return p.ControlAddress
	case "Marshal":
		return p.Marshal
	case "Clone":
		return p.Clone
	case "DeepClone":
		return p.DeepClone
	case "With":
		return p.With
	case "String":
		return p.String
	case "Int":
		return p.Int
	case "Seq":
		return p.Seq
	case "Ports":
		return p.Ports
	}
	return nil
}

// noNUL refuses a rendered argument or variable holding a NUL byte, which no exec can pass: the cluster's
// data is at fault, and the request gets 400 instead of a spawn that fails and kills the pod.
func noNUL(v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return dataError{errors.New("the value holds a NUL byte")}
	}
	return nil
}

// dataError is a template that parsed but failed on the cluster it was given: the request's data is at
// fault (sdk.ErrBadCluster), and the check of the same cluster fails first when the leader sends it. The
// message is the template's own.
type dataError struct{ err error }

func (e dataError) Error() string   { return e.err.Error() }
func (e dataError) Unwrap() []error { return []error{sdk.ErrBadCluster, e.err} }

// Rendered is what a spec gives for one cluster.
type Rendered struct {
	Files []File
	// Command is the process: its argv and the spec's env, rendered. The runtime adds $ochopod and the
	// OCHOPOD_* variables of DESIGN §11 to the environment.
	Command sdk.Command
	// Shell: the command was written as one string, to run by /bin/sh -c.
	Shell bool
	// FromCommandLine: the command is Runtime.Argv, not the spec's.
	FromCommandLine bool
}

// File is a rendered template.
type File struct {
	Path    string // Template.Path, joined to Runtime.Dir when relative
	Mode    Mode
	Content []byte
}

// Render renders the command, the env and the templates of the spec for cluster c, writing nothing. An error
// names the spec's file and line of what failed.
func (s *Spec) Render(c *sdk.Cluster, rt Runtime) (*Rendered, error) {
	d := NewData(c, rt.Env)
	r := &Rendered{}
	switch {
	case len(rt.Argv) > 0:
		r.Command.Argv, r.FromCommandLine = slices.Clone(rt.Argv), true
	case s.Command != nil && len(s.Command.Argv) > 0:
		r.Shell = s.Command.Shell
		for i, arg := range s.Command.Argv {
			path := []any{"command", i}
			if s.Command.Shell {
				path = path[:1]
			}
			v, err := execute(pathString(path), arg, d)
			if err == nil {
				err = noNUL(v)
			}
			if err != nil {
				return nil, s.renderError(err, path...)
			}
			r.Command.Argv = append(r.Command.Argv, v)
		}
	default:
		return nil, errors.New("no command to run: give one in the spec (command) or after --")
	}
	if len(s.Env) > 0 {
		r.Command.Env = make(map[string]string, len(s.Env))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		v, err := execute("env."+k, s.Env[k], d)
		if err == nil {
			err = noNUL(v)
		}
		if err != nil {
			return nil, s.renderError(err, "env", k)
		}
		r.Command.Env[k] = v
	}
	for i := range s.Templates {
		t := &s.Templates[i]
		text := t.text
		if text == "" && t.Content != nil {
			text = *t.Content // a Spec built in Go
		}
		v, err := execute(t.name(), text, d)
		if err != nil {
			return nil, s.renderError(err, "templates", i)
		}
		mode := DefaultMode
		if t.Mode != nil {
			mode = *t.Mode
		}
		path := t.Path
		if !filepath.IsAbs(path) && rt.Dir != "" {
			path = filepath.Join(rt.Dir, path)
		}
		r.Files = append(r.Files, File{Path: path, Mode: mode, Content: []byte(v)})
	}
	return r, nil
}

// renderError places a template's error in the spec: "pod.yaml:12: env.UPSTREAM: template: ...".
func (s *Spec) renderError(err error, path ...any) error {
	line, p := locator{root: s.root}.at(path...)
	if s.file == "" || line == 0 {
		return fmt.Errorf("%s: %w", p, err)
	}
	return fmt.Errorf("%s:%d: %s: %w", s.file, line, p, err)
}

// WriteFile writes a file atomically: a temporary file in the same directory (created if missing) gets the
// content and the mode, is synced and renamed over path, so readers see the old file or the new one, never a
// part. The directory is synced too, where the file system allows it.
func WriteFile(path string, content []byte, mode Mode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode.FileMode()); err != nil { // not subject to the umask, unlike the create
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // makes the rename durable; some file systems refuse to sync a directory
		_ = d.Close()
	}
	return nil
}

// writeChanged writes f unless the file already holds that content with that mode; it reports whether it wrote.
func writeChanged(f File) (bool, error) {
	if old, err := os.ReadFile(f.Path); err == nil && bytes.Equal(old, f.Content) {
		if fi, err := os.Stat(f.Path); err == nil && fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == f.Mode.FileMode() {
			return false, nil
		}
	}
	return true, WriteFile(f.Path, f.Content, f.Mode)
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

func normalPods(pods []sdk.Pod) []sdk.Pod {
	out := make([]sdk.Pod, len(pods))
	for i, p := range pods {
		out[i] = sdk.Pod{Key: p.Key, Payload: normal(map[string]any(p.Payload)).(map[string]any)}
	}
	return out
}

// normal copies a JSON value with its integral float64s as int64, so templates print them as integers.
func normal(v any) any {
	switch v := v.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normal(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normal(x)
		}
		return out
	}
	return v
}

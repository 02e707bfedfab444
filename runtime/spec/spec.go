package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Spec is a pod spec file. A nil pointer or nil slice is a setting the file does not give: the command line,
// the environment or the built-in default decide it (see the package documentation for the precedence).
// Load and Parse return valid specs only; a Spec built in Go is not validated.
type Spec struct {
	// The pod (DESIGN §9, §11).
	ZK             *string   `yaml:"zk,omitempty"`
	Cluster        *string   `yaml:"cluster,omitempty"`
	Namespace      *string   `yaml:"namespace,omitempty"`
	Port           *int      `yaml:"port,omitempty"`
	Binding        *string   `yaml:"binding,omitempty"`
	SessionTimeout *Duration `yaml:"session_timeout,omitempty"`
	Linger         *Duration `yaml:"linger,omitempty"`
	LogLevel       *string   `yaml:"log_level,omitempty"`
	LogFormat      *string   `yaml:"log_format,omitempty"`

	// The cluster model, run by the leader (DESIGN §7).
	Damper       *Duration `yaml:"damper,omitempty"`
	ProbeEvery   *Duration `yaml:"probe_every,omitempty"`
	DependsOn    []string  `yaml:"depends_on,omitempty"`
	Grace        *Duration `yaml:"grace,omitempty"`
	Sequential   *bool     `yaml:"sequential,omitempty"`
	FullShutdown *bool     `yaml:"full_shutdown,omitempty"`

	// The lifecycle of the process (DESIGN §6).
	Checks     *int      `yaml:"checks,omitempty"`
	CheckEvery *Duration `yaml:"check_every,omitempty"`
	CheckStart *Duration `yaml:"check_start,omitempty"` // 0: the first check right after a start (the original)
	Soft       *bool     `yaml:"soft,omitempty"`
	Strict     *bool     `yaml:"strict,omitempty"`
	Shell      *bool     `yaml:"shell,omitempty"`
	Cwd        *string   `yaml:"cwd,omitempty"`
	Pipe       *bool     `yaml:"pipe,omitempty"`
	Start      *bool     `yaml:"start,omitempty"`

	// Command is the process to run; `ochopod run -- command args` replaces it (Runtime.Argv).
	Command *Command `yaml:"command,omitempty"`
	// Env is added to the process's environment; each value is a template.
	Env map[string]string `yaml:"env,omitempty"`
	// Templates are the files written before each start and after each configuration.
	Templates []Template `yaml:"templates,omitempty"`
	// Hooks are the optional callbacks of DESIGN §6, run as processes.
	Hooks Hooks `yaml:"hooks,omitempty"`
	// Probe is the leader's probe (DESIGN §7): its standard output is the cluster's status.
	Probe *Hook `yaml:"probe,omitempty"`
	// Tools are the commands /exec runs (DESIGN §8), by name.
	Tools map[string]Tool `yaml:"tools,omitempty"`

	file string     // where the spec was read from, for error messages
	root *yaml.Node // the document's mapping, for the line numbers of rendering errors
}

// Command is the process to run. Written as a list it is the program and its arguments; written as one string
// it is a shell command line, run by /bin/sh -c (and Shell is true).
type Command struct {
	Argv  []string // each element is a template
	Shell bool     // given as one string: Argv holds it alone
}

// Template is a file rendered from the cluster and written atomically.
type Template struct {
	// Path is where the file goes; a relative path is relative to the process's working directory (cwd).
	Path string `yaml:"path"`
	// Mode is the file's permission bits; nil: 0644.
	Mode *Mode `yaml:"mode,omitempty"`
	// Content is the template itself; exactly one of Content and Source is given.
	Content *string `yaml:"content,omitempty"`
	// Source is a file holding the template, relative to the spec's directory; it is read by Load.
	Source string `yaml:"source,omitempty"`

	text string // the template: Content, or the text of Source
}

// Hooks are the optional callbacks of DESIGN §6. A hook that is not given behaves as the default does.
type Hooks struct {
	Initialize   *Hook `yaml:"initialize,omitempty"`
	CanConfigure *Hook `yaml:"can_configure,omitempty"`
	Configured   *Hook `yaml:"configured,omitempty"`
	SanityCheck  *Hook `yaml:"sanity_check,omitempty"`
	TearDown     *Hook `yaml:"tear_down,omitempty"`
	Signaled     *Hook `yaml:"signaled,omitempty"`
	Finalize     *Hook `yaml:"finalize,omitempty"`
}

// Hook is a command run for a callback: exactly one of Argv (run as is) and Shell (run by /bin/sh -c).
type Hook struct {
	Argv    []string `yaml:"argv,omitempty"`
	Shell   string   `yaml:"shell,omitempty"`
	Timeout Duration `yaml:"timeout,omitempty"` // 0: DefaultTimeout; the hook is SIGKILLed after it
}

// Tool is a command /exec runs: the caller's arguments are appended to Argv, never through a shell.
type Tool struct {
	Argv []string `yaml:"argv"`
	// Args, when given, is what a caller may append: at most one argument per pattern, each matching its
	// regular expression whole (args: [] takes none). Without it any argument goes, so a tool whose program
	// reads a file named by an argument (tail, cat) lets callers read any file the pod can (DESIGN §12).
	Args        *[]string `yaml:"args,omitempty"`
	Timeout     Duration  `yaml:"timeout,omitempty"` // 0: DefaultTimeout
	Description string    `yaml:"description,omitempty"`
}

// DefaultTimeout bounds a hook, the probe or a tool that gives no timeout.
const DefaultTimeout = 60 * time.Second

// DefaultMode is the mode of a template that gives none.
const DefaultMode Mode = 0o644

// Duration is a time.Duration written as Go writes it: "10s", "1m30s", "250ms". It is never negative.
type Duration time.Duration

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads "10s"-style durations.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return typeError(n, "want a duration such as 10s or 1m30s, got %s", describeNode(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return typeError(n, "%q is not a duration: want a number with a unit, such as 10s, 500ms or 1m30s", n.Value)
	}
	if v < 0 {
		return typeError(n, "duration %s must not be negative", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as "10s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Mode is a file's Unix permission bits (0644, 0755, 01777...). In YAML it is always read as octal digits,
// quoted or not, with or without a leading 0 or 0o: 644, 0644, "0644" and 0o644 are the same mode.
type Mode uint32

// FileMode converts the Unix bits into Go's fs.FileMode (setuid, setgid and sticky have bits of their own).
func (m Mode) FileMode() fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// String writes the mode as 0644.
func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// UnmarshalYAML reads octal digits.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	bad := func() error {
		return typeError(n, "mode %s: want octal permission bits such as 0644 or 0755", describeNode(n))
	}
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!str") {
		return bad()
	}
	digits := strings.TrimPrefix(strings.TrimPrefix(n.Value, "0o"), "0O")
	v, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || digits == "" || v > 0o7777 {
		return bad()
	}
	*m = Mode(v)
	return nil
}

// MarshalYAML writes the mode as "0644".
func (m Mode) MarshalYAML() (any, error) { return m.String(), nil }

// UnmarshalYAML reads a list of arguments, or one string for /bin/sh -c.
func (c *Command) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		*c = Command{Argv: []string{n.Value}, Shell: true}
		return nil
	case n.Kind == yaml.SequenceNode:
		argv := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || item.ShortTag() == "!!null" {
				return typeError(item, "want a command argument (a string), got %s", describeNode(item))
			}
			argv = append(argv, item.Value)
		}
		*c = Command{Argv: argv}
		return nil
	}
	return typeError(n, "want the command as a list of arguments, or as one string run by /bin/sh -c; got %s", describeNode(n))
}

// MarshalYAML writes the command back in the form it was given.
func (c Command) MarshalYAML() (any, error) {
	if c.Shell && len(c.Argv) == 1 {
		return c.Argv[0], nil
	}
	return c.Argv, nil
}

// typeError is how a value's own UnmarshalYAML reports a problem: yaml.v3 collects it with the others. The
// column lets yamlProblems find the node, and so its path, among others on the same line.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: %s", n.Line, n.Column, fmt.Sprintf(format, args...))}}
}

// Load reads and validates the spec file at path (see Parse).
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return Parse(data, path)
}

// Parse reads and validates a spec. name is the file it came from: error messages start with it, and
// templates' relative sources are read from its directory. Every problem found is reported in one *Error, each
// with its line: YAML syntax, unknown keys, values of the wrong type, and what the types cannot say (a hook
// with both argv and shell, a template without content, a duration that must be positive, a template that
// does not parse...).
func Parse(data []byte, name string) (*Spec, error) {
	if name == "" {
		name = "spec"
	}
	fail := func(ps ...Problem) (*Spec, error) { return nil, newError(name, ps) }

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fail(yamlProblems(err, locator{})...)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return fail(Problem{Msg: "the spec is empty: want a mapping of settings (see the example in the documentation)"})
	}
	root := doc.Content[0]
	loc := locator{root: root}
	if root.Kind != yaml.MappingNode {
		return fail(Problem{Line: root.Line, Msg: "want a mapping of settings at the top, got " + describeNode(root)})
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	s := &Spec{}
	if err := dec.Decode(s); err != nil {
		return fail(yamlProblems(err, loc)...)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := more.Line
		if err != nil {
			line = 0
		}
		return fail(Problem{Line: line, Msg: "only one YAML document is allowed in a spec"})
	}
	s.file, s.root = name, root
	if ps := s.validate(loc, filepath.Dir(name)); len(ps) > 0 {
		return fail(ps...)
	}
	return s, nil
}

// File is the name the spec was read from.
func (s *Spec) File() string { return s.file }

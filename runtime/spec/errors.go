package spec

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a spec that is not valid: every problem found, in line order. Its message has one line per
// problem, "file:line: path: what is wrong".
type Error struct {
	File     string
	Problems []Problem
}

// Problem is one thing wrong in a spec.
type Problem struct {
	Line int    // 1-based; 0 when no line applies (an empty file)
	Path string // where: "port", "hooks.sanity_check.timeout", "templates[1].mode"; "" for the whole spec
	Msg  string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		if p.Line > 0 {
			lines = append(lines, fmt.Sprintf("%s:%d: %s", e.File, p.Line, p))
		} else {
			lines = append(lines, fmt.Sprintf("%s: %s", e.File, p))
		}
	}
	return strings.Join(lines, "\n")
}

func newError(file string, ps []Problem) *Error {
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
	return &Error{File: file, Problems: ps}
}

// locator finds where things are in the spec's YAML, for messages.
type locator struct {
	root *yaml.Node // the document's top mapping; nil when the YAML did not parse
}

// at is the line of the node at path (mapping keys as strings, sequence indexes as ints), or of the deepest
// node of the path that exists; and the path written out. A key whose value is a block mapping or list is
// located at the key, which reads better than its first item's line.
func (l locator) at(path ...any) (int, string) {
	n, line := l.root, 0
	if n != nil {
		line = n.Line
	}
	for _, p := range path {
		if n == nil {
			break
		}
		var next *yaml.Node
		nextLine := 0
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if k := n.Content[i]; k.Value == p {
						next, nextLine = n.Content[i+1], n.Content[i+1].Line
						if isBlockCollection(next) {
							nextLine = k.Line
						}
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p >= 0 && p < len(n.Content) {
				next, nextLine = n.Content[p], n.Content[p].Line
			}
		}
		if next == nil {
			break
		}
		n, line = next, nextLine
	}
	return line, pathString(path)
}

func isBlockCollection(n *yaml.Node) bool {
	return (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && n.Style&yaml.FlowStyle == 0
}

// problem is a Problem at path.
func (l locator) problem(msg string, path ...any) Problem {
	line, p := l.at(path...)
	return Problem{Line: line, Path: p, Msg: msg}
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		}
	}
	return b.String()
}

// find walks the tree depth first and returns the path of the last node (so, the deepest) for which match
// holds, with the node. A mapping's keys are matched as well as its values; a key's path is its own.
func (l locator) find(match func(n *yaml.Node, isKey bool) bool) ([]any, *yaml.Node) {
	var best []any
	var bestNode *yaml.Node
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := append(slices.Clone(path), k.Value)
				if match(k, true) {
					best, bestNode = p, k
				}
				if match(v, false) {
					best, bestNode = p, v
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				p := append(slices.Clone(path), i)
				if match(item, false) {
					best, bestNode = p, item
				}
				walk(item, p)
			}
		case yaml.AliasNode:
			// An alias's target is reported where it is defined.
		}
	}
	if l.root != nil {
		walk(l.root, nil)
	}
	return best, bestNode
}

// yamlProblems turns yaml.v3's errors into Problems that read well: the path of the key, "unknown key" with
// the keys that are known, "want an integer, got "abc"" instead of Go's type names.
func yamlProblems(err error, l locator) []Problem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line, rest := splitLine(msg)
		return []Problem{{Line: line, Msg: rest}}
	}
	out := make([]Problem, 0, len(te.Errors))
	for _, msg := range te.Errors {
		line, rest := splitLine(msg)
		out = append(out, l.explain(line, rest))
	}
	return out
}

// splitLine cuts "line 12: rest" into 12 and rest.
func splitLine(msg string) (int, string) {
	after, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, rest, ok := strings.Cut(after, ": ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, msg
	}
	return n, rest
}

// explain rewrites one of yaml.v3's type errors at line.
func (l locator) explain(line int, msg string) Problem {
	// "field X not found in type spec.Hook"
	if rest, ok := strings.CutPrefix(msg, "field "); ok {
		if key, typ, ok := strings.Cut(rest, " not found in type "); ok {
			path, _ := l.find(func(n *yaml.Node, isKey bool) bool { return isKey && n.Line == line && n.Value == key })
			parent := ""
			if len(path) > 0 {
				parent = pathString(path[:len(path)-1])
			}
			m := fmt.Sprintf("unknown key %q", key)
			known := knownKeys(typ)
			if near := closest(key, known); near != "" {
				m += fmt.Sprintf(": did you mean %q?", near)
			}
			if len(known) > 0 {
				m += " (known keys: " + strings.Join(known, ", ") + ")"
			}
			return Problem{Line: line, Path: parent, Msg: m}
		}
	}
	// "cannot unmarshal !!str `abc` into int"
	if rest, ok := strings.CutPrefix(msg, "cannot unmarshal "); ok {
		if got, typ, ok := strings.Cut(rest, " into "); ok {
			tag, value, _ := strings.Cut(got, " ")
			value = strings.TrimSuffix(strings.Trim(value, "`"), "...")
			path, n := l.find(func(n *yaml.Node, isKey bool) bool {
				return !isKey && n.Line == line && n.ShortTag() == tag && strings.HasPrefix(n.Value, value)
			})
			gotText := tag
			if n != nil {
				gotText = describeNode(n)
			}
			return Problem{Line: line, Path: pathString(path), Msg: "want " + describeType(typ) + ", got " + gotText}
		}
	}
	// "mapping key "x" already defined at line 3"
	if rest, ok := strings.CutPrefix(msg, "mapping key "); ok {
		if key, first, ok := strings.Cut(rest, " already defined at line "); ok {
			path, _ := l.find(func(n *yaml.Node, isKey bool) bool { return isKey && n.Line == line })
			parent := ""
			if len(path) > 0 {
				parent = pathString(path[:len(path)-1])
			}
			return Problem{Line: line, Path: parent, Msg: fmt.Sprintf("key %s given twice (first at line %s)", key, first)}
		}
	}
	// Our own UnmarshalYAML's messages (typeError): add the path of the node at that column.
	col, rest := 0, msg
	if after, ok := strings.CutPrefix(msg, "column "); ok {
		num, m, ok := strings.Cut(after, ": ")
		if n, err := strconv.Atoi(num); ok && err == nil {
			col, rest = n, m
		}
	}
	path, _ := l.find(func(n *yaml.Node, isKey bool) bool {
		return !isKey && n.Line == line && (col == 0 || n.Column == col)
	})
	return Problem{Line: line, Path: pathString(path), Msg: rest}
}

// knownKeys lists the YAML keys of one of the spec's types, by its Go name as yaml.v3 writes it.
func knownKeys(typ string) []string {
	for _, v := range []any{Spec{}, Hooks{}, Hook{}, Template{}, Tool{}} {
		t := reflect.TypeOf(v)
		if t.String() != typ {
			continue
		}
		var keys []string
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
				keys = append(keys, name)
			}
		}
		slices.Sort(keys)
		return keys
	}
	return nil
}

// describeType says in words what a Go type of the spec wants.
func describeType(typ string) string {
	switch strings.TrimLeft(typ, "*") {
	case "int":
		return "an integer"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "[]string":
		return "a list of strings"
	case "map[string]string":
		return "a mapping of names to strings"
	case "spec.Spec":
		return "a mapping of settings"
	case "spec.Hooks":
		return "a mapping of hook names (initialize, can_configure, configured, sanity_check, tear_down, signaled, finalize) to hooks"
	case "spec.Hook":
		return "a mapping with argv or shell, and timeout"
	case "map[string]spec.Tool":
		return "a mapping of tool names to tools"
	case "spec.Tool":
		return "a mapping with argv, timeout and description"
	case "[]spec.Template":
		return "a list of templates"
	case "spec.Template":
		return "a mapping with path, mode, and content or source"
	}
	return "a " + typ
}

// describeNode says in words what a YAML value is.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

// closest is the known key nearest to key, if it is a likely typo: at most 2 edits, or "-" for "_".
func closest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if k == strings.ReplaceAll(key, "-", "_") {
			return k
		}
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

package spec

import (
	"fmt"
	"strings"
	"text/template/parse"
)

// shq quotes a value for /bin/sh: one word whatever it holds, quotes, semicolons and $(...) included
// (DESIGN §12: a value never changes a command's structure). {{.Self.ip | shq}}.
func shq(v any) string {
	return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", `'\''`) + "'"
}

// unquoted lists the actions of a template that print into its output without going through shq last: in a
// command run by /bin/sh -c, each would let a value from the cluster change the command. Declarations
// ({{$x := ...}}) print nothing; {{template}} is refused, as what it prints cannot be checked here.
func unquoted(name, text string) ([]string, error) {
	t, err := newTemplate(name, text, &Data{})
	if err != nil {
		return nil, err
	}
	var bad []string
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			if len(n.Pipe.Decl) == 0 && !quotedLast(n.Pipe) {
				bad = append(bad, n.String())
			}
		case *parse.IfNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			bad = append(bad, n.String())
		}
	}
	for _, tree := range t.Templates() {
		if tree.Tree != nil {
			walk(tree.Tree.Root)
		}
	}
	return bad, nil
}

// quotedLast tells whether a pipeline's last command is shq.
func quotedLast(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) == 0 {
		return false
	}
	last := p.Cmds[len(p.Cmds)-1]
	if len(last.Args) == 0 {
		return false
	}
	id, ok := last.Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == "shq"
}

// shellProblems checks that the command, when /bin/sh -c runs it, quotes every value it prints.
func (s *Spec) shellProblems(l locator) []Problem {
	c := s.Command
	if c == nil {
		return nil
	}
	var ps []Problem
	for i, arg := range c.Argv {
		path := []any{"command", i}
		if c.Shell {
			path = path[:1]
		}
		bad, err := unquoted(pathString(path), arg)
		if err != nil {
			continue // reported as a template that does not parse
		}
		for _, action := range bad {
			ps = append(ps, l.problem(fmt.Sprintf("%s puts a value into a command run by /bin/sh -c without quoting it: "+
				"end it with | shq (%s), or write the command as a list of arguments", action, suggestion(action)), path...))
		}
	}
	return ps
}

// suggestion is an action ending in shq.
func suggestion(action string) string {
	inner, ok := strings.CutSuffix(strings.TrimPrefix(action, "{{"), "}}")
	if !ok || strings.HasPrefix(inner, "template ") {
		return "{{... | shq}}"
	}
	return "{{" + inner + " | shq}}"
}

// CheckShell is what Parse checks of a command run by /bin/sh -c, for a spec whose command the command line
// turns into one (`ochopod run --shell`): every value the command prints goes through shq. The error names
// the spec's file and line.
func (s *Spec) CheckShell() error {
	if ps := s.shellProblems(locator{root: s.root}); len(ps) > 0 {
		return newError(s.file, ps)
	}
	return nil
}

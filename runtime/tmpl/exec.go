package tmpl

import (
	"cmp"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// Options are what a template may call besides the builtins.
type Options struct {
	// Funcs are the functions given to the template's Funcs when it was parsed, by name.
	Funcs map[string]any
	// Methods gives the method name of a receiver's value as a function value (a method value), or nil.
	Methods func(receiver any, name string) any
}

// maxDepth bounds nested {{template}} calls: a template calling itself fails instead of exhausting the stack.
const maxDepth = 10000

// Execute writes t (the template named t.Name() of its set) applied to data to w, as text/template's
// Execute does with missingkey=error.
func Execute(w io.Writer, t *template.Template, data any, o Options) error {
	s := &state{w: w, set: t, opts: o, t: t}
	dot := reflect.ValueOf(data)
	s.vars = []variable{{"$", dot}}
	if t.Tree == nil || t.Root == nil {
		return fmt.Errorf("template: %s: %q is an incomplete or empty template", t.Name(), t.Name())
	}
	_, err := s.walk(dot, t.Root)
	return err
}

type variable struct {
	name  string
	value reflect.Value
}

// flow is how a walk ended: normally, or at {{break}} or {{continue}} inside a range.
type flow int

const (
	next flow = iota
	breakLoop
	continueLoop
)

type state struct {
	w     io.Writer
	set   *template.Template // looks up {{template "name"}}
	t     *template.Template // the template being executed, for error messages
	opts  Options
	node  parse.Node // the node being evaluated, for error messages
	vars  []variable
	depth int
}

// execError is text/template's form: "template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE".
func (s *state) errorf(format string, args ...any) error {
	return s.wrap(fmt.Errorf(format, args...))
}

func (s *state) wrap(err error) error {
	name := s.t.Name()
	if s.node == nil || s.t.Tree == nil {
		return fmt.Errorf("template: %s: %w", name, err)
	}
	location, context := s.t.ErrorContext(s.node)
	return fmt.Errorf("template: %s: executing %q at <%s>: %w", location, name, context, err)
}

func (s *state) at(n parse.Node) { s.node = n }

func (s *state) mark() int { return len(s.vars) }

func (s *state) pop(mark int) { s.vars = s.vars[:mark] }

func (s *state) push(name string, v reflect.Value) { s.vars = append(s.vars, variable{name, v}) }

func (s *state) setVar(name string, v reflect.Value) error {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			s.vars[i].value = v
			return nil
		}
	}
	return s.errorf("undefined variable: %s", name)
}

func (s *state) setTopVar(n int, v reflect.Value) { s.vars[len(s.vars)-n].value = v }

func (s *state) varValue(name string) (reflect.Value, error) {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			return s.vars[i].value, nil
		}
	}
	return reflect.Value{}, s.errorf("undefined variable: %s", name)
}

func (s *state) walk(dot reflect.Value, n parse.Node) (flow, error) {
	s.at(n)
	switch n := n.(type) {
	case *parse.ActionNode:
		v, err := s.evalPipeline(dot, n.Pipe)
		if err != nil || len(n.Pipe.Decl) > 0 {
			return next, err
		}
		return next, s.print(n, v)
	case *parse.BreakNode:
		return breakLoop, nil
	case *parse.ContinueNode:
		return continueLoop, nil
	case *parse.CommentNode:
		return next, nil
	case *parse.IfNode:
		return s.ifOrWith(parse.NodeIf, dot, n.Pipe, n.List, n.ElseList)
	case *parse.WithNode:
		return s.ifOrWith(parse.NodeWith, dot, n.Pipe, n.List, n.ElseList)
	case *parse.ListNode:
		for _, c := range n.Nodes {
			if f, err := s.walk(dot, c); err != nil || f != next {
				return f, err
			}
		}
		return next, nil
	case *parse.RangeNode:
		return s.walkRange(dot, n)
	case *parse.TemplateNode:
		return next, s.walkTemplate(dot, n)
	case *parse.TextNode:
		if _, err := s.w.Write(n.Text); err != nil {
			return next, s.wrap(err)
		}
		return next, nil
	}
	return next, s.errorf("unknown node: %s", n)
}

func (s *state) ifOrWith(typ parse.NodeType, dot reflect.Value, pipe *parse.PipeNode, list, elseList *parse.ListNode) (flow, error) {
	defer s.pop(s.mark())
	v, err := s.evalPipeline(dot, pipe)
	if err != nil {
		return next, err
	}
	truth, ok := isTrue(indirectInterface(v))
	if !ok {
		return next, s.errorf("if/with can't use %v", v)
	}
	switch {
	case truth && typ == parse.NodeWith:
		return s.walk(v, list)
	case truth:
		return s.walk(dot, list)
	case elseList != nil:
		return s.walk(dot, elseList)
	}
	return next, nil
}

func (s *state) walkRange(dot reflect.Value, r *parse.RangeNode) (flow, error) {
	s.at(r)
	defer s.pop(s.mark())
	v, err := s.evalPipeline(dot, r.Pipe)
	if err != nil {
		return next, err
	}
	val, _ := indirect(indirectInterface(v))
	mark := s.mark()
	one := func(index, elem reflect.Value) (bool, error) {
		if len(r.Pipe.Decl) > 0 {
			if r.Pipe.IsAssign {
				if len(r.Pipe.Decl) > 1 {
					if err := s.setVar(r.Pipe.Decl[0].Ident[0], index); err != nil {
						return false, err
					}
					if err := s.setVar(r.Pipe.Decl[1].Ident[0], elem); err != nil {
						return false, err
					}
				} else if err := s.setVar(r.Pipe.Decl[0].Ident[0], elem); err != nil {
					return false, err
				}
			} else {
				s.setTopVar(1, elem)
				if len(r.Pipe.Decl) > 1 {
					s.setTopVar(2, index)
				}
			}
		}
		defer s.pop(mark)
		f, err := s.walk(elem, r.List)
		return f == breakLoop, err
	}
	ran := false
	switch val.Kind() {
	case reflect.Array, reflect.Slice:
		for i := range val.Len() {
			ran = true
			if stop, err := one(reflect.ValueOf(i), val.Index(i)); err != nil || stop {
				return next, err
			}
		}
	case reflect.Map:
		keys, err := sortedKeys(val)
		if err != nil {
			return next, s.errorf("range: %v", err)
		}
		for _, k := range keys {
			ran = true
			if stop, err := one(k, val.MapIndex(k)); err != nil || stop {
				return next, err
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if len(r.Pipe.Decl) > 1 {
			return next, s.errorf("can't use %v to iterate over more than one variable", val)
		}
		count := val.Int
		if val.CanUint() {
			count = func() int64 { return int64(min(val.Uint(), 1<<63-1)) }
		}
		for i := range count() {
			ran = true
			e := reflect.New(val.Type()).Elem()
			if val.CanUint() {
				e.SetUint(uint64(i))
			} else {
				e.SetInt(i)
			}
			if stop, err := one(reflect.Value{}, e); err != nil || stop {
				return next, err
			}
		}
	case reflect.Invalid: // a nil map or slice: nothing to range over, not an error
	default:
		return next, s.errorf("range can't iterate over %v", val)
	}
	if !ran && r.ElseList != nil {
		return s.walk(dot, r.ElseList)
	}
	return next, nil
}

// sortedKeys is a map's keys in text/template's order (numbers by value, strings lexically, false first).
func sortedKeys(m reflect.Value) ([]reflect.Value, error) {
	keys := m.MapKeys()
	var bad error
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		switch a.Kind() {
		case reflect.String:
			return strings.Compare(a.String(), b.String())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return cmp.Compare(a.Int(), b.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return cmp.Compare(a.Uint(), b.Uint())
		case reflect.Float32, reflect.Float64:
			return cmp.Compare(a.Float(), b.Float())
		case reflect.Bool:
			return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool()))
		}
		bad = fmt.Errorf("map keys of type %s cannot be ordered", a.Type())
		return 0
	})
	return keys, bad
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *state) walkTemplate(dot reflect.Value, t *parse.TemplateNode) error {
	s.at(t)
	tmpl := s.set.Lookup(t.Name)
	if tmpl == nil || tmpl.Tree == nil {
		return s.errorf("template %q not defined", t.Name)
	}
	if s.depth >= maxDepth {
		return s.errorf("exceeded maximum template depth (%v)", maxDepth)
	}
	v, err := s.evalPipeline(dot, t.Pipe)
	if err != nil {
		return err
	}
	inner := *s
	inner.depth++
	inner.t = tmpl
	inner.vars = []variable{{"$", v}}
	_, err = inner.walk(v, tmpl.Root)
	return err
}

// evalPipeline runs the commands of pipe, each one's value the last argument of the next, and declares or
// assigns its variables.
func (s *state) evalPipeline(dot reflect.Value, pipe *parse.PipeNode) (reflect.Value, error) {
	if pipe == nil {
		return reflect.Value{}, nil
	}
	s.at(pipe)
	value := missing
	for _, c := range pipe.Cmds {
		v, err := s.evalCommand(dot, c, value)
		if err != nil {
			return reflect.Value{}, err
		}
		value = v
		if value.Kind() == reflect.Interface && value.Type().NumMethod() == 0 {
			value = reflect.ValueOf(value.Interface()) // an empty interface's dynamic value
		}
	}
	for _, v := range pipe.Decl {
		if pipe.IsAssign {
			if err := s.setVar(v.Ident[0], value); err != nil {
				return reflect.Value{}, err
			}
		} else {
			s.push(v.Ident[0], value)
		}
	}
	return value, nil
}

// missing marks "no final argument" (the first command of a pipeline has none).
type missingType struct{}

var missing = reflect.ValueOf(missingType{})

func isMissing(v reflect.Value) bool { return v.IsValid() && v.Type() == missing.Type() }

func (s *state) notAFunction(args []parse.Node, final reflect.Value) error {
	if len(args) > 1 || !isMissing(final) {
		return s.errorf("can't give argument to non-function %s", args[0])
	}
	return nil
}

func (s *state) evalCommand(dot reflect.Value, c *parse.CommandNode, final reflect.Value) (reflect.Value, error) {
	first := c.Args[0]
	switch n := first.(type) {
	case *parse.FieldNode:
		return s.evalFieldChain(dot, dot, n, n.Ident, c.Args, final)
	case *parse.ChainNode:
		return s.evalChainNode(dot, n, c.Args, final)
	case *parse.IdentifierNode:
		return s.evalFunction(dot, n, c, c.Args, final)
	case *parse.PipeNode:
		if err := s.notAFunction(c.Args, final); err != nil {
			return reflect.Value{}, err
		}
		return s.evalPipeline(dot, n)
	case *parse.VariableNode:
		return s.evalVariableNode(dot, n, c.Args, final)
	}
	s.at(first)
	if err := s.notAFunction(c.Args, final); err != nil {
		return reflect.Value{}, err
	}
	switch n := first.(type) {
	case *parse.BoolNode:
		return reflect.ValueOf(n.True), nil
	case *parse.DotNode:
		return dot, nil
	case *parse.NilNode:
		return reflect.Value{}, s.errorf("nil is not a command")
	case *parse.NumberNode:
		return s.idealConstant(n)
	case *parse.StringNode:
		return reflect.ValueOf(n.Text), nil
	}
	return reflect.Value{}, s.errorf("can't evaluate command %q", first)
}

// idealConstant is an untyped number's value: an int unless it must be a float or a complex.
func (s *state) idealConstant(n *parse.NumberNode) (reflect.Value, error) {
	s.at(n)
	switch {
	case n.IsComplex:
		return reflect.ValueOf(n.Complex128), nil
	case n.IsFloat && !isHexInt(n.Text) && !isRuneInt(n.Text) && strings.ContainsAny(n.Text, ".eEpP"):
		return reflect.ValueOf(n.Float64), nil
	case n.IsInt:
		i := int(n.Int64)
		if int64(i) != n.Int64 {
			return reflect.Value{}, s.errorf("%s overflows int", n.Text)
		}
		return reflect.ValueOf(i), nil
	case n.IsUint:
		return reflect.Value{}, s.errorf("%s overflows int", n.Text)
	}
	return reflect.Value{}, nil
}

func isRuneInt(s string) bool { return len(s) > 0 && s[0] == '\'' }

func isHexInt(s string) bool {
	return len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && !strings.ContainsAny(s, "pP")
}

func (s *state) evalChainNode(dot reflect.Value, chain *parse.ChainNode, args []parse.Node, final reflect.Value) (reflect.Value, error) {
	s.at(chain)
	if len(chain.Field) == 0 {
		return reflect.Value{}, s.errorf("internal error: no fields in evalChainNode")
	}
	if chain.Node.Type() == parse.NodeNil {
		return reflect.Value{}, s.errorf("indirection through explicit nil in %s", chain)
	}
	pipe, err := s.evalArg(dot, nil, chain.Node)
	if err != nil {
		return reflect.Value{}, err
	}
	return s.evalFieldChain(dot, pipe, chain, chain.Field, args, final)
}

func (s *state) evalVariableNode(dot reflect.Value, v *parse.VariableNode, args []parse.Node, final reflect.Value) (reflect.Value, error) {
	s.at(v)
	value, err := s.varValue(v.Ident[0])
	if err != nil {
		return reflect.Value{}, err
	}
	if len(v.Ident) == 1 {
		return value, s.notAFunction(args, final)
	}
	return s.evalFieldChain(dot, value, v, v.Ident[1:], args, final)
}

// evalFieldChain evaluates .X.Y.Z: all but the last without arguments, the last with them.
func (s *state) evalFieldChain(dot, receiver reflect.Value, node parse.Node, ident []string, args []parse.Node, final reflect.Value) (reflect.Value, error) {
	n := len(ident)
	for i := range n - 1 {
		r, err := s.evalField(dot, ident[i], node, nil, missing, receiver)
		if err != nil {
			return reflect.Value{}, err
		}
		receiver = r
	}
	return s.evalField(dot, ident[n-1], node, args, final, receiver)
}

func (s *state) evalField(dot reflect.Value, name string, node parse.Node, args []parse.Node, final, receiver reflect.Value) (reflect.Value, error) {
	s.at(node)
	if !receiver.IsValid() {
		return reflect.Value{}, s.errorf("nil data; no entry for key %q", name)
	}
	typ := receiver.Type()
	receiver, isNil := indirect(receiver)
	if receiver.Kind() == reflect.Interface && isNil {
		return reflect.Value{}, s.errorf("nil pointer evaluating %s.%s", typ, name)
	}
	if m := s.method(receiver, name); m.IsValid() {
		return s.evalCall(dot, m, false, node, name, args, final)
	}
	hasArgs := len(args) > 1 || !isMissing(final)
	switch receiver.Kind() {
	case reflect.Struct:
		if f, ok := receiver.Type().FieldByName(name); ok {
			if !f.IsExported() {
				return reflect.Value{}, s.errorf("%s is an unexported field of struct type %s", name, typ)
			}
			field, err := receiver.FieldByIndexErr(f.Index)
			if err != nil {
				return reflect.Value{}, s.wrap(err)
			}
			if hasArgs {
				return reflect.Value{}, s.errorf("%s has arguments but cannot be invoked as function", name)
			}
			return field, nil
		}
	case reflect.Map:
		key := reflect.ValueOf(name)
		if key.Type().AssignableTo(receiver.Type().Key()) {
			if hasArgs {
				return reflect.Value{}, s.errorf("%s is not a method but has arguments", name)
			}
			v := receiver.MapIndex(key)
			if !v.IsValid() {
				return reflect.Value{}, s.errorf("map has no entry for key %q", name)
			}
			return v, nil
		}
	case reflect.Pointer:
		if e := receiver.Type().Elem(); e.Kind() == reflect.Struct {
			if _, ok := e.FieldByName(name); !ok {
				break
			}
		}
		if isNil {
			return reflect.Value{}, s.errorf("nil pointer evaluating %s.%s", typ, name)
		}
	}
	return reflect.Value{}, s.errorf("can't evaluate field %s in type %s", name, typ)
}

// method is Options.Methods' method value for receiver (or its address), or the zero Value.
func (s *state) method(receiver reflect.Value, name string) reflect.Value {
	if s.opts.Methods == nil || !receiver.IsValid() || !receiver.CanInterface() {
		return reflect.Value{}
	}
	if receiver.Kind() == reflect.Interface && receiver.IsNil() {
		return reflect.Value{}
	}
	if m := s.opts.Methods(receiver.Interface(), name); m != nil {
		return reflect.ValueOf(m)
	}
	if receiver.CanAddr() {
		if m := s.opts.Methods(receiver.Addr().Interface(), name); m != nil {
			return reflect.ValueOf(m)
		}
	}
	return reflect.Value{}
}

func (s *state) evalFunction(dot reflect.Value, n *parse.IdentifierNode, cmd parse.Node, args []parse.Node, final reflect.Value) (reflect.Value, error) {
	s.at(n)
	name := n.Ident
	if f, ok := s.opts.Funcs[name]; ok {
		return s.evalCall(dot, reflect.ValueOf(f), false, cmd, name, args, final)
	}
	if f, ok := builtins[name]; ok {
		return s.evalCall(dot, f, true, cmd, name, args, final)
	}
	return reflect.Value{}, s.errorf("%q is not a defined function", name)
}

var (
	errorType       = reflect.TypeFor[error]()
	reflectValueTyp = reflect.TypeFor[reflect.Value]()
)

// evalCall calls fun with the arguments args[1:] and final (the pipeline's previous value, if any).
func (s *state) evalCall(dot, fun reflect.Value, builtin bool, node parse.Node, name string, args []parse.Node, final reflect.Value) (reflect.Value, error) {
	if args != nil {
		args = args[1:] // the function's own name
	}
	typ := fun.Type()
	numIn := len(args)
	if !isMissing(final) {
		numIn++
	}
	numFixed := len(args)
	if typ.IsVariadic() {
		numFixed = typ.NumIn() - 1
		if numIn < numFixed {
			return reflect.Value{}, s.errorf("wrong number of args for %s: want at least %d got %d", name, typ.NumIn()-1, len(args))
		}
	} else if numIn != typ.NumIn() {
		return reflect.Value{}, s.errorf("wrong number of args for %s: want %d got %d", name, typ.NumIn(), numIn)
	}
	if err := goodFunc(name, typ); err != nil {
		return reflect.Value{}, s.wrap(err)
	}
	unwrap := func(v reflect.Value) reflect.Value {
		if v.Type() == reflectValueTyp {
			v = v.Interface().(reflect.Value)
		}
		return v
	}
	if builtin && (name == "and" || name == "or") { // stop at the first argument that decides
		argType := typ.In(0)
		var v reflect.Value
		for _, a := range args {
			av, err := s.evalArg(dot, argType, a)
			if err != nil {
				return reflect.Value{}, err
			}
			v = av.Interface().(reflect.Value)
			if truth(v) == (name == "or") {
				return v, nil
			}
		}
		if !isMissing(final) {
			fv, err := s.validateType(final, argType)
			if err != nil {
				return reflect.Value{}, err
			}
			v = unwrap(fv)
		}
		return v, nil
	}
	argv := make([]reflect.Value, numIn)
	i := 0
	for ; i < numFixed && i < len(args); i++ {
		v, err := s.evalArg(dot, typ.In(i), args[i])
		if err != nil {
			return reflect.Value{}, err
		}
		argv[i] = v
	}
	if typ.IsVariadic() {
		argType := typ.In(typ.NumIn() - 1).Elem()
		for ; i < len(args); i++ {
			v, err := s.evalArg(dot, argType, args[i])
			if err != nil {
				return reflect.Value{}, err
			}
			argv[i] = v
		}
	}
	if !isMissing(final) {
		t := typ.In(typ.NumIn() - 1)
		if typ.IsVariadic() {
			if numIn-1 < numFixed {
				t = typ.In(numIn - 1) // the final argument fills a fixed parameter
			} else {
				t = t.Elem()
			}
		}
		v, err := s.validateType(final, t)
		if err != nil {
			return reflect.Value{}, err
		}
		argv[i] = v
	}
	if builtin && name == "call" {
		callee := final.String()
		if len(args) > 0 {
			callee = args[0].String()
		}
		argv = append([]reflect.Value{reflect.ValueOf(callee)}, argv...)
		fun = reflect.ValueOf(callNamed)
	}
	s.at(node)
	v, err := safeCall(fun, argv)
	if err != nil {
		return reflect.Value{}, s.wrap(fmt.Errorf("error calling %s: %w", name, err))
	}
	return unwrap(v), nil
}

// goodFunc: a function a template may call returns one value, or a value and an error.
func goodFunc(name string, typ reflect.Type) error {
	switch {
	case typ.NumOut() == 1:
		return nil
	case typ.NumOut() == 2 && typ.Out(1) == errorType:
		return nil
	}
	return fmt.Errorf("can't call method/function %q with %d results", name, typ.NumOut())
}

// safeCall calls fun, its panic or its error (a second result) becoming the error.
func safeCall(fun reflect.Value, args []reflect.Value) (v reflect.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	out := fun.Call(args)
	if len(out) == 2 && !out[1].IsNil() {
		return out[0], out[1].Interface().(error)
	}
	return out[0], nil
}

func canBeNil(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice:
		return true
	case reflect.Struct:
		return t == reflectValueTyp
	}
	return false
}

// validateType is value as an argument of type typ: the zero value for nil, dereferenced or addressed
// when that makes it fit.
func (s *state) validateType(value reflect.Value, typ reflect.Type) (reflect.Value, error) {
	if !value.IsValid() {
		switch {
		case typ == nil:
			return reflect.ValueOf(nil), nil
		case canBeNil(typ):
			return reflect.Zero(typ), nil
		}
		return reflect.Value{}, s.errorf("invalid value; expected %s", typ)
	}
	if typ == reflectValueTyp && value.Type() != typ {
		return reflect.ValueOf(value), nil
	}
	if typ != nil && !value.Type().AssignableTo(typ) {
		if value.Kind() == reflect.Interface && !value.IsNil() {
			value = value.Elem()
			if value.Type().AssignableTo(typ) {
				return value, nil
			}
		}
		switch {
		case value.Kind() == reflect.Pointer && value.Type().Elem().AssignableTo(typ):
			value = value.Elem()
			if !value.IsValid() {
				return reflect.Value{}, s.errorf("dereference of nil pointer of type %s", typ)
			}
		case reflect.PointerTo(value.Type()).AssignableTo(typ) && value.CanAddr():
			value = value.Addr()
		default:
			return reflect.Value{}, s.errorf("wrong type for value; expected %s; got %s", typ, value.Type())
		}
	}
	return value, nil
}

// evalArg evaluates an argument node for a parameter of type typ (nil: any).
func (s *state) evalArg(dot reflect.Value, typ reflect.Type, n parse.Node) (reflect.Value, error) {
	s.at(n)
	var v reflect.Value
	var err error
	switch arg := n.(type) {
	case *parse.DotNode:
		return s.validateType(dot, typ)
	case *parse.NilNode:
		if typ != nil && canBeNil(typ) {
			return reflect.Zero(typ), nil
		}
		return reflect.Value{}, s.errorf("cannot assign nil to %s", typ)
	case *parse.FieldNode:
		v, err = s.evalFieldChain(dot, dot, arg, arg.Ident, []parse.Node{n}, missing)
	case *parse.VariableNode:
		v, err = s.evalVariableNode(dot, arg, nil, missing)
	case *parse.PipeNode:
		v, err = s.evalPipeline(dot, arg)
	case *parse.IdentifierNode:
		v, err = s.evalFunction(dot, arg, arg, nil, missing)
	case *parse.ChainNode:
		v, err = s.evalChainNode(dot, arg, nil, missing)
	default:
		return s.evalConstant(dot, typ, n)
	}
	if err != nil {
		return reflect.Value{}, err
	}
	return s.validateType(v, typ)
}

// evalConstant is a constant argument (bool, number, string) for a parameter of type typ.
func (s *state) evalConstant(dot reflect.Value, typ reflect.Type, n parse.Node) (reflect.Value, error) {
	if typ == nil {
		return s.evalEmptyInterface(dot, n)
	}
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.Bool:
		if b, ok := n.(*parse.BoolNode); ok {
			v.SetBool(b.True)
			return v, nil
		}
		return reflect.Value{}, s.errorf("expected bool; found %s", n)
	case reflect.Complex64, reflect.Complex128:
		if c, ok := n.(*parse.NumberNode); ok && c.IsComplex {
			v.SetComplex(c.Complex128)
			return v, nil
		}
		return reflect.Value{}, s.errorf("expected complex; found %s", n)
	case reflect.Float32, reflect.Float64:
		if f, ok := n.(*parse.NumberNode); ok && f.IsFloat {
			v.SetFloat(f.Float64)
			return v, nil
		}
		return reflect.Value{}, s.errorf("expected float; found %s", n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if i, ok := n.(*parse.NumberNode); ok && i.IsInt {
			v.SetInt(i.Int64)
			return v, nil
		}
		return reflect.Value{}, s.errorf("expected integer; found %s", n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u, ok := n.(*parse.NumberNode); ok && u.IsUint {
			v.SetUint(u.Uint64)
			return v, nil
		}
		return reflect.Value{}, s.errorf("expected unsigned integer; found %s", n)
	case reflect.String:
		if str, ok := n.(*parse.StringNode); ok {
			v.SetString(str.Text)
			return v, nil
		}
		return reflect.Value{}, s.errorf("expected string; found %s", n)
	case reflect.Interface:
		if typ.NumMethod() == 0 {
			return s.evalEmptyInterface(dot, n)
		}
	case reflect.Struct:
		if typ == reflectValueTyp {
			e, err := s.evalEmptyInterface(dot, n)
			return reflect.ValueOf(e), err
		}
	}
	return reflect.Value{}, s.errorf("can't handle %s for arg of type %s", n, typ)
}

func (s *state) evalEmptyInterface(dot reflect.Value, n parse.Node) (reflect.Value, error) {
	s.at(n)
	switch n := n.(type) {
	case *parse.BoolNode:
		return reflect.ValueOf(n.True), nil
	case *parse.NumberNode:
		return s.idealConstant(n)
	case *parse.StringNode:
		return reflect.ValueOf(n.Text), nil
	}
	return reflect.Value{}, s.errorf("can't handle assignment of %s to empty interface argument", n)
}

// print writes v as text/template does: fmt's form of the value a pointer points to, unless the pointer
// is an error or a Stringer.
func (s *state) print(n parse.Node, v reflect.Value) error {
	s.at(n)
	iface, ok := printable(v)
	if !ok {
		return s.errorf("can't print %s of type %s", n, v.Type())
	}
	if _, err := fmt.Fprint(s.w, iface); err != nil {
		return s.wrap(err)
	}
	return nil
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

func printable(v reflect.Value) (any, bool) {
	if v.Kind() == reflect.Pointer {
		v, _ = indirect(v)
	}
	if !v.IsValid() {
		return "<no value>", true
	}
	if !v.Type().Implements(errorType) && !v.Type().Implements(stringerType) {
		if v.CanAddr() && (reflect.PointerTo(v.Type()).Implements(errorType) || reflect.PointerTo(v.Type()).Implements(stringerType)) {
			v = v.Addr()
		} else if k := v.Kind(); k == reflect.Chan || k == reflect.Func {
			return nil, false
		}
	}
	return v.Interface(), true
}

// indirect follows pointers and interfaces to a value, telling whether it stopped at a nil.
func indirect(v reflect.Value) (reflect.Value, bool) {
	for ; v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface; v = v.Elem() {
		if v.IsNil() {
			return v, true
		}
	}
	return v, false
}

// indirectInterface is the value inside an interface, the zero Value for a nil interface.
func indirectInterface(v reflect.Value) reflect.Value {
	if v.Kind() != reflect.Interface {
		return v
	}
	if v.IsNil() {
		return reflect.Value{}
	}
	return v.Elem()
}

// isTrue is text/template's truth: false, 0, nil and empty are false; ok is false for a value with no truth.
func isTrue(v reflect.Value) (truth, ok bool) {
	if !v.IsValid() {
		return false, true
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		truth = v.Len() > 0
	case reflect.Bool:
		truth = v.Bool()
	case reflect.Complex64, reflect.Complex128:
		truth = v.Complex() != 0
	case reflect.Chan, reflect.Func, reflect.Pointer, reflect.UnsafePointer, reflect.Interface:
		truth = !v.IsNil()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		truth = v.Int() != 0
	case reflect.Float32, reflect.Float64:
		truth = v.Float() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		truth = v.Uint() != 0
	case reflect.Struct:
		truth = true // a struct is always true
	default:
		return false, false
	}
	return truth, true
}

func truth(v reflect.Value) bool {
	t, _ := isTrue(indirectInterface(v))
	return t
}

package spec

import (
	"fmt"
	"regexp"
	"strconv"
)

// patterns compiles Args, each anchored to match a whole argument; nil when Args is not given (any argument).
func (t Tool) patterns() ([]*regexp.Regexp, error) {
	if t.Args == nil {
		return nil, nil
	}
	out := make([]*regexp.Regexp, 0, len(*t.Args))
	for i, p := range *t.Args {
		re, err := regexp.Compile(`\A(?:` + p + `)\z`)
		if err != nil {
			return nil, fmt.Errorf("args[%d]: %q is not a regular expression: %v", i, p, err)
		}
		out = append(out, re)
	}
	if out == nil {
		out = []*regexp.Regexp{} // args: [] takes no argument
	}
	return out, nil
}

// allowed checks a caller's arguments against a tool's patterns (nil: any).
func allowed(patterns []*regexp.Regexp, args []string) error {
	if patterns == nil {
		return nil
	}
	if len(args) > len(patterns) {
		return fmt.Errorf("takes at most %d argument(s), got %d", len(patterns), len(args))
	}
	for i, a := range args {
		if !patterns[i].MatchString(a) {
			return fmt.Errorf("argument %d (%s) does not match %s", i+1, strconv.Quote(a), patterns[i].String())
		}
	}
	return nil
}

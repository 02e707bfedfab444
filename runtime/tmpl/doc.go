// Package tmpl executes Go text/template templates that text/template parsed, without text/template's own
// executor (issue #18, a lighter pod).
//
// Why: text/template's executor looks methods up by name at run time (reflect.Value.MethodByName), and a
// binary that can reach such a call makes the Go linker keep every exported method of every type that is
// ever put in an interface, used or not. For ochopod that was 2.2 MB of its 15.4 MB binary (with the
// kernel's fault-around, ~2 MB of every pod's RSS) and ~4 ms of its start-up CPU in page faults.
//
// What runs is text/template's language as the package documents it: text, actions, pipelines, variables
// (declared and assigned), if / else if / with / else with / range (slices, arrays, maps in key order,
// integers) with break and continue, define / template / block, comments, trim markers, the constants, the
// builtin functions (and, or, not, len, index, slice, eq, ne, lt, le, gt, ge, print, printf, println,
// html, js, urlquery, call) and the functions given to Execute, with missingkey=error. Fields are struct
// fields and map keys. Methods are called only where Methods names them (by type and name, with no
// lookup by reflection): a template's data that needs other methods is not for this package. Ranging over
// channels and iterator functions is refused. Error messages have text/template's form ("template:
// NAME:LINE:COL: executing ... at <...>: ..."); TestExecute_MatchesTextTemplate holds the package to
// text/template's output and errors.
package tmpl

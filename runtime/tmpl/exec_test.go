package tmpl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"text/template"
)

type pod struct {
	Key     string
	Payload payload
}

// payload is a map with methods, as runtime/payload's: only Options.Methods makes them callable.
type payload map[string]any

func (p payload) Ports() map[string]int64 {
	out := map[string]int64{}
	if m, ok := p["ports"].(map[string]any); ok {
		for k, v := range m {
			if n, ok := v.(int64); ok {
				out[k] = n
			}
		}
	}
	return out
}

func (p payload) Get(key string) any { return p[key] }

func (p payload) Pair() (string, error) { return "", errors.New("pair failed") }

type data struct {
	Key    string
	Index  int
	Size   int
	Seq    int64
	Ratio  float64
	On     bool
	Pods   []pod
	Deps   map[string][]pod
	Self   payload
	Env    map[string]string
	Ints   map[int]string
	Nums   []int
	Nil    *pod
	Ptr    *pod
	Any    any
	Empty  []string
	NilMap map[string]string
	Fn     func(int) int
	Err    func() (string, error)
	hidden int
}

func sample() *data {
	self := payload{"ip": "10.0.0.1", "seq": int64(7), "ports": map[string]any{"8080": int64(31000)}, "tags": []any{"a", "b"}, "nested": map[string]any{"x": map[string]any{"y": "deep"}}, "none": nil, "f": 1.5}
	pods := []pod{{"a", payload{"ip": "10.0.0.1"}}, {"b", payload{"ip": "10.0.0.2"}}, {"c", payload{"ip": "10.0.0.3"}}}
	return &data{
		Key: "it.web #7", Index: 1, Size: 3, Seq: 7, Ratio: 0.5, On: true, Pods: pods,
		Deps: map[string][]pod{"db": pods[:1], "api": pods[1:], "none": nil}, Self: self,
		Env: map[string]string{"HOME": "/root", "EMPTY": ""}, Ints: map[int]string{3: "three", -1: "minus", 10: "ten"},
		Nums: []int{5, 3, 9}, Ptr: &pods[0], Any: map[string]any{"k": "v"},
		Fn: func(i int) int { return i * 2 }, Err: func() (string, error) { return "", errors.New("boom") },
	}
}

func funcs() map[string]any {
	return map[string]any{
		"add":   func(a, b int) int { return a + b },
		"upper": strings.ToUpper,
		"fail":  func() (string, error) { return "", errors.New("it failed") },
		"boom":  func() string { panic("exploded") },
		"pair":  func(a string, b ...string) string { return a + strings.Join(b, "+") },
		"anyv":  func(v any) any { return v },
		"list":  func() []string { return []string{"x", "y"} },
	}
}

func methods(receiver any, name string) any {
	if p, ok := receiver.(payload); ok {
		switch name {
		case "Ports":
			return p.Ports
		case "Get":
			return p.Get
		case "Pair":
			return p.Pair
		}
	}
	return nil
}

// cases are templates over sample(): every part of the language the package says it runs, and errors.
var cases = []string{
	`plain text`, `{{.Key}} {{.Index}} {{.Size}} {{.Seq}} {{.Ratio}} {{.On}}`, `{{/* a comment */}}x`,
	`{{- .Key -}}  y`, `a  {{- .Index}}`, `{{.Self.ip}} {{.Self.seq}} {{.Self.f}} {{.Self.tags}} {{.Self.none}}`,
	`{{.Self.nested.x.y}}`, `{{.Self.missing}}`, `{{.Self.nested.x.missing}}`, `{{.Env.HOME}} {{.Env.NOPE}}`,
	`{{.Nope}}`, `{{.hidden}}`, `{{.Nil.Key}}`, `{{.Ptr.Key}}`, `{{.Ptr}}`, `{{.Pods}}`, `{{.Any.k}}`, `{{.Ints}}`,
	`{{range .Pods}}{{.Key}}={{.Payload.ip}};{{end}}`, `{{range $i, $p := .Pods}}{{$i}}:{{$p.Key}} {{end}}`,
	`{{range $p := .Pods}}{{$p.Key}}{{end}}`, `{{range .Empty}}x{{else}}none{{end}}`, `{{range .NilMap}}x{{else}}nil{{end}}`,
	`{{range $k, $v := .Env}}{{$k}}={{$v}},{{end}}`, `{{range $k, $v := .Ints}}{{$k}}={{$v}},{{end}}`,
	`{{range $k, $v := .Self}}{{$k}} {{end}}`, `{{range 3}}{{.}}{{end}}`, `{{range $i := 4}}{{$i}}{{end}}`,
	`{{range $i, $j := 4}}{{end}}`, `{{range .Key}}x{{end}}`, `{{range .Nums}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}`,
	`{{range .Nums}}{{if eq . 3}}{{continue}}{{end}}{{.}}{{end}}`, `{{range .Deps.none}}x{{else}}empty{{end}}`,
	`{{range $k, $v := .Deps}}{{$k}}:{{len $v}} {{end}}`, `{{range .Pods}}{{range .Payload}}{{.}}{{end}}{{end}}`,
	`{{if .On}}yes{{else}}no{{end}}`, `{{if .Empty}}yes{{else if .Nums}}nums{{else}}no{{end}}`, `{{if .Nil}}x{{end}}`,
	`{{with .Self.ip}}{{.}}{{end}}`, `{{with .Empty}}x{{else}}empty{{end}}`, `{{with .Empty}}x{{else with .Key}}{{.}}{{end}}`,
	`{{with $x := .Index}}{{$x}}{{end}}`, `{{if .Fn}}fn{{end}}`, `{{$x := 1}}{{if .On}}{{$x = 2}}{{end}}{{$x}}`,
	`{{$x := .Key}}{{$x}} {{$.Nums}}`, `{{$.Key}}`, `{{$x := .Pods}}{{range $x}}{{$.Index}}{{end}}`,
	`{{define "p"}}[{{.Key}}]{{end}}{{range .Pods}}{{template "p" .}}{{end}}`, `{{template "nope"}}`,
	`{{block "b" .Index}}<{{.}}>{{end}}`,
	`{{add 1 2}} {{add .Index .Size}} {{.Index | add 10}}`, `{{upper .Key}} {{.Key | upper}} {{"x" | printf "%s-%s" "y"}}`,
	`{{fail}}`, `{{boom}}`, `{{pair "a"}} {{pair "a" "b" "c"}} {{"z" | pair "a"}}`, `{{add 1}}`, `{{add "x" 1}}`,
	`{{add 1.5 1}}`, `{{nope 1}}`, `{{anyv 3}} {{anyv "s"}} {{anyv .Self.ip}} {{anyv nil}}`, `{{list | len}}`,
	`{{and 1 0 2}} {{and 1 2}} {{or 0 "" 3}} {{or 0 ""}} {{not 0}} {{not .Pods}} {{and .On .Key}} {{or .Nil .Key}}`,
	`{{and .On (fail)}}`, `{{or .On (fail)}}`, `{{.Index | and 1}}`,
	`{{len .Pods}} {{len .Key}} {{len .Self}} {{len .Nums}}`, `{{len .Index}}`, `{{len .Nil}}`,
	`{{index .Nums 1}} {{index .Self "ip"}} {{index .Deps "db" 0 "Key"}}`, `{{index .Nums 3}}`, `{{index .Nums -1}}`,
	`{{index .Self "missing"}}`, `{{index .Ints 3}} {{index .Ints 4}}`, `{{index .Key 0}}`, `{{index .Index 0}}`,
	`{{index .Nums "a"}}`, `{{index nil 1}}`, `{{index .Deps "db" 0}}`,
	`{{slice .Key 1 3}} {{slice .Nums 1}} {{slice .Nums 0 2 3}} {{slice .Key}}`, `{{slice .Nums 2 1}}`, `{{slice .Key 0 1 2}}`,
	`{{eq 1 1}} {{eq .Index 1}} {{eq .Key "x" "it.web #7"}} {{eq .Self.ip "10.0.0.1"}} {{eq .Seq 7}} {{eq .Ratio 0.5}}`,
	`{{eq .Index "1"}}`, `{{eq .Nil nil}}`, `{{eq 1}}`, `{{eq .Pods .Pods}}`, `{{ne 1 2}} {{ne "a" "a"}}`,
	`{{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}} {{lt "a" "b"}} {{lt 1.5 2.5}} {{lt .Seq 8}}`, `{{lt true false}}`, `{{lt 1 "a"}}`,
	`{{print 1 "a" .Key}} {{println .Index}} {{printf "%03d|%q|%v" .Index .Key .Nums}}`,
	`{{html "<a href='x'>"}} {{js "it's \"q\""}} {{urlquery "a b&c"}}`, `{{call .Fn 21}}`, `{{call .Err}}`, `{{call .Key}}`,
	`{{call .Fn "x"}}`, `{{.Self.Ports}} {{index .Self.Ports "8080"}}`, `{{.Self.Get "ip"}} {{"seq" | .Self.Get}}`,
	`{{.Self.Pair}}`, `{{(index .Pods 1).Key}} {{(.Ptr).Payload.ip}}`, `{{(nil).Key}}`, `{{.Index.Nope}}`,
	`{{1 2}}`, `{{.Key 1}}`, `{{.Self.ip 1}}`, `{{nil}}`, `{{3}} {{3.5}} {{1e3}} {{0x10}} {{'a'}} {{"s"}} {{true}} {{-2}}`,
	`{{99999999999999999999}}`, `{{1i}}`, `{{.Nums}}`, `{{$x := 3}}{{$x 1}}`, `{{.Fn}}`, `{{printf "%d" .Self.seq}}`,
	`{{range .Pods}}{{if eq .Key "b"}}{{break}}{{end}}{{.Key}}{{else}}none{{end}}`, `{{with .Nil}}x{{else}}nil{{end}}`,
	`{{range $i, $e := .Nums}}{{$i}}{{$e}}{{end}}{{$i := 0}}`, `{{$x := 0}}{{range .Nums}}{{$x = .}}{{end}}{{$x}}`,
	`{{range $i, $e := .Nums}}{{$i = 9}}{{end}}`, `{{.Any}}`, `{{index .Any "k"}}`, `{{.Any.nope}}`,
	`{{$i := 0}}{{$e := 0}}{{range $i, $e = .Nums}}{{end}}{{$i}}{{$e}}`, `{{$e := 0}}{{range $e = .Nums}}{{end}}{{$e}}`,
	`{{define "v"}}{{$}}|{{.}}{{end}}{{template "v" .Index}}{{template "v"}}`, `{{with $x := .Self}}{{$x.ip}}{{end}}{{$x}}`,
	`{{(printf "%s" .Key) | len}} {{len (index .Pods 0).Payload.ip}}`, `{{printf "%d %d" 1}}`, `{{print}}{{println}}`,
	`{{range .Self.tags}}{{.}},{{end}}{{range $k, $v := .Self.ports}}{{$k}}={{$v}}{{end}}`, `{{if and .On (eq .Size 3)}}ok{{end}}`,
	`{{range .Pods}}{{$.Key}}/{{.Key}} {{end}}`, `{{.Ptr.Payload.ip}} {{.Ptr.Nope}}`, `{{len .NilMap}} {{index .NilMap "x"}}`,
	`{{html .Nums}} {{urlquery 1 2}} {{js .Self.ip}}`, `{{range .Nums}}{{break}}{{else}}e{{end}}`, `{{.Self.Ports.nope}}`,
	"{{`raw`}} {{\"q\\n\"}}", `{{0.1}} {{1_000}} {{0b101}} {{0o17}} {{1e-3}} {{0x1p-2}}`, `{{add 1 2.0}}`, `{{eq .Self.none nil}}`,
}

func TestExecute_MatchesTextTemplate(t *testing.T) {
	for _, text := range cases {
		want, wantErr := viaTextTemplate(text)
		got, gotErr := viaTmpl(text)
		switch {
		case (wantErr == nil) != (gotErr == nil):
			t.Errorf("%s:\n  text/template: %q, %v\n  tmpl:          %q, %v", text, want, wantErr, got, gotErr)
		case wantErr != nil && wantErr.Error() != gotErr.Error():
			t.Errorf("%s: errors differ:\n  text/template: %v\n  tmpl:          %v", text, wantErr, gotErr)
		case want != got:
			t.Errorf("%s:\n  text/template: %q\n  tmpl:          %q", text, want, got)
		}
	}
}

func parseText(text string) (*template.Template, error) {
	return template.New("t").Option("missingkey=error").Funcs(funcs()).Parse(text)
}

// viaTextTemplate is the reference. Methods of payload other than those methods() gives are not the
// package's: the reference runs on the same data, so they are left out of the cases.
func viaTextTemplate(text string) (string, error) {
	t, err := parseText(text)
	if err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	var b bytes.Buffer
	err = t.Execute(&b, sample())
	return b.String(), err
}

func viaTmpl(text string) (string, error) {
	t, err := parseText(text)
	if err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	var b bytes.Buffer
	err = Execute(&b, t, sample(), Options{Funcs: funcs(), Methods: methods})
	return b.String(), err
}

// A template calling itself ends with an error, at a tenth of text/template's depth (its stack would take
// ~100 MB).
func TestExecute_Recursion(t *testing.T) {
	_, err := viaTmpl(`{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}`)
	if err == nil || !strings.Contains(err.Error(), "exceeded maximum template depth (10000)") {
		t.Fatalf("got %v", err)
	}
}

// The package's error for a template with nothing to run, and a method Options.Methods does not give is a
// field lookup: on a map, a missing key.
func TestExecute_EmptyTemplateAndUnlistedMethods(t *testing.T) {
	if err := Execute(&bytes.Buffer{}, template.New("e"), nil, Options{}); err == nil {
		t.Fatal("an unparsed template executed")
	}
	tp, err := parseText(`{{.Self.Ports}}`)
	if err != nil {
		t.Fatal(err)
	}
	err = Execute(&bytes.Buffer{}, tp, sample(), Options{})
	if err == nil || !strings.Contains(err.Error(), `map has no entry for key "Ports"`) {
		t.Fatalf("got %v", err)
	}
}

// A template's output is written as it goes: text/template's behaviour, kept (files are rendered into a
// buffer and written whole by the caller).
func TestExecute_PartialOutputOnError(t *testing.T) {
	want, wantErr := viaTextTemplate(`a{{.Nope}}b`)
	got, gotErr := viaTmpl(`a{{.Nope}}b`)
	if want != got || wantErr == nil || gotErr == nil {
		t.Fatalf("text/template %q %v, tmpl %q %v", want, wantErr, got, gotErr)
	}
}

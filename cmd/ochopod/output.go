package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

// emit writes v in the format -o asked for (DESIGN §14): JSON (snake_case keys, the views' tags), YAML with
// the same keys in the same order, or the table the verb draws.
func emit(w io.Writer, format string, v any, table func(t *table)) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		return writeYAML(w, v)
	}
	t := newTable(w)
	table(t)
	return t.flush()
}

// writeYAML renders v through its JSON form, which YAML reads as it is: the keys stay the JSON ones, in their
// order, and the styles are reset so that YAML picks its block form.
func writeYAML(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// table is an aligned table: columns padded to their widest cell, two spaces apart, whatever the rows.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer) *table { return &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)} }

// row writes one row; cells must not hold tabs or newlines (clean takes them out).
func (t *table) row(cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = clean(fmt.Sprint(c))
	}
	fmt.Fprintln(t.tw, strings.Join(parts, "\t"))
}

// blank ends a block of rows with an empty line: the next block is aligned on its own.
func (t *table) blank() { fmt.Fprintln(t.tw) }

func (t *table) flush() error { return t.tw.Flush() }

// clean makes a value from a pod or ZooKeeper safe for one table cell: no control characters, "-" for nothing.
func clean(s string) string {
	if s == "" {
		return "-"
	}
	var b bytes.Buffer
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// short is a key as tables show it: its first 8 characters, enough to tell pods apart and to name one
// (`<cluster>/<key prefix>`).
func short(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

// ago tells how long ago at (TimeFormat) was, in a few characters.
func ago(at string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return at
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

package proc_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/proc"
)

func TestLineWriter_SplitsLines(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		before []string // lines before Flush
		after  []string // lines after Flush
	}{
		{"one line", []string{"a\n"}, []string{"a"}, []string{"a"}},
		{"many in one write", []string{"a\nb\nc\n"}, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{"split across writes", []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}, []string{"hello", "world"}},
		{"crlf", []string{"a\r\nb\r\n"}, []string{"a", "b"}, []string{"a", "b"}},
		{"empty lines kept", []string{"\n\na\n"}, []string{"", "", "a"}, []string{"", "", "a"}},
		{"partial kept until flush", []string{"a\nrest"}, []string{"a"}, []string{"a", "rest"}},
		{"nothing to flush", []string{""}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := proc.NewLineWriter(func(l string) { got = append(got, l) })
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if !reflect.DeepEqual(got, tt.before) {
				t.Fatalf("before flush %q, want %q", got, tt.before)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.after) {
				t.Fatalf("after flush %q, want %q", got, tt.after)
			}
		})
	}
}

func TestLineWriter_BoundsALineWithoutNewline(t *testing.T) {
	var got []string
	w := proc.NewLineWriter(func(l string) { got = append(got, l) })
	long := strings.Repeat("x", proc.MaxLine+10)
	w.Write([]byte(long))
	if len(got) != 1 || len(got[0]) != proc.MaxLine {
		t.Fatalf("got %d lines, want one of MaxLine", len(got))
	}
	w.Flush()
	if len(got) != 2 || got[1] != strings.Repeat("x", 10) {
		t.Fatalf("rest %q", got[1:])
	}
}

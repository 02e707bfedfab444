package sdk

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendCanonical appends the canonical JSON of one payload: the bytes encoding/json writes for raw decoded
// into an any (object keys sorted, the last of duplicate keys kept, numbers as float64 prints, strings
// escaped as it escapes them). A payload that is not JSON, or that holds a number out of float64's range,
// is written as a JSON string of its bytes, as a failed decoding was. Linear in the payload: a hostile one
// nested 10 000 deep costs no more than a flat one of its size.
func appendCanonical(dst, raw []byte) []byte {
	var c canonicalizer
	return c.append(dst, raw)
}

// canonicalizer writes payloads canonically, keeping its scratch space from one to the next.
type canonicalizer struct {
	src     []byte         // the payload being written, valid JSON
	ends    []span         // every object and array of src, in the order they open
	open    []int          // while finding them: the indexes in ends of those not closed yet
	members []objectMember // the members of the objects being written, innermost last
}

// append is appendCanonical.
func (c *canonicalizer) append(dst, raw []byte) []byte {
	if json.Valid(raw) {
		c.src = raw
		c.findEnds()
		start := len(dst)
		out, _, ok := c.value(dst, skipSpace(raw, 0))
		c.src, c.members = nil, c.members[:0]
		if ok {
			return out
		}
		dst = out[:start]
	}
	return appendString(dst, string(raw))
}

// span is a value's bytes in src: [start, end).
type span struct{ start, end int }

// objectMember is one member of an object: its key as decoded (for sorting) and its value.
type objectMember struct {
	key   []byte
	lit   span // the key as written
	value span
	order int // position in the object: the last of equal keys wins
}

// value writes the value at src[i] and returns the index after it; ok is false for a number out of range.
func (c *canonicalizer) value(dst []byte, i int) (_ []byte, next int, ok bool) {
	src := c.src
	switch src[i] {
	case '{':
		return c.object(dst, i)
	case '[':
		end := c.end(i)
		dst = append(dst, '[')
		for j, first := skipSpace(src, i+1), true; j < end-1; first = false {
			if !first {
				dst = append(dst, ',')
			}
			if dst, j, ok = c.value(dst, j); !ok {
				return dst, 0, false
			}
			j = skipSpace(src, j)
			if src[j] == ',' {
				j = skipSpace(src, j+1)
			}
		}
		return append(dst, ']'), end, true
	case '"':
		end := stringEnd(src, i)
		return appendStringLiteral(dst, src[i:end]), end, true
	case 't':
		return append(dst, "true"...), i + 4, true
	case 'f':
		return append(dst, "false"...), i + 5, true
	case 'n':
		return append(dst, "null"...), i + 4, true
	}
	end := numberEnd(src, i)
	dst, ok = appendNumber(dst, src[i:end])
	return dst, end, ok
}

// object writes the object at src[i] with its keys sorted, the last of equal keys kept.
func (c *canonicalizer) object(dst []byte, i int) ([]byte, int, bool) {
	src, end := c.src, c.end(i)
	base := len(c.members)
	for j := skipSpace(src, i+1); j < end-1; {
		kEnd := stringEnd(src, j)
		m := objectMember{lit: span{j, kEnd}, key: decodedKey(src[j:kEnd]), order: len(c.members) - base}
		j = skipSpace(src, skipSpace(src, kEnd)+1) // past the colon
		m.value = span{j, c.valueEnd(j)}
		c.members = append(c.members, m)
		j = skipSpace(src, m.value.end)
		if src[j] == ',' {
			j = skipSpace(src, j+1)
		}
	}
	top := len(c.members)
	slices.SortFunc(c.members[base:top], byKey) // equal keys stay in the order written
	dst = append(dst, '{')
	written := false
	for k := base; k < top; k++ {
		m := c.members[k] // read afresh: the members of nested objects may have moved the slice
		last := k+1 == top || !bytes.Equal(c.members[k+1].key, m.key)
		var ok bool
		if !last { // overwritten, but a number out of range in it still failed the decoding
			if ok = c.inRange(m.value); !ok {
				return dst, 0, false
			}
			continue
		}
		if written {
			dst = append(dst, ',')
		}
		written = true
		dst = appendStringLiteral(dst, src[m.lit.start:m.lit.end])
		dst = append(dst, ':')
		if dst, _, ok = c.value(dst, m.value.start); !ok {
			return dst, 0, false
		}
	}
	c.members = c.members[:base]
	return append(dst, '}'), end, true
}

func byKey(a, b objectMember) int {
	if d := bytes.Compare(a.key, b.key); d != 0 {
		return d
	}
	return a.order - b.order
}

// inRange tells whether every number of the value at s fits a float64.
func (c *canonicalizer) inRange(s span) bool {
	src := c.src
	for j := s.start; j < s.end; {
		switch b := src[j]; {
		case b == '"':
			j = stringEnd(src, j)
		case b == '-' || b >= '0' && b <= '9':
			end := numberEnd(src, j)
			if _, ok := appendNumber(nil, src[j:end]); !ok {
				return false
			}
			j = end
		default:
			j++
		}
	}
	return true
}

// valueEnd is the index after the value at src[i].
func (c *canonicalizer) valueEnd(i int) int {
	switch c.src[i] {
	case '{', '[':
		return c.end(i)
	case '"':
		return stringEnd(c.src, i)
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	}
	return numberEnd(c.src, i)
}

// end is the index after the object or array opening at src[i].
func (c *canonicalizer) end(i int) int {
	k := sort.Search(len(c.ends), func(k int) bool { return c.ends[k].start >= i })
	return c.ends[k].end
}

// findEnds finds the end of every object and array of src in one pass, so that skipping a nested value never
// scans it again.
func (c *canonicalizer) findEnds() {
	src := c.src
	c.ends, c.open = c.ends[:0], c.open[:0]
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			i = stringEnd(src, i) - 1
		case '{', '[':
			c.open = append(c.open, len(c.ends))
			c.ends = append(c.ends, span{start: i})
		case '}', ']':
			c.ends[c.open[len(c.open)-1]].end = i + 1
			c.open = c.open[:len(c.open)-1]
		}
	}
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index after the string literal opening at src[i].
func stringEnd(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(src)
}

func numberEnd(src []byte, i int) int {
	j := i
	for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '-' || src[j] == '+' || src[j] == '.' || src[j] == 'e' || src[j] == 'E') {
		j++
	}
	return j
}

// appendNumber writes a number literal as encoding/json writes the float64 it decodes to; false if none
// holds it. An integer of up to 15 digits is its own canonical form.
func appendNumber(dst, lit []byte) ([]byte, bool) {
	digits := lit
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) > 0 && len(digits) <= 15 && isDigits(digits) {
		return append(dst, lit...), true
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-07 is written e-7
		dst = dst[:n-1]
	}
	return dst, true
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// decodedKey is an object key as decoded: the literal's bytes when nothing in it is escaped or replaced.
func decodedKey(lit []byte) []byte {
	if plainLiteral(lit) {
		return lit[1 : len(lit)-1]
	}
	var s string
	_ = json.Unmarshal(lit, &s) // a valid literal
	return []byte(s)
}

// appendStringLiteral writes a string literal of valid JSON as encoding/json writes the string it decodes to.
func appendStringLiteral(dst, lit []byte) []byte {
	if plainLiteral(lit) {
		return append(dst, lit...)
	}
	var s string
	_ = json.Unmarshal(lit, &s)
	return appendString(dst, s)
}

// appendString writes s as encoding/json does (HTML characters escaped, invalid UTF-8 replaced).
func appendString(dst []byte, s string) []byte {
	if plain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// plainLiteral tells whether a string literal reads the same decoded and written again: no escape, nothing
// encoding/json escapes.
func plainLiteral(lit []byte) bool {
	if len(lit) < 2 {
		return false
	}
	s := lit[1 : len(lit)-1]
	switch plainASCII(s) {
	case plainYes:
		return true
	case plainNo:
		return false
	}
	return utf8.Valid(s) && !bytes.Contains(s, lineSeparator) && !bytes.Contains(s, paragraphSeparator)
}

// plain tells whether encoding/json writes s as it is between quotes.
func plain(s string) bool {
	switch plainASCII(s) {
	case plainYes:
		return true
	case plainNo:
		return false
	}
	return utf8.ValidString(s) && !strings.Contains(s, string(lineSeparator)) && !strings.Contains(s, string(paragraphSeparator))
}

// encoding/json escapes these two (JavaScript ends a line at them) and writes other valid UTF-8 as it is.
var lineSeparator, paragraphSeparator = []byte("\u2028"), []byte("\u2029")

const (
	plainNo = iota
	plainYes
	plainIfUTF8 // ASCII plain, and bytes past ASCII to check
)

// plainASCII checks the ASCII of s: printable but " \ < > & (which encoding/json escapes).
func plainASCII[T string | []byte](s T) int {
	verdict := plainYes
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= utf8.RuneSelf:
			verdict = plainIfUTF8
		case b < 0x20 || b == 0x7f || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&':
			return plainNo
		}
	}
	return verdict
}

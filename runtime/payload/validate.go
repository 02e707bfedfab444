package payload

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by Validate: the payload breaks a rule of DESIGN §12.
var ErrInvalid = errors.New("invalid payload")

// NoNode is Validate's nodeSeq for a payload that came without its ZooKeeper node (a control body, a snapshot).
const NoNode int64 = -1

// Validate applies the rules of DESIGN §12 to a payload that came from ZooKeeper or the network, before
// anything reads it: `ip` and `public` are IP addresses or DNS names, `port` and the values of `ports` are
// integers 1–65535 (as numbers or numeric strings, as the original wrote `port`), `seq` is an integer ≥ 0. A
// payload read from its node (nodeSeq ≥ 0) must also hold `ip` and `port`, the pod's address, and its seq can
// be no later than the node's own sequence: seq is the first sequence number the pod got in this cluster
// (DESIGN §2), and a re-registration creates a later node with the same seq, never an earlier one.
//
// Keys it does not name are free: bindings add their own, and only the named ones reach an address, a port, a
// command or a file name in Ochopod's own code.
func Validate(p Payload, nodeSeq int64) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	for _, key := range []string{KeyIP, KeyPublic} {
		v, ok := p[key]
		if !ok || v == nil {
			if key == KeyIP && nodeSeq >= 0 {
				return bad("no %s", key)
			}
			continue
		}
		s, isString := v.(string)
		if !isString {
			return bad("%s is not a string", key)
		}
		if s == "" && key == KeyPublic { // the generic binding may know no public address
			continue
		}
		if !Host(s) {
			return bad("%s %s is neither an IP address nor a DNS name", key, quote(s))
		}
	}
	if v, ok := p[KeyPort]; ok && v != nil {
		if !validPort(v) {
			return bad("port %s is not an integer 1-65535", quote(fmt.Sprint(v)))
		}
	} else if nodeSeq >= 0 {
		return bad("no port")
	}
	if v, ok := p[KeyPorts]; ok && v != nil {
		if err := validPorts(v); err != nil {
			return bad("%v", err)
		}
	}
	if v, ok := p[KeySeq]; ok && v != nil {
		seq, isInt := p.Int(KeySeq)
		switch {
		case !isInt || seq < 0:
			return bad("seq %s is not an integer >= 0", quote(fmt.Sprint(v)))
		case nodeSeq >= 0 && seq > nodeSeq:
			return bad("seq %d is later than its node's sequence %d", seq, nodeSeq)
		}
	}
	return nil
}

func validPort(v any) bool {
	n, ok := (Payload{"v": v}).Int("v")
	return ok && n >= 1 && n <= 65535
}

func validPorts(v any) error {
	check := func(k string, x any) error {
		if !validPort(x) {
			return fmt.Errorf("ports[%s] %s is not an integer 1-65535", quote(k), quote(fmt.Sprint(x)))
		}
		return nil
	}
	switch m := v.(type) {
	case map[string]any:
		for k, x := range m {
			if err := check(k, x); err != nil {
				return err
			}
		}
	case map[string]int64:
		for k, x := range m {
			if err := check(k, x); err != nil {
				return err
			}
		}
	case map[string]int:
		for k, x := range m {
			if err := check(k, x); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("ports is not an object")
	}
	return nil
}

// Host tells whether s is an IP address (without a zone) or a DNS name: dot-separated labels of letters,
// digits and inner hyphens, each 1-63 characters, 253 in all, an optional final dot.
func Host(s string) bool {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Zone() == ""
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// quote bounds a hostile value for an error message: quoted, at most 64 bytes of it.
func quote(s string) string {
	const most = 64
	if len(s) > most {
		return strconv.Quote(s[:most]) + "..."
	}
	return strconv.Quote(s)
}

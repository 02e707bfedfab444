package sim

import "strings"

// addr is where the pod's control port listens on the sim's network (http.go).
func (p *pod) addr() string { return strings.TrimPrefix(p.url, "http://") }

package leader

// unwarned returns the foreign nodes of the lock directory not warned about yet, and remembers them: a node
// that stays is logged once, not at every listing. Nodes no longer listed are forgotten.
func (m *Machine) unwarned(foreign []string) []string {
	var fresh []string
	seen := make(map[string]bool, len(foreign))
	for _, n := range foreign {
		seen[n] = true
		if !m.warned[n] {
			fresh = append(fresh, n)
		}
	}
	m.warned = seen
	return fresh
}

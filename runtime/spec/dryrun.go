package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ochopod/ochopod/runtime/sdk"
)

// DryRun renders the spec for the cluster described by clusterJSON (the leader's wire form, as sdk.ParseCluster
// reads it: {"pods": {key: payload}, "dependencies": {depends_on entry: {key: payload}}, "key": this pod's key})
// and describes what a configuration would do: each file with its path, mode and content, then the command and
// the spec's env. It writes no file, runs nothing and needs no ZooKeeper.
//
// The form, one section per file, then the command and the env:
//
//	==> /etc/web/upstream.conf (mode 0644, 61 bytes) <==
//	...the content...
//	==> command <==
//	["nginx","-g","daemon off;"]
//	==> env <==
//	BACKENDS=10.0.0.1:31000,10.0.0.2:31000
//
// A content that does not end with a newline is followed by the line `\ No newline at end of file`.
func (s *Spec) DryRun(clusterJSON []byte, rt Runtime) (string, error) {
	c, err := sdk.ParseCluster(clusterJSON)
	if err != nil {
		return "", err
	}
	r, err := s.Render(c, rt)
	if err != nil {
		return "", err
	}
	return r.Describe(), nil
}

// Describe writes r in DryRun's form.
func (r *Rendered) Describe() string {
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "==> %s (mode %s, %d bytes) <==\n", f.Path, f.Mode, len(f.Content))
		b.Write(f.Content)
		if len(f.Content) > 0 && f.Content[len(f.Content)-1] != '\n' {
			b.WriteString("\n\\ No newline at end of file\n")
		}
	}
	how := ""
	switch {
	case r.FromCommandLine:
		how = " (from the command line)"
	case r.Shell:
		how = " (run by /bin/sh -c)"
	}
	fmt.Fprintf(&b, "==> command%s <==\n", how)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)       // "&&" stays readable
	_ = enc.Encode(r.Command.Argv) // a []string always encodes; Encode ends the line
	b.WriteString("==> env <==\n")
	for _, k := range slices.Sorted(maps.Keys(r.Command.Env)) {
		fmt.Fprintf(&b, "%s=%s\n", k, r.Command.Env[k])
	}
	return b.String()
}

// Package version tells which Ochopod a binary is, from the build information the Go toolchain embeds
// (runtime/debug): the module version (a tag such as v0.3.0 when built by `go install ...@v0.3.0`, "(devel)"
// from a checkout), the VCS revision and time, whether the tree was modified, and the Go version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what the build information says.
type Info struct {
	Version  string // module version, "(devel)" from a checkout, "unknown" without build information
	Revision string // VCS revision, "" when not built from a VCS checkout
	Time     string // the revision's commit time (RFC 3339)
	Modified bool   // the tree had uncommitted changes
	Go       string // the Go version that built the binary
	Platform string // GOOS/GOARCH
}

// Get reads the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo reads bi.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion, Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		case "GOOS":
			in.Platform = s.Value + in.Platform[strings.Index(in.Platform, "/"):]
		case "GOARCH":
			in.Platform = in.Platform[:strings.Index(in.Platform, "/")+1] + s.Value
		}
	}
	return in
}

// String is one line: `v0.3.0 (rev 1a2b3c4d5e6f, 2026-12-06T22:00:00Z, modified) go1.26.8 linux/amd64`.
func (in Info) String() string {
	var vcs []string
	if in.Revision != "" {
		vcs = append(vcs, "rev "+in.Revision[:min(12, len(in.Revision))])
	}
	if in.Time != "" {
		vcs = append(vcs, in.Time)
	}
	if in.Modified {
		vcs = append(vcs, "modified")
	}
	s := in.Version
	if len(vcs) > 0 {
		s += " (" + strings.Join(vcs, ", ") + ")"
	}
	return fmt.Sprintf("%s %s %s", s, in.Go, in.Platform)
}

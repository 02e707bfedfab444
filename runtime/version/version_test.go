package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion_FromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"a release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"},
			Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}}},
			"v0.3.0 go1.26.8 linux/arm64"},
		{"a checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-06T22:00:00Z"},
				{Key: "vcs.modified", Value: "true"}, {Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}},
			"(devel) (rev 0123456789ab, 2026-12-06T22:00:00Z, modified) go1.26.8 linux/amd64"},
		{"no version", debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}},
			"(devel) go1.26.8 linux/amd64"},
	} {
		if got := FromBuildInfo(&c.bi).String(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestVersion_GetReadsThisBinary(t *testing.T) {
	in := Get()
	if in.Version == "" || !strings.HasPrefix(in.Go, "go") || !strings.Contains(in.Platform, "/") {
		t.Fatalf("version of the test binary: %+v", in)
	}
}

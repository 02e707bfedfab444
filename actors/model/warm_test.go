package model

import (
	"context"
	"slices"
	"testing"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/control"
)

// warmRecorder is a control.Caller and control.Warmer that records what it is asked to warm.
type warmRecorder struct{ warmed [][]string }

func (*warmRecorder) Post(context.Context, string, []byte) (int, []byte, error) { return 200, nil, nil }
func (r *warmRecorder) Warm(urls []string)                                      { r.warmed = append(r.warmed, slices.Clone(urls)) }

// DESIGN §12: a leader warms its connections to the pods that registered since its last read, valid ones only,
// so that the phase that configures them finds them open; the pods of its first read were warmed when it won
// the lock (runtime/pod warmUp), and a failed read changes nothing. The read warms as soon as it has the pods
// (newPodWarmer, called from the read's task), against the pods of the read before it.
func TestNewPodWarmer_ThePodsThatRegisteredSinceTheLastRead(t *testing.T) {
	rec := &warmRecorder{}
	b := newBehaviour(Config{Caller: rec})
	pod := func(ip, scheme string) []byte {
		return []byte(`{"ip":"` + ip + `","port":"8080","ports":{"8080":8080},"seq":1,"scheme":"` + scheme + `"}`)
	}
	// read is one read as the actor sees it: the warmer made when the read began, called with its pods, then
	// the read delivered.
	read := func(pods map[string][]byte, failed bool) {
		if warm := b.newPodWarmer(); warm != nil && !failed {
			warm(pods)
		}
		r := &v1.ClusterRead{Generation: 1, Pods: pods}
		if failed {
			r = &v1.ClusterRead{Generation: 1, Failure: protocol.Other("connection lost")}
		}
		b.noteSeen(r)
	}
	a, c := pod("10.0.0.1", "https"), pod("10.0.0.3", "https")
	read(map[string][]byte{"a": a}, false)
	if len(rec.warmed) != 0 {
		t.Fatalf("the first read warmed %q", rec.warmed)
	}
	read(nil, true)
	read(map[string][]byte{"a": a, "c": c, "d": pod("10.0.0.4; rm -rf /", "https"), "e": pod("10.0.0.5", "")}, false)
	if want := [][]string{{"https://10.0.0.3:8080", "http://10.0.0.5:8080"}}; !slices.EqualFunc(rec.warmed, want, slices.Equal) {
		t.Fatalf("warmed %q, want %q", rec.warmed, want)
	}
	read(map[string][]byte{"a": a, "c": c}, false)
	if len(rec.warmed) != 1 {
		t.Fatalf("pods seen before warmed again: %q", rec.warmed)
	}
	if (&behaviour{cfg: Config{Caller: control.NewHTTPCaller()}}).newPodWarmer() != nil {
		t.Fatal("a warmer before the first read")
	}
}

package model

import (
	"context"
	"slices"
	"testing"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// warmRecorder is a control.Caller and control.Warmer that records what it is asked to warm.
type warmRecorder struct{ warmed [][]string }

func (*warmRecorder) Post(context.Context, string, []byte) (int, []byte, error) { return 200, nil, nil }
func (r *warmRecorder) Warm(urls []string)                                      { r.warmed = append(r.warmed, slices.Clone(urls)) }

// DESIGN §12: a leader warms its connections to the pods that registered since its last read, valid ones only,
// so that the phase that configures them finds them open; the pods of its first read were warmed when it won
// the lock (runtime/pod warmUp), and a failed read changes nothing.
func TestWarmNewPods_ThePodsThatRegisteredSinceTheLastRead(t *testing.T) {
	rec := &warmRecorder{}
	b := newBehaviour(Config{Caller: rec})
	pod := func(ip, scheme string) []byte {
		return []byte(`{"ip":"` + ip + `","port":"8080","ports":{"8080":8080},"seq":1,"scheme":"` + scheme + `"}`)
	}
	read := func(pods map[string][]byte) *v1.ClusterRead { return &v1.ClusterRead{Generation: 1, Pods: pods} }
	a, c := pod("10.0.0.1", "https"), pod("10.0.0.3", "https")
	b.warmNewPods(read(map[string][]byte{"a": a}))
	if len(rec.warmed) != 0 {
		t.Fatalf("the first read warmed %q", rec.warmed)
	}
	b.warmNewPods(&v1.ClusterRead{Generation: 2, Failure: protocol.Other("connection lost")})
	b.warmNewPods(read(map[string][]byte{"a": a, "c": c, "d": pod("10.0.0.4; rm -rf /", "https"), "e": pod("10.0.0.5", "")}))
	if want := [][]string{{"https://10.0.0.3:8080", "http://10.0.0.5:8080"}}; !slices.EqualFunc(rec.warmed, want, slices.Equal) {
		t.Fatalf("warmed %q, want %q", rec.warmed, want)
	}
	b.warmNewPods(read(map[string][]byte{"a": a, "c": c}))
	if len(rec.warmed) != 1 {
		t.Fatalf("pods seen before warmed again: %q", rec.warmed)
	}
}

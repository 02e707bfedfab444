package pod_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// BenchmarkIntegration_Register measures, on a real ZooKeeper, how long a pod takes from start to a session
// and from the session to its registration (layout ensured, node created, seq written).
// Run: go test -run '^$' -bench Integration_Register ./runtime/pod/
func BenchmarkIntegration_Register(b *testing.B) {
	srv := zkserver.Start(b)
	f := newFixture(b, srv.Addr())
	var toSession, toRegistered time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p, w := f.start("bench", 10*time.Second)
		w.until(b, "a session", func(st *v1.SessionStatus) bool { return st.GetConnected() })
		t1 := time.Now()
		w.until(b, "registration", registered)
		t2 := time.Now()
		toSession += t1.Sub(start)
		toRegistered += t2.Sub(t1)
		stopPod(b, p)
	}
	b.ReportMetric(float64(toSession.Microseconds())/float64(b.N)/1000, "ms/start→session")
	b.ReportMetric(float64(toRegistered.Microseconds())/float64(b.N)/1000, "ms/session→registered")
}

// BenchmarkIntegration_GracefulHandOver measures, on a real ZooKeeper, the time from a graceful stop of the
// leader (what SIGTERM does) to another pod's leadership, with three pods.
// Run: go test -run '^$' -bench Integration_GracefulHandOver ./runtime/pod/
func BenchmarkIntegration_GracefulHandOver(b *testing.B) {
	srv := zkserver.Start(b)
	f := newFixture(b, srv.Addr())
	type member struct {
		p *pod.Pod
		w *watcher
	}
	var pods []member
	for len(pods) < 3 {
		p, w := f.start("handover", 10*time.Second)
		pods = append(pods, member{p, w})
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		holder := -1
		for holder < 0 {
			for j, m := range pods {
				if st, err := m.p.Status(time.Second); err == nil && leads(st) {
					holder = j
				}
			}
			if holder < 0 {
				time.Sleep(time.Millisecond)
			}
		}
		start := time.Now()
		stopPod(b, pods[holder].p)
		var others []*watcher
		for j, m := range pods {
			if j != holder {
				others = append(others, m.w)
			}
		}
		waitAnyLeader(b, others)
		total += time.Since(start)
		b.StopTimer()
		p, w := f.start("handover", 10*time.Second) // keep three pods
		w.until(b, "registration", registered)
		pods[holder] = member{p, w}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/hand-over")
}

func stopPod(b *testing.B, p *pod.Pod) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		b.Fatal(err)
	}
}

// waitAnyLeader blocks until one of the watched pods publishes leadership, waking only on status changes.
func waitAnyLeader(b *testing.B, ws []*watcher) {
	cases := make([]reflect.SelectCase, 0, len(ws)+1)
	for _, w := range ws {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.changed)})
	}
	deadline := time.After(waitLong)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)})
	for {
		for _, w := range ws {
			w.mu.Lock()
			last := w.last
			w.mu.Unlock()
			if last != nil && leads(last) {
				return
			}
		}
		if i, _, _ := reflect.Select(cases); i == len(ws) {
			b.Fatal("no new leader")
		}
	}
}

package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/testkit/zkserver"
)

// BenchmarkIntegration_SIGTERMHandOver measures, with real `ochopod run` processes on a real ZooKeeper, the
// time from SIGTERM to the leader until another pod's /info says leader (polled every 2 ms, so figures carry
// up to 2 ms of polling error). Three pods; a replacement joins after each round.
// Run: go test -run '^$' -bench Integration_SIGTERMHandOver -benchtime 10x ./cmd/ochopod/
func BenchmarkIntegration_SIGTERMHandOver(b *testing.B) {
	srv := zkserver.Start(b)
	pods := []*podProcess{}
	for len(pods) < 3 {
		pods = append(pods, startPodProcess(b, srv.Addr(), "bench", 10*time.Second, "sleep", "600"))
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		holder := waitLeaderB(b, pods, -1)
		b.StartTimer()
		start := time.Now()
		if err := pods[holder].cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		waitLeaderB(b, pods, holder)
		total += time.Since(start)
		b.StopTimer()
		<-pods[holder].done
		pods[holder] = startPodProcess(b, srv.Addr(), "bench", 10*time.Second, "sleep", "600")
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/hand-over")
}

func waitLeaderB(b *testing.B, pods []*podProcess, exclude int) int {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		lead, reg := leaders(pods, exclude)
		want := len(pods)
		if exclude >= 0 {
			want--
		}
		if len(lead) == 1 && reg == want {
			return lead[0]
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatal("no single leader")
	return -1
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/farm"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// BenchmarkIntegration_Farm measures clusters of hundreds to thousands of pods on one machine (issue #18): the
// leader is a real `ochopod run` process (so is the pod next in line for the lock), every other pod runs in
// this process through the library (testkit/farm: its own ZooKeeper session and control port each). For
// each size of OCHOPOD_BENCH_PODS (default "200,500,1000") and each body form of OCHOPOD_BENCH_FORMS (default
// "delta,whole": the farm's pods register with or without "protocol": 2, DESIGN §7):
//
//   - join: one more farm pod starts; until the hash covering it is written (every pod answered on, ok
//     sent), with the leader's CPU meanwhile, the bytes the farm's pods received (check, on and ok bodies;
//     the two processes' own are not counted), ZooKeeper's packets received meanwhile (mntr), and the
//     leader's peak RSS (VmHWM, reset before each round); medians of OCHOPOD_BENCH_ROUNDS (default 3), the
//     pod leaving again between rounds;
//   - hand-over: SIGTERM to the leader; until the next one wrote the hash covering the pods left, with its
//     CPU and bytes, and on the way when the old lock node went (released) and when the new leader cleared
//     the hash (armed: it read every pod, and every pod passed check). The new leader guesses every pod's
//     base from its own pod's (DESIGN §7), so with delta bodies a hand-over sends what changed.
//
// Run: nice go test -run '^$' -bench Integration_Farm -benchtime 1x -timeout 60m ./cmd/ochopod/
func BenchmarkIntegration_Farm(b *testing.B) {
	sizes := benchInts(b, "OCHOPOD_BENCH_PODS", "200,500,1000")
	rounds := benchInts(b, "OCHOPOD_BENCH_ROUNDS", "3")[0]
	forms := strings.Split(benchEnv("OCHOPOD_BENCH_FORMS", "delta,whole"), ",")
	buildBinary(b)
	var rows []farmRow
	for _, n := range sizes {
		for _, form := range forms {
			b.Run(fmt.Sprintf("pods=%d/%s", n, form), func(b *testing.B) {
				var r farmRow
				for range b.N {
					r = farmOnce(b, n, rounds, form == "whole")
				}
				r.form = form
				b.ReportMetric(ms(r.join), "ms/join")
				b.ReportMetric(float64(r.joinBytes)/1e6, "MB/join")
				b.ReportMetric(ms(r.joinCPU), "ms-cpu/join")
				rows = append(rows, r)
			})
		}
	}
	if len(rows) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nfarm: leader and successor as `ochopod run`, the rest in one process; damper 0; %d CPUs, load %s; medians of %d joins\n", runtime.NumCPU(), loadAvg(), rounds)
	fmt.Fprintf(&sb, "%6s %6s | %9s %9s %11s %9s %9s | %10s %9s %9s %11s %9s\n", "pods", "bodies", "join ms", "CPU ms", "sent MB", "ZK pkts", "RSS MB",
		"handover", "released", "armed", "CPU ms", "sent MB")
	for _, r := range rows {
		fmt.Fprintf(&sb, "%6d %6s | %9.0f %9.0f %11.3f %9d %9.1f | %10.0f %9.0f %9.0f %11.0f %9.3f\n", r.n, r.form, ms(r.join), ms(r.joinCPU),
			float64(r.joinBytes)/1e6, r.joinZK, r.peakRSS, ms(r.handOver), ms(r.released), ms(r.armed), ms(r.handOverCPU), float64(r.handOverBytes)/1e6)
	}
	fmt.Fprint(os.Stderr, sb.String())
}

type farmRow struct {
	n             int
	form          string
	join, joinCPU time.Duration
	joinBytes     int64
	joinZK        int64
	peakRSS       float64 // MB, the leader's, the highest of the rounds
	handOver      time.Duration
	handOverCPU   time.Duration
	handOverBytes int64
	released      time.Duration // SIGTERM → the leader's lock node gone
	armed         time.Duration // SIGTERM → the next leader cleared the hash: its reads and checks done
	started       time.Duration // farm started → configured with every pod
}

// farmOnce builds a cluster of n pods (two processes, n-2 in the farm), then joins and hands over.
func farmOnce(b *testing.B, n, rounds int, whole bool) farmRow {
	b.StopTimer()
	defer b.StartTimer()
	r := farmRow{n: n}
	srv := zkserver.Start(b)
	obs := mdObserve(b, srv.Addr())
	c := zk.ClusterOf("it", "farm")
	warmUp(b, obs)
	within := 60*time.Second + time.Duration(n)*300*time.Millisecond
	flags := []string{"--log-level", "warn", "--damper", "0"}
	leader := mdStartPod(b, srv.Addr(), "farm", 10*time.Second, flags, "sleep", "3600")
	farmWait(b, obs, c, 1, "", within)
	next := mdStartPod(b, srv.Addr(), "farm", 10*time.Second, flags, "sleep", "3600")
	farmWait(b, obs, c, 2, "", within)

	f, err := farm.New(farm.Config{ZK: srv.Addr(), Namespace: "it", Cluster: "farm", WholeBodies: whole})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = f.Close(ctx)
	})
	began := time.Now()
	for range n - 2 {
		if _, err := f.Start(); err != nil {
			b.Fatal(err)
		}
	}
	farmWait(b, obs, c, n, "", within)
	r.started = time.Since(began)
	b.Logf("pods=%d: the farm's %d pods configured with the two processes in %s", n, n-2, r.started.Round(time.Millisecond))

	pid := leader.cmd.Process.Pid
	var joins, cpus []time.Duration
	var sent, pkts []int64
	for range rounds {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			b.Logf("cannot reset the leader's peak RSS: %v", err)
		}
		cpu0, tr0, zk0 := processCPU(b, pid), f.Traffic(), mntr(b, srv)["zk_packets_received"]
		t0 := time.Now()
		m, err := f.Start()
		if err != nil {
			b.Fatal(err)
		}
		at := farmWait(b, obs, c, n+1, "", within)
		joins = append(joins, at.Sub(t0))
		cpus = append(cpus, processCPU(b, pid)-cpu0)
		sent = append(sent, f.Traffic().Bytes-tr0.Bytes)
		pkts = append(pkts, mntr(b, srv)["zk_packets_received"]-zk0)
		r.peakRSS = max(r.peakRSS, statusMB(b, pid, "VmHWM"))
		ctx, cancel := context.WithTimeout(context.Background(), within)
		if err := f.Stop(ctx, m); err != nil {
			b.Fatal(err)
		}
		cancel()
		farmWait(b, obs, c, n, "", within)
	}
	r.join, r.joinCPU = median(joins), median(cpus)
	r.joinBytes, r.joinZK = medianInt(sent), medianInt(pkts)

	keys := farmKeys(b, obs, c)
	leaderKey := keys[leaderOf(b, obs, c, keys)]
	cpu0, tr0 := processCPU(b, next.cmd.Process.Pid), f.Traffic()
	released, armed := handOverMarks(b, obs, c)
	t0 := time.Now()
	if err := leader.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	at := farmWait(b, obs, c, n-1, leaderKey, within)
	r.released, r.armed = (<-released).Sub(t0), (<-armed).Sub(t0)
	r.handOver, r.handOverCPU = at.Sub(t0), processCPU(b, next.cmd.Process.Pid)-cpu0
	r.handOverBytes = f.Traffic().Bytes - tr0.Bytes
	return r
}

// handOverMarks watches the lock node of c's leader and c's hash: released gets when the node goes, armed when
// the hash first changes (DESIGN §7: the next leader clears it once every pod passed check, before on).
func handOverMarks(b *testing.B, obs zk.Conn, c zk.Cluster) (released, armed <-chan time.Time) {
	names, _, err := obs.Children(c.Coordinator())
	if err != nil {
		b.Fatal(err)
	}
	contenders, _ := zk.SortContenders(names)
	if len(contenders) == 0 {
		b.Fatal("no leader")
	}
	ok, _, gone, err := obs.ExistsW(c.Coordinator() + "/" + contenders[0].Name)
	if err != nil || !ok {
		b.Fatalf("the lock node: %v (exists %v)", err, ok)
	}
	_, _, cleared, err := obs.GetW(c.Hash())
	if err != nil {
		b.Fatal(err)
	}
	rel, arm := make(chan time.Time, 1), make(chan time.Time, 1)
	go func() {
		<-gone
		rel <- time.Now()
	}()
	go func() {
		<-cleared
		arm <- time.Now()
	}()
	return rel, arm
}

// benchEnv is the variable's value, or def when it is unset or empty.
func benchEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func medianInt(v []int64) int64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// farmKeys is the keys of the cluster's snapshot.
func farmKeys(b *testing.B, obs zk.Conn, c zk.Cluster) []string {
	data, _, err := obs.Get(c.Snapshot())
	if err != nil {
		b.Fatal(err)
	}
	var snap map[string]json.RawMessage
	if err := json.Unmarshal(data, &snap); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// farmWait waits, through watches on the hash, until a non-empty hash is written with a snapshot of n pods
// (exclude not among them), and returns when that write was seen. It reads two nodes a change, unlike
// waitHash, which reads every pod: at a thousand pods that would weigh on what is measured.
func farmWait(b *testing.B, obs zk.Conn, c zk.Cluster, n int, exclude string, within time.Duration) time.Time {
	end := time.NewTimer(within)
	defer end.Stop()
	for {
		hash, _, ch, err := obs.GetW(c.Hash())
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			b.Fatal(err)
		}
		seen := time.Now()
		if len(hash) > 0 {
			if data, _, err := obs.Get(c.Snapshot()); err == nil {
				var snap map[string]json.RawMessage
				if json.Unmarshal(data, &snap) == nil && len(snap) == n && snap[exclude] == nil {
					return seen
				}
			}
		}
		if ch == nil { // no hash node yet
			var ok bool
			if ok, _, ch, err = obs.ExistsW(c.Hash()); err != nil {
				b.Fatal(err)
			} else if ok {
				continue
			}
		}
		select {
		case <-ch:
		case <-end.C:
			b.Fatalf("no configuration of %d pods within %s", n, within)
		}
	}
}

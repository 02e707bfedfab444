package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// BenchmarkIntegration_Scale measures the cluster model with real `ochopod run` processes (command: sleep) on
// one machine and a real ZooKeeper (warmed up by 300 create/get/delete first: a production server has been up
// for a while), damper 0, session timeout 10 s, for each pod count of OCHOPOD_BENCH_PODS (default "3,10,50"):
//
//   - start: from the first process started to the hash (with the snapshot, one multi) covering all n pods
//     (every pod answered on with 200, so every command was started; /info is checked afterwards), and the
//     part of it until every pod registered;
//   - join: from starting one more pod to the hash covering the n+1 pods, with the configuration phase alone
//     (ochopod_phase_duration_seconds of the leader's /metrics: to the nanosecond) and the CPU time the
//     leader's process used meanwhile;
//   - hand-over: from SIGTERM to the leader to the hash, written by another pod, covering the n pods left, with
//     the new leader's configuration phase alone (its /metrics) and the CPU time its process used meanwhile;
//   - pods' CPU: the CPU time every pod's process used meanwhile, the leader's included (a join: the n pods
//     there before, not the one that starts; a hand-over: the pods that stay), in the side by side: on one
//     machine, the pods' CPU is what a phase waits for, and it varies less from one run to the next than
//     the phase's time;
//   - conns: the connections the leader opened meanwhile (ochopod_control_client_connections_total of its
//     /metrics), plain ones or TLS ones as full handshakes + resumed ones: a leader keeps its connections
//     alive, so a join opens one (to the new pod), and a new leader one per pod (warmed while it reads);
//   - join and hand-over come in OCHOPOD_BENCH_ROUNDS rounds (default 3) of one each: the medians; each
//     after a quiet second and, over HTTPS, once the pod next in line opened its kept connections (settleNext);
//   - idle: ZooKeeper packets received per second over OCHOPOD_BENCH_IDLE (default 30s) of quiet (mntr's
//     zk_packets_received), against the pings the sessions must send: sessions / (session timeout / 3);
//   - info p50: the median of 200 POST /info to the leader, one at a time on a kept-alive connection, after
//     the rounds.
//
// The pods run in the GC state they spend their lives in: GOGC=100, unless the bench's environment sets GOGC,
// which reaches them. A pod's quiet start (GOGC 200 and no memory limit until its first collection: tuneRuntime)
// is over a few minutes in, at the latest with the runtime's periodic collection, and the bench's pods live
// less than a minute: without it, the plain pods of the rounds had never collected and had no memory limit,
// while the pods with TLS, which end their quiet start once configured (settleWhenConfigured), collected under
// theirs in the rounds' phases (GODEBUG=gctrace=1, 50 pods: 0.1 collections a plain pod against 3.1 a secured
// one in a run of 4 rounds; with GOGC=100, 3.3 and 4.2 in 6).
//
// Pods start in batches of OCHOPOD_BENCH_BATCH (default 50): the next batch once the previous one registered.
// Each count runs in each mode of OCHOPOD_BENCH_MODES (default "plain,secured"; see scaleModes): side by side,
// what DESIGN §12's tokens and control-port TLS cost.
// Run: OCHOPOD_BENCH_PODS=3,10,50,200 go test -run '^$' -bench Integration_Scale -benchtime 1x ./cmd/ochopod/
func BenchmarkIntegration_Scale(b *testing.B) {
	counts := benchInts(b, "OCHOPOD_BENCH_PODS", "3,10,50")
	batch := benchInts(b, "OCHOPOD_BENCH_BATCH", "50")[0]
	rounds := benchInts(b, "OCHOPOD_BENCH_ROUNDS", "3")[0]
	idle := 30 * time.Second
	if v := os.Getenv("OCHOPOD_BENCH_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("OCHOPOD_BENCH_IDLE=%q: %v", v, err)
		}
		idle = d
	}
	if os.Getenv("GOGC") == "" {
		b.Setenv("GOGC", "100") // the pods' (see above); this process's runtime read it at its start
	}
	buildBinary(b)
	modes := scaleModes(b)
	var rows []scaleRow
	for _, n := range counts {
		for _, mode := range modes {
			b.Run(fmt.Sprintf("pods=%d/%s", n, mode.name), func(b *testing.B) {
				var r scaleRow
				for range b.N {
					r = scaleOnce(b, n, batch, rounds, idle, mode)
				}
				b.ReportMetric(ms(r.start), "ms/start")
				b.ReportMetric(ms(r.registered), "ms/registered")
				b.ReportMetric(ms(r.join), "ms/join")
				b.ReportMetric(ms(r.handOver), "ms/hand-over")
				b.ReportMetric(ms(r.joinPhase), "ms/join-phase")
				b.ReportMetric(ms(r.handOverPhase), "ms/hand-over-phase")
				b.ReportMetric(r.idleRate, "zk-pkts/s-idle")
				b.ReportMetric(float64(r.infoP50.Microseconds()), "µs/info-p50")
				b.ReportMetric(r.pingRate, "pings/s-expected")
				b.ReportMetric(float64(r.joinConns.none+r.joinConns.full+r.joinConns.resumed), "conns/join")
				b.ReportMetric(float64(r.handOverConns.none+r.handOverConns.full+r.handOverConns.resumed), "conns/hand-over")
				rows = append(rows, r)
			})
		}
	}
	if len(rows) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nochopod run, damper 0, session timeout %s, %d CPUs (%s); targets: 3 pods ≤ 250 ms, 200 pods ≤ 3 s, join ≤ 150 ms, hand-over ≤ 300 ms, idle = pings only\n",
		scaleSessionTimeout, runtime.NumCPU(), machineCosts(b))
	fmt.Fprintf(&sb, "%6s %8s %10s %11s %7s %10s %11s %11s %6s %11s %11s %11s %6s %10s %12s %15s %6s %9s %8s\n",
		"pods", "mode", "start", "registered", "phases", "join", "join phase", "leader CPU", "conns", "hand-over", "its phase", "leader CPU", "conns", "info p50", "idle pkts/s", "pings/s (exp.)", "ratio", "RSS/pod", "scrapes")
	for _, r := range rows {
		fmt.Fprintf(&sb, "%6d %8s %10s %11s %7d %10s %11s %11s %6s %11s %11s %11s %6s %10s %12.1f %15.1f %6.2f %7.1fMB %8d\n",
			r.n, r.mode, r.start.Round(time.Millisecond), r.registered.Round(time.Millisecond), r.phases, r.join.Round(time.Millisecond), r.joinPhase.Round(time.Millisecond), r.joinLeaderCPU.Round(time.Millisecond), r.joinConns,
			r.handOver.Round(time.Millisecond), r.handOverPhase.Round(time.Millisecond), r.handOverLeaderCPU.Round(time.Millisecond), r.handOverConns, r.infoP50.Round(time.Microsecond), r.idleRate, r.pingRate, r.idleRate/r.pingRate, r.rssMB, r.scrapes)
	}
	sb.WriteString(sideBySide(rows))
	fmt.Print(sb.String())
}

// sideBySide compares each mode's phases, and the pods' CPU over the rounds, with plain's at each pod count,
// over every round of every run of the mode (OCHOPOD_BENCH_MODES may name a mode several times: interleaved
// runs, so that a slow minute of the machine does not land on one mode alone): the pooled medians, their
// ratio, and the rounds behind them.
// "" without plain rows to compare with.
func sideBySide(rows []scaleRow) string {
	type key struct {
		n    int
		mode string
	}
	joins, handOvers := map[key][]time.Duration{}, map[key][]time.Duration{}
	joinCPU, handOverCPU := map[key][]time.Duration{}, map[key][]time.Duration{}
	var order []key
	for _, r := range rows {
		k := key{r.n, r.mode}
		if _, seen := joins[k]; !seen {
			order = append(order, k)
		}
		joins[k] = append(joins[k], r.joinPhases...)
		handOvers[k] = append(handOvers[k], r.handOverPhases...)
		joinCPU[k] = append(joinCPU[k], r.joinPodsCPU...)
		handOverCPU[k] = append(handOverCPU[k], r.handOverPodsCPU...)
	}
	var sb strings.Builder
	for _, k := range order {
		plain := key{k.n, "plain"}
		if k.mode == "plain" || len(joins[plain]) == 0 {
			continue
		}
		if sb.Len() == 0 {
			fmt.Fprintf(&sb, "\nside by side: each mode against plain, the medians of every round of every run, [90 %% interval of their ratio] (rounds)\n%6s %8s %38s %38s %38s %38s\n",
				"pods", "mode", "join phase", "hand-over's phase", "pods' CPU, join", "pods' CPU, hand-over")
		}
		ratio := func(of map[key][]time.Duration) string {
			m, p := median(of[k]), median(of[plain])
			lo, hi := ratioInterval(of[k], of[plain])
			return fmt.Sprintf("%s / %s %+.0f%% [%+.0f, %+.0f] (%d)", m.Round(100*time.Microsecond), p.Round(100*time.Microsecond),
				100*(float64(m)/float64(p)-1), 100*(lo-1), 100*(hi-1), min(len(of[k]), len(of[plain])))
		}
		fmt.Fprintf(&sb, "%6d %8s %38s %38s %38s %38s\n", k.n, k.mode, ratio(joins), ratio(handOvers), ratio(joinCPU), ratio(handOverCPU))
	}
	return sb.String()
}

// ratioInterval is the 90 % bootstrap interval of median(a) / median(b): the ratio over 2 000 resamples (with
// replacement) of each, the 5th and 95th percentiles. A phase's time varies by ~10 % from one run to the next on
// a shared 2-core VM, as much as the cost compared: the interval tells a difference from that noise. The seed
// is fixed, so the same rounds give the same interval.
func ratioInterval(a, b []time.Duration) (lo, hi float64) {
	if len(a) == 0 || len(b) == 0 {
		return 0, 0
	}
	rng := rand.New(rand.NewPCG(1, 2))
	resample := func(d []time.Duration) time.Duration {
		r := make([]time.Duration, len(d))
		for i := range r {
			r[i] = d[rng.IntN(len(d))]
		}
		return median(r)
	}
	ratios := make([]float64, 2000)
	for i := range ratios {
		ratios[i] = float64(resample(a)) / float64(resample(b))
	}
	slices.Sort(ratios)
	return ratios[len(ratios)*5/100], ratios[len(ratios)*95/100]
}

const scaleSessionTimeout = 10 * time.Second

type scaleRow struct {
	n                     int
	mode                  string // scaleMode.name
	start, join, handOver time.Duration
	registered            time.Duration   // of start: until every pod registered
	phases                int             // configurations the first leader wrote while the n pods started
	joinPhase             time.Duration   // the join's configuration phase, from the leader's /metrics
	joinLeaderCPU         time.Duration   // CPU time the leader's process used during the join
	handOverPhase         time.Duration   // the hand-over's configuration phase, from the new leader's /metrics
	handOverLeaderCPU     time.Duration   // CPU time the new leader's process used during the hand-over
	joinPhases            []time.Duration // every round's, of which joinPhase is the median
	handOverPhases        []time.Duration // every round's, of which handOverPhase is the median
	joinPodsCPU           []time.Duration // every round's CPU time of the pods there before the join
	handOverPodsCPU       []time.Duration // every round's CPU time of the pods that stay
	joinConns             connCounts      // connections the leader opened during the join
	handOverConns         connCounts      // connections the new leader opened during the hand-over
	idleRate, pingRate    float64
	rssMB                 float64       // mean resident memory of one `ochopod run` process
	infoP50               time.Duration // median POST /info to the leader
	scrapes               int           // GET /metrics answered meanwhile (mode scraped)
	sessions, idlePackets int64
	idleWindow            time.Duration
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// leaderOf is the index in keys (the pods' keys) of the pod holding c's lock; the lock names it by its key
// without dashes.
func leaderOf(b *testing.B, obs zk.Conn, c zk.Cluster, keys []string) int {
	holder, err := cluster.Leader(obs, c)
	if err != nil {
		b.Fatal(err)
	}
	i := slices.IndexFunc(keys, func(k string) bool { return strings.ReplaceAll(k, "-", "") == holder })
	if i < 0 {
		b.Fatalf("the lock holder %q is none of the pods", holder)
	}
	return i
}

// settleNext lets a quiet spell pass before a join or a hand-over, in every mode (in a cluster, minutes pass
// between two such events; right after one, pods are still warm from its phase, and a join there took ~8 ms
// less at 50 pods), then waits, over HTTPS, until the pod next in line for the lock has its connections to the
// cluster open (DESIGN §12 "kept connections": its connection counter reached the cluster's size), as it has
// when a leader leaves minutes after the last hand-over. Over plain HTTP nothing is kept.
func settleNext(b *testing.B, obs zk.Conn, c zk.Cluster, pods []*podProcess, keys []string, within time.Duration, mode scaleMode) {
	time.Sleep(settlePause) // a measurement's setting, not a wait for a condition
	if mode.scheme != "https" {
		return
	}
	next := pods[nextOf(b, obs, c, keys)]
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		n := mode.metrics(b, next).conns
		if n.full+n.resumed >= len(pods) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the pod next in line opened %v connections to %d pods in %s", n, len(pods), within)
		}
	}
}

// settlePause is settleNext's quiet spell: longer than the pod next in line takes to open its connections to
// 50 pods at the keeper's pace (control.DefaultKeepPace).
const settlePause = time.Second

// nextOf is the index in keys of the pod next in line for c's lock (DESIGN §12 "kept connections").
func nextOf(b *testing.B, obs zk.Conn, c zk.Cluster, keys []string) int {
	names, _, err := obs.Children(c.Coordinator())
	if err != nil {
		b.Fatal(err)
	}
	contenders, _ := zk.SortContenders(names)
	if len(contenders) < 2 {
		b.Fatalf("no pod next in line: %v", names)
	}
	i := slices.IndexFunc(keys, func(k string) bool { return strings.ReplaceAll(k, "-", "") == contenders[1].ID })
	if i < 0 {
		b.Fatalf("the contender next in line %q is none of the pods", contenders[1].Name)
	}
	return i
}

func benchInts(b *testing.B, env, def string) []int {
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want positive integers separated by commas", env, v)
		}
		out = append(out, n)
	}
	return out
}

// benchPod starts a pod of the scale bench: info logs (debug logs of hundreds of pods cost CPU) to a file of
// its own, sleep; damper 0, unless OCHOPOD_BENCH_DAMPER gives one (the join and hand-over phases are timed
// without it).
func benchPod(b *testing.B, addr string, mode scaleMode) *podProcess {
	flags := append([]string{"--log-level", "info"}, mode.flags...)
	if d := os.Getenv("OCHOPOD_BENCH_DAMPER"); d != "" {
		flags = append(flags, "--damper", d)
	}
	return mdStartPodLogging(b, true, addr, "scale", scaleSessionTimeout, flags, "sleep", "3600")
}

func scaleOnce(b *testing.B, n, batch, rounds int, idle time.Duration, mode scaleMode) scaleRow {
	b.StopTimer()
	defer b.StartTimer()
	r := scaleRow{n: n, mode: mode.name}
	srv := zkserver.Start(b)
	obs := mdObserve(b, srv.Addr())
	c := zk.ClusterOf("it", "scale")
	warmUp(b, obs)
	deadline := 60*time.Second + time.Duration(n)*200*time.Millisecond
	var scr *scraper
	if mode.scrape {
		scr = startScraper(b)
	}

	// Start: batches, each once the previous one registered (a pod that could not listen is replaced).
	began := time.Now()
	var pods []*podProcess
	for len(pods) < n {
		k := min(batch, n-len(pods))
		for range k {
			pods = append(pods, benchPod(b, srv.Addr(), mode))
		}
		if scr != nil {
			scr.set(pods)
		}
		waitRegistered(b, obs, c, pods, srv.Addr(), deadline, mode)
	}
	r.registered = time.Since(began)
	_, at := waitHash(b, obs, c, n, "", deadline)
	r.start = at.Sub(began)
	infos := benchInfos(b, pods, deadline, mode)
	r.phases = strings.Count(leaderLog(pods), "snapshot and hash written") // the log is in by now

	// Rounds: a pod joins (n → n+1), then the leader gets SIGTERM and another one configures the n pods left.
	keys := make([]string, len(pods))
	for i, m := range infos {
		keys[i], _ = m["key"].(string)
	}
	var joins, joinPhases, joinCPUs, handOvers, handOverPhases, handOverCPUs []time.Duration
	var joinPodsCPU, handOverPodsCPU []time.Duration
	var joinConns, handOverConns []connCounts
	for i := range rounds {
		var j joinRound
		settleNext(b, obs, c, pods, keys, deadline, mode)
		var all []int
		for _, p := range pods {
			all = append(all, p.cmd.Process.Pid)
		}
		stop := benchPerf(b, fmt.Sprintf("%d-%s-join-%d", n, mode.name, i), all...)
		pods, keys, j = join(b, srv.Addr(), obs, c, pods, keys, deadline, mode)
		if scr != nil {
			scr.set(pods)
		}
		joins, joinPhases, joinCPUs = append(joins, j.took), append(joinPhases, j.phase), append(joinCPUs, j.cpu)
		joinConns, joinPodsCPU = append(joinConns, j.conns), append(joinPodsCPU, j.podsCPU)
		stop(j.window)
		var pids []int
		for k, p := range pods {
			if k != leaderOf(b, obs, c, keys) {
				pids = append(pids, p.cmd.Process.Pid)
			}
		}
		settleNext(b, obs, c, pods, keys, deadline, mode)
		stop = benchPerf(b, fmt.Sprintf("%d-%s-handover-%d", n, mode.name, i), pids...)
		lead, h := handOver(b, obs, c, pods, keys, deadline, mode)
		handOvers, handOverPhases, handOverCPUs = append(handOvers, h.took), append(handOverPhases, h.phase), append(handOverCPUs, h.cpu)
		handOverConns, handOverPodsCPU = append(handOverConns, h.conns), append(handOverPodsCPU, h.podsCPU)
		stop(h.window)
		pods = slices.Delete(pods, lead, lead+1)
		keys = slices.Delete(keys, lead, lead+1)
	}
	r.joinPhases, r.handOverPhases = slices.Clone(joinPhases), slices.Clone(handOverPhases)
	r.joinPodsCPU, r.handOverPodsCPU = joinPodsCPU, handOverPodsCPU
	r.join, r.joinPhase, r.joinLeaderCPU = median(joins), median(joinPhases), median(joinCPUs)
	r.handOver, r.handOverPhase, r.handOverLeaderCPU = median(handOvers), median(handOverPhases), median(handOverCPUs)
	r.joinConns, r.handOverConns = medianConns(joinConns), medianConns(handOverConns)
	benchInfos(b, pods, deadline, mode)
	r.rssMB = meanRSS(pods)
	lead, next := leaderOf(b, obs, c, keys), nextOf(b, obs, c, keys)
	leadKB, _ := rssKB(pods[lead])
	nextKB, _ := rssKB(pods[next])
	r.infoP50 = infoP50(b, pods[leaderOf(b, obs, c, keys)], mode, 200)
	if os.Getenv("OCHOPOD_BENCH_VERBOSE") != "" {
		for _, p := range pods {
			for _, l := range strings.Split(p.out.String(), "\n") {
				if strings.Contains(l, "actor=model") || strings.Contains(l, "leader lock") || strings.Contains(l, "signal received") {
					fmt.Printf("pod %d: %s\n", p.port, l) // b.Logf truncates a benchmark's log
				}
			}
		}
	}

	// Idle: what ZooKeeper receives while nothing changes.
	before := mntr(b, srv)
	t0 := time.Now()
	time.Sleep(idle) // a measurement window, not a wait for a condition
	after := mntr(b, srv)
	r.idleWindow = time.Since(t0)
	r.idlePackets = after["zk_packets_received"] - before["zk_packets_received"]
	r.sessions = after["zk_num_alive_connections"] - 1 // mntr's own connection is counted
	r.idleRate = float64(r.idlePackets) / r.idleWindow.Seconds()
	r.pingRate = float64(r.sessions) / (scaleSessionTimeout.Seconds() / 3)
	if scr != nil {
		scr.close()
		var failed int
		r.scrapes, failed = scr.counts()
		if failed > 0 {
			b.Logf("%d scrapes of /metrics failed", failed)
		}
	}
	b.Logf("pods=%d: start %s (%d configurations written on the way), join %s, hand-over %s; idle %d packets in %s from %d sessions (%.1f/s, pings alone %.1f/s); RSS %.1f MB/pod, the leader's %.1f MB, the next in line's %.1f MB",
		n, r.start.Round(time.Millisecond), r.phases, r.join.Round(time.Millisecond), r.handOver.Round(time.Millisecond),
		r.idlePackets, r.idleWindow.Round(time.Millisecond), r.sessions, r.idleRate, r.pingRate, r.rssMB, leadKB/1024, nextKB/1024)
	return r
}

// joinRound is one join: how long until the n+1 pods were configured, the configuration phase alone (the
// leader's /metrics), the CPU the leader and the n pods spent and the connections the leader opened meanwhile.
type joinRound struct {
	took, phase, cpu, podsCPU time.Duration
	conns                     connCounts
	window                    [2]time.Time // the phase's
}

// join starts one more pod and waits until the leader configured it with the others; it returns pods and
// keys (the pods' keys) with the new pod's.
func join(b *testing.B, addr string, obs zk.Conn, c zk.Cluster, pods []*podProcess, keys []string, within time.Duration, mode scaleMode) ([]*podProcess, []string, joinRound) {
	leader := pods[leaderOf(b, obs, c, keys)]
	before := mode.metrics(b, leader)
	cpu0, podsCPU0 := processCPU(b, leader.cmd.Process.Pid), podsCPU(b, pods, -1)
	began := time.Now()
	p := benchPod(b, addr, mode)
	_, at := waitHash(b, obs, c, len(pods)+1, "", within)
	round := joinRound{took: at.Sub(began), cpu: processCPU(b, leader.cmd.Process.Pid) - cpu0, podsCPU: podsCPU(b, pods, -1) - podsCPU0}
	pods = append(pods, p)
	done := mode.metrics(b, leader).since(before)
	round.conns = done.conns
	key, _ := benchInfos(b, []*podProcess{p}, within, mode)[0]["key"].(string)
	keys = append(keys, key)
	if pods[leaderOf(b, obs, c, keys)] != leader {
		b.Logf("the leader changed during the join: its figures are the previous leader's")
	}
	round.window = lastPhaseWindow(leader.out.String())
	round.phase = phaseOf(b, done)
	return pods, keys, round
}

// handOverRound is one hand-over: how long until the pods left were configured, the new leader's configuration
// phase alone (its /metrics), the CPU the new leader and the pods left spent and the connections the new
// leader opened meanwhile.
type handOverRound struct {
	took, phase, cpu, podsCPU time.Duration
	conns                     connCounts
	window                    [2]time.Time // the phase's
}

// podsCPU is the CPU time the processes of pods used so far, but for pods[skip]'s (-1: none skipped).
func podsCPU(b *testing.B, pods []*podProcess, skip int) time.Duration {
	var total time.Duration
	for i, p := range pods {
		if i != skip {
			total += processCPU(b, p.cmd.Process.Pid)
		}
	}
	return total
}

// handOver sends SIGTERM to the leader of pods (keys: their keys) and waits for another pod to configure the
// rest; it returns the old leader's index once its process exited.
func handOver(b *testing.B, obs zk.Conn, c zk.Cluster, pods []*podProcess, keys []string, within time.Duration, mode scaleMode) (int, handOverRound) {
	lead := leaderOf(b, obs, c, keys)
	cpus := make([]time.Duration, len(pods)) // the next leader is not known yet
	before := make([]leaderMetrics, len(pods))
	for i, p := range pods {
		if i != lead {
			before[i] = mode.metrics(b, p)
		}
	}
	var podsCPU0 time.Duration // of the pods that stay
	for i, p := range pods {
		cpus[i] = processCPU(b, p.cmd.Process.Pid)
		if i != lead {
			podsCPU0 += cpus[i]
		}
	}
	began := time.Now()
	if err := pods[lead].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	_, at := waitHash(b, obs, c, len(pods)-1, keys[lead], within)
	next := leaderOf(b, obs, c, keys)
	round := handOverRound{took: at.Sub(began), cpu: processCPU(b, pods[next].cmd.Process.Pid) - cpus[next], podsCPU: podsCPU(b, pods, lead) - podsCPU0}
	done := mode.metrics(b, pods[next]).since(before[next])
	round.conns = done.conns
	mdWaitExit(b, pods[lead], within)
	round.window = lastPhaseWindow(pods[next].out.String()) // its log is in by now
	round.phase = phaseOf(b, done)
	return lead, round
}

// phaseOf is the time a round's configuring took the leader: its one phase, or all of them when a phase was
// retried or another change came in the round (said in the log: the round is not like the others).
func phaseOf(b *testing.B, done leaderMetrics) time.Duration {
	if done.phases != 1 {
		b.Logf("%d phases in one round: its phase time is theirs together", done.phases)
	}
	return done.phaseSum
}

// infoP50 is the median of n POST /info to p, one at a time.
func infoP50(b *testing.B, p *podProcess, mode scaleMode, n int) time.Duration {
	took := make([]time.Duration, 0, n)
	mode.info(p) // the connection, once
	for range n {
		t0 := time.Now()
		if _, ok := mode.info(p); !ok {
			b.Fatalf("/info of the leader failed")
		}
		took = append(took, time.Since(t0))
	}
	return median(took)
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// waitRegistered waits, through a watch on pods/, until every pod started so far registered; a pod that
// exited (its control port was taken, say) is replaced.
func waitRegistered(b *testing.B, obs zk.Conn, c zk.Cluster, pods []*podProcess, addr string, within time.Duration, mode scaleMode) {
	end := time.Now().Add(within)
	for {
		for i, p := range pods {
			if !p.alive() {
				b.Logf("pod on port %d exited at start, replacing it:\n%s", p.port, p.out.String())
				pods[i] = benchPod(b, addr, mode)
			}
		}
		names, _, ch, err := obs.ChildrenW(c.Pods())
		if errors.Is(err, zk.ErrNoNode) { // not yet: wait for pods/ to appear
			var exists bool
			exists, _, ch, err = obs.ExistsW(c.Pods())
			if exists {
				continue
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		if len(names) >= len(pods) {
			return
		}
		select {
		case <-ch:
		case <-time.After(500 * time.Millisecond): // a process may exit
		}
		if time.Now().After(end) {
			b.Fatalf("%d of %d pods registered within %s", len(names), len(pods), within)
		}
	}
}

// waitHash waits, through watches on the hash, until snapshot and hash cover n live pods (exclude not among
// them) as the model computes it, and returns when the write was seen.
func waitHash(b *testing.B, obs zk.Conn, c zk.Cluster, n int, exclude string, within time.Duration) (mdView, time.Time) {
	end := time.NewTimer(within)
	defer end.Stop()
	for {
		_, _, ch, err := obs.ExistsW(c.Hash())
		if err != nil {
			b.Fatal(err)
		}
		seen := time.Now()
		// Cheap first: only a snapshot of n pods is worth reading every pod for.
		if data, _, err := obs.Get(c.Snapshot()); err == nil {
			var snap map[string]json.RawMessage
			if json.Unmarshal(data, &snap) == nil && len(snap) == n && snap[exclude] == nil {
				v, err := mdReadView(obs, c, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(v.live) == n && v.configured() {
					return v, seen
				}
			}
		}
		select {
		case <-ch:
		case <-time.After(time.Second): // a hash written before the watch was armed, a pod leaving late
		case <-end.C:
			v, _ := mdReadView(obs, c, nil)
			b.Fatalf("not configured with %d pods within %s: %s", n, within, v)
		}
	}
}

// benchInfos asks every pod's /info, a few at a time, until each says running.
func benchInfos(b *testing.B, pods []*podProcess, within time.Duration, mode scaleMode) []map[string]any {
	out := make([]map[string]any, len(pods))
	errs := make([]string, len(pods))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	end := time.Now().Add(within)
	for i, p := range pods {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for {
				m, ok := mode.info(p)
				if ok && mdRunning(m) {
					out[i] = m
					return
				}
				if time.Now().After(end) {
					errs[i] = fmt.Sprintf("pod %d (port %d): %v", i, p.port, m)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			b.Fatalf("not running: %s", e)
		}
	}
	return out
}

// leaderLog is the log of the pod that wrote the most configurations.
func leaderLog(pods []*podProcess) string {
	best, most := "", 0
	for _, p := range pods {
		s := p.out.String()
		if n := strings.Count(s, "snapshot and hash written"); n > most {
			best, most = s, n
		}
	}
	return best
}

func meanRSS(pods []*podProcess) float64 {
	var kb []float64
	for _, p := range pods {
		if v, ok := rssKB(p); ok {
			kb = append(kb, v)
		}
	}
	if len(kb) == 0 {
		return 0
	}
	sort.Float64s(kb)
	var sum float64
	for _, v := range kb {
		sum += v
	}
	return sum / float64(len(kb)) / 1024
}

// rssKB is p's resident memory in KiB (VmRSS); false when it cannot be read.
func rssKB(p *podProcess) (float64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, err := strconv.ParseFloat(f[1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

func mntr(b *testing.B, srv *zkserver.Server) map[string]int64 {
	m, err := srv.Mntr()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]int64{}
	for k, v := range m {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// warmUp runs some writes and reads through a fresh server so that its JIT does not weigh on the first figures:
// a ZooKeeper in production has been up for a while.
func warmUp(b *testing.B, obs zk.Conn) {
	for i := range 300 {
		p := fmt.Sprintf("/warmup-%d", i)
		if _, err := obs.Create(p, []byte("x"), zk.Ephemeral); err != nil {
			b.Fatal(err)
		}
		if _, _, err := obs.Get(p); err != nil {
			b.Fatal(err)
		}
		if err := obs.Delete(p, -1); err != nil {
			b.Fatal(err)
		}
	}
}

// lastPhase is the duration of the last configuration phase in a leader's log: from "configuring the cluster"
// to the "snapshot and hash written" after it.
func lastPhase(log string) time.Duration {
	w := lastPhaseWindow(log)
	return w[1].Sub(w[0])
}

// lastPhaseWindow is when the last configuration phase in a leader's log began and ended; zero times when
// there is none.
func lastPhaseWindow(log string) [2]time.Time {
	var began, done time.Time
	for _, l := range strings.Split(log, "\n") {
		at := logTime(l)
		switch {
		case strings.Contains(l, `msg="configuring the cluster"`):
			began, done = at, time.Time{}
		case strings.Contains(l, `msg="snapshot and hash written"`) && !began.IsZero():
			done = at
		}
	}
	if began.IsZero() || done.IsZero() {
		return [2]time.Time{}
	}
	return [2]time.Time{began, done}
}

func logTime(line string) time.Time {
	v, ok := strings.CutPrefix(line, "time=")
	if !ok {
		return time.Time{}
	}
	v, _, _ = strings.Cut(v, " ")
	at, _ := time.Parse(time.RFC3339Nano, v)
	return at
}

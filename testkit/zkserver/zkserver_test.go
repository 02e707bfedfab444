package zkserver

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that stopping servers leaves no goroutine behind (each process has one reaping goroutine).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIntegration_StandaloneStartSrvrStop(t *testing.T) {
	began := time.Now()
	srv := Start(t)
	t.Logf("standalone start took %v", time.Since(began).Round(time.Millisecond))

	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") || srv.Port() == 0 {
		t.Fatalf("Addr() = %q, Port() = %d; want 127.0.0.1:<port>", srv.Addr(), srv.Port())
	}
	srvr, err := srv.Srvr()
	if err != nil {
		t.Fatal(err)
	}
	if mode := ParseMode(srvr); mode != ModeStandalone {
		t.Fatalf("mode %q, want %q; srvr:\n%s", mode, ModeStandalone, srvr)
	}
	mntr, err := srv.Mntr()
	if err != nil {
		t.Fatal(err)
	}
	if mntr["zk_server_state"] != ModeStandalone || mntr["zk_version"] == "" {
		t.Fatalf("mntr state %q version %q", mntr["zk_server_state"], mntr["zk_version"])
	}
	if ok, err := srv.FourLetter("ruok"); err != nil || ok != "imok" {
		t.Fatalf("ruok = %q, %v", ok, err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() {
		t.Fatal("Running() after Stop")
	}
	if _, err := srv.Srvr(); err == nil {
		t.Fatal("srvr answered after Stop")
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestIntegration_RestartKeepsData(t *testing.T) {
	srv := Start(t)
	before := znodeCount(t, srv)
	if err := createZnode(srv.Addr(), "/zkserver-restart-probe", []byte("survives")); err != nil {
		t.Fatal(err)
	}
	want := znodeCount(t, srv)
	if want != before+1 {
		t.Fatalf("znode count %d after create, want %d", want, before+1)
	}
	zxid := lastZxid(t, srv)

	for _, down := range []struct {
		name string
		stop func() error
	}{{"Stop", srv.Stop}, {"Kill", srv.Kill}} {
		if err := down.stop(); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if err := srv.Restart(t.Context()); err != nil {
			t.Fatalf("restart after %s: %v", down.name, err)
		}
		t.Logf("restart after %s took %v", down.name, time.Since(began).Round(time.Millisecond))
		if got := znodeCount(t, srv); got != want {
			t.Fatalf("after %s and restart: znode count %d, want %d", down.name, got, want)
		}
		if got := lastZxid(t, srv); got < zxid {
			t.Fatalf("after %s and restart: zxid %#x went back from %#x", down.name, got, zxid)
		}
	}
}

func TestIntegration_EnsembleOneLeaderTwoFollowers(t *testing.T) {
	began := time.Now()
	ens := StartEnsemble(t, 3)
	t.Logf("3-member ensemble start took %v", time.Since(began).Round(time.Millisecond))

	if got := len(strings.Split(ens.ConnectString(), ",")); got != 3 {
		t.Fatalf("ConnectString() = %q, want 3 addresses", ens.ConnectString())
	}
	modes := ensembleModes(t, ens)
	if modes[ModeLeader] != 1 || modes[ModeFollower] != 2 {
		t.Fatalf("modes %v, want one leader and two followers", modes)
	}
	leader, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	mntr, err := leader.Mntr()
	if err != nil {
		t.Fatal(err)
	}
	if mntr["zk_synced_followers"] != "2" {
		t.Fatalf("leader %d reports zk_synced_followers=%q, want 2", leader.ID(), mntr["zk_synced_followers"])
	}
}

func TestIntegration_EnsembleLeaderStopElectsAnother(t *testing.T) {
	ens := StartEnsemble(t, 3)
	old, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := ens.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("re-election after stopping leader %d took %v", old.ID(), time.Since(began).Round(time.Millisecond))
	next, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if next == old {
		t.Fatalf("member %d still leader after it was stopped", old.ID())
	}

	// The old leader comes back as a follower of the new one.
	if err := old.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := ens.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if mode, err := old.Mode(); err != nil || mode != ModeFollower {
		t.Fatalf("restarted member %d: mode %q, %v; want follower", old.ID(), mode, err)
	}

	// Without a quorum the ensemble cannot become ready, and WaitReady says so at once.
	for _, m := range ens.Members()[:2] {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ens.WaitReady(t.Context()); err == nil || !strings.Contains(err.Error(), "quorum") {
		t.Fatalf("WaitReady without quorum: %v, want a quorum error", err)
	}
}

func TestLaunchMissingScript(t *testing.T) {
	_, err := Launch(t.Context(), Config{Dir: t.TempDir(), Script: "/nonexistent/zkServer.sh"})
	if !errors.Is(err, ErrNoZooKeeper) {
		t.Fatalf("Launch with missing script: %v, want ErrNoZooKeeper", err)
	}
	_, err = LaunchEnsemble(t.Context(), 3, Config{Dir: t.TempDir(), Script: "/nonexistent/zkServer.sh"})
	if !errors.Is(err, ErrNoZooKeeper) {
		t.Fatalf("LaunchEnsemble with missing script: %v, want ErrNoZooKeeper", err)
	}
}

func TestStartMissingScriptSkipsUnlessCI(t *testing.T) {
	for _, tc := range []struct {
		ci        string
		wantSkip  bool
		wantFatal bool
	}{{"", true, false}, {"true", false, true}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv(ScriptEnv, "/nonexistent/zkServer.sh")
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Start(rec)
			}()
			<-done
			if rec.skipped != tc.wantSkip || rec.fatal != tc.wantFatal {
				t.Fatalf("skipped=%v fatal=%v, want skipped=%v fatal=%v", rec.skipped, rec.fatal, tc.wantSkip, tc.wantFatal)
			}
		})
	}
}

func TestConfigRendering(t *testing.T) {
	cfg, err := Config{Dir: t.TempDir(), Settings: map[string]string{"snapCount": "1000"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	got := renderZooCfg(cfg, "/d/data", 4242, []peer{{1, 5001, 5002}, {2, 5003, 5004}})
	for _, want := range []string{
		"tickTime=200\n", "dataDir=/d/data\n", "clientPort=4242\n", "clientPortAddress=127.0.0.1\n",
		"admin.enableServer=false\n", "4lw.commands.whitelist=*\n", "maxSessionTimeout=30000\n",
		"server.1=127.0.0.1:5001:5002\n", "server.2=127.0.0.1:5003:5004\n", "snapCount=1000\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []Config{
		{TickTime: 1500 * time.Microsecond},
		{MinSessionTimeout: 10 * time.Second, MaxSessionTimeout: time.Second},
		{JVMFlags: []string{"-Xmx1g -Xms1g"}},
		{Settings: map[string]string{"dataDir": "/elsewhere"}},
		{Settings: map[string]string{"server.9": "0.0.0.0:1:2"}},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) accepted an invalid config", bad)
		}
	}
}

func TestParse(t *testing.T) {
	if m := ParseMode("Zookeeper version: 3.8.0\nZxid: 0x5\nMode: follower\nNode count: 5\n"); m != ModeFollower {
		t.Errorf("ParseMode = %q", m)
	}
	if m := ParseMode("This ZooKeeper instance is not currently serving requests\n"); m != "" {
		t.Errorf("ParseMode(not serving) = %q", m)
	}
	mntr, err := ParseMntr("zk_version\t3.8.0\nzk_znode_count\t5\n")
	if err != nil || mntr["zk_znode_count"] != "5" || mntr["zk_version"] != "3.8.0" {
		t.Errorf("ParseMntr = %v, %v", mntr, err)
	}
	if _, err := ParseMntr("This ZooKeeper instance is not currently serving requests\n"); err == nil {
		t.Error("ParseMntr accepted a not-serving response")
	}
}

func znodeCount(t *testing.T, s *Server) int {
	t.Helper()
	mntr, err := s.Mntr()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(mntr["zk_znode_count"])
	if err != nil {
		t.Fatalf("zk_znode_count %q: %v", mntr["zk_znode_count"], err)
	}
	return n
}

// lastZxid reads the "Zxid: 0x..." line of srvr.
func lastZxid(t *testing.T, s *Server) uint64 {
	t.Helper()
	srvr, err := s.Srvr()
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(srvr) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Zxid: "); ok {
			z, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
			if err != nil {
				t.Fatalf("Zxid %q: %v", v, err)
			}
			return z
		}
	}
	t.Fatalf("srvr has no Zxid line:\n%s", srvr)
	return 0
}

func ensembleModes(t *testing.T, e *Ensemble) map[string]int {
	t.Helper()
	modes := map[string]int{}
	for _, m := range e.Members() {
		mode, err := m.Mode()
		if err != nil {
			t.Fatalf("member %d: %v", m.ID(), err)
		}
		modes[mode]++
	}
	return modes
}

// recordingTB observes whether Start skips or fails; like the real methods, Skipf and Fatalf end the goroutine.
type recordingTB struct {
	testing.TB
	skipped, fatal bool
}

func (r *recordingTB) Helper()               {}
func (r *recordingTB) Skipf(string, ...any)  { r.skipped = true; runtime.Goexit() }
func (r *recordingTB) Fatalf(string, ...any) { r.fatal = true; runtime.Goexit() }
func (r *recordingTB) Logf(string, ...any)   {}

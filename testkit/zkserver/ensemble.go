package zkserver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Ensemble is a replicated ZooKeeper ensemble of n members on 127.0.0.1, each with its own client, quorum and
// election ports and its own directory (member-1, member-2, ... under the ensemble's directory). Members can be
// stopped, killed and restarted individually to exercise leader election and quorum loss.
type Ensemble struct {
	members      []*Server
	dir          string
	ownsDir      bool
	startTimeout time.Duration
}

// LaunchEnsemble starts an n-member ensemble and waits until every member serves as leader or follower (n == 1
// gives a single standalone server). cfg applies to every member; its ClientPort is ignored. ctx bounds the
// startup only (together with Config.StartTimeout).
func LaunchEnsemble(ctx context.Context, n int, cfg Config) (*Ensemble, error) {
	if n < 1 {
		return nil, fmt.Errorf("zkserver: an ensemble needs at least one member, not %d", n)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkScript(cfg.Script); err != nil {
		return nil, err
	}
	dir, owns, err := ensureDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		e, err := newEnsemble(n, cfg, dir, owns)
		if err != nil {
			return nil, cleanupDir(dir, owns, err)
		}
		if err = e.spawnAll(); err == nil {
			err = e.waitReady(ctx, true)
		}
		if err == nil {
			return e, nil
		}
		err = errors.Join(err, e.kill())
		if attempt < launchAttempts && errors.Is(err, errAddressInUse) {
			continue
		}
		return nil, cleanupDir(dir, owns, err)
	}
}

// newEnsemble assigns fresh ports to n members.
func newEnsemble(n int, cfg Config, dir string, owns bool) (*Ensemble, error) {
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	peers := make([]peer, n)
	for i := range peers {
		peers[i] = peer{id: i + 1, quorumPort: ports[3*i+1], electionPort: ports[3*i+2]}
	}
	e := &Ensemble{dir: dir, ownsDir: owns, startTimeout: cfg.StartTimeout}
	for i := range n {
		mcfg := cfg
		mcfg.Dir = filepath.Join(dir, fmt.Sprintf("member-%d", i+1))
		mcfg.ClientPort = ports[3*i]
		e.members = append(e.members, &Server{cfg: mcfg, id: i + 1, peers: peers, clientPort: mcfg.ClientPort})
	}
	return e, nil
}

// Members returns the members in myid order (Members()[i].ID() == i+1).
func (e *Ensemble) Members() []*Server { return append([]*Server(nil), e.members...) }

// Servers returns every member's client address, the form ZooKeeper client libraries take.
func (e *Ensemble) Servers() []string {
	addrs := make([]string, len(e.members))
	for i, m := range e.members {
		addrs[i] = m.Addr()
	}
	return addrs
}

// ConnectString returns the comma-separated client addresses.
func (e *Ensemble) ConnectString() string { return strings.Join(e.Servers(), ",") }

// Dir returns the ensemble's directory, which holds one subdirectory per member.
func (e *Ensemble) Dir() string { return e.dir }

// Leader returns the running member that currently reports itself leader.
func (e *Ensemble) Leader() (*Server, error) {
	var report []string
	for _, m := range e.members {
		if !m.Running() {
			report = append(report, fmt.Sprintf("%d: stopped", m.ID()))
			continue
		}
		mode, err := m.Mode()
		if err == nil && mode == ModeLeader {
			return m, nil
		}
		report = append(report, fmt.Sprintf("%d: %s", m.ID(), describe(mode, err)))
	}
	return nil, fmt.Errorf("zkserver: ensemble has no leader (%s)", strings.Join(report, ", "))
}

// WaitReady waits until every running member serves as leader or follower and exactly one of them leads, for
// example after a member was stopped or restarted. It fails at once if fewer than a quorum of members run, since
// the ensemble cannot serve then. ctx bounds the wait, as does Config.StartTimeout.
func (e *Ensemble) WaitReady(ctx context.Context) error { return e.waitReady(ctx, false) }

// waitReady polls srvr on the members; with all set, a member that is not running is a startup failure rather than
// a member deliberately stopped.
func (e *Ensemble) waitReady(ctx context.Context, all bool) error {
	ctx, cancel := context.WithTimeout(ctx, e.startTimeout)
	defer cancel()
	began := time.Now()
	backoff := pollInitial
	for {
		ready, status, err := e.probe(ctx, all)
		if err != nil || ready {
			return err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			var diag strings.Builder
			for _, m := range e.members {
				if p := m.current(); p != nil {
					diag.WriteString(p.diagnostics())
				}
			}
			return fmt.Errorf("zkserver: ensemble not ready after %v (%s): %w%s",
				time.Since(began).Round(time.Millisecond), status, ctx.Err(), diag.String())
		case <-timer.C:
		}
		backoff = min(2*backoff, pollMax)
	}
}

// probe asks every running member for its mode once. It returns ready when all serve under one leader, a status
// line for error messages, and an error when readiness has become impossible.
func (e *Ensemble) probe(ctx context.Context, all bool) (bool, string, error) {
	running, serving, leaders := 0, 0, 0
	var status []string
	for _, m := range e.members {
		p := m.current()
		if p == nil || p.exited() {
			if all && p != nil {
				err := p.exitError()
				if p.addressInUse() {
					err = fmt.Errorf("%w: %w", errAddressInUse, err)
				}
				return false, "", fmt.Errorf("member %d: %w", m.ID(), err)
			}
			status = append(status, fmt.Sprintf("%d: stopped", m.ID()))
			continue
		}
		running++
		resp, err := FourLetterWord(ctx, m.Addr(), "srvr")
		mode := ParseMode(resp)
		if err == nil && m.servingMode(mode) {
			serving++
			if mode == ModeLeader {
				leaders++
			}
		}
		status = append(status, fmt.Sprintf("%d: %s", m.ID(), describe(mode, err)))
	}
	if quorum := len(e.members)/2 + 1; running < quorum {
		return false, "", fmt.Errorf("zkserver: only %d of %d members running, a quorum needs %d (%s)",
			running, len(e.members), quorum, strings.Join(status, ", "))
	}
	ready := serving == running && (len(e.members) == 1 || leaders == 1)
	return ready, strings.Join(status, ", "), nil
}

// Stop stops every member (concurrently, since each may wait for its grace period). Data is kept.
func (e *Ensemble) Stop() error { return e.each((*Server).Stop) }

// Close stops every member for good and, if LaunchEnsemble created the ensemble's directory, removes it.
func (e *Ensemble) Close() error {
	err := e.each((*Server).Close)
	return cleanupDir(e.dir, e.ownsDir, err)
}

func (e *Ensemble) kill() error { return e.each((*Server).Kill) }

func (e *Ensemble) spawnAll() error {
	for _, m := range e.members {
		if _, err := m.spawn(); err != nil {
			return fmt.Errorf("member %d: %w", m.ID(), err)
		}
	}
	return nil
}

// each runs f on every member concurrently and joins the errors; it returns only when every call has.
func (e *Ensemble) each(f func(*Server) error) error {
	errs := make([]error, len(e.members))
	var wg sync.WaitGroup
	for i, m := range e.members {
		wg.Go(func() { errs[i] = f(m) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// current returns the server's current or last process.
func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

func describe(mode string, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case mode == "":
		return "not serving"
	default:
		return mode
	}
}

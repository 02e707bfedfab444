package zkserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoZooKeeper reports that the ZooKeeper launcher script does not exist. Start and StartEnsemble turn it into a
// skipped test (or a failure when $CI is set).
var ErrNoZooKeeper = errors.New("zkserver: ZooKeeper launcher script not found")

// errAddressInUse marks a startup that failed only because a port picked by freePorts was taken before ZooKeeper
// bound it; Launch then retries with fresh ports.
var errAddressInUse = errors.New("zkserver: port taken before ZooKeeper could bind it")

// launchAttempts bounds the retries on errAddressInUse.
const launchAttempts = 3

// Files inside a server's directory.
const (
	cfgFile   = "zoo.cfg"
	log4jFile = "log4j.properties"
	logFile   = "zookeeper.log" // ZooKeeper's own log, via log4j
	outFile   = "zkServer.out"  // the script's and the JVM's stdout and stderr
	dataDir   = "data"
)

// Readiness polling backoff. A standalone server serves about 300ms after launch and an ensemble after about a
// second, so a coarse backoff would dominate the measured startup; a probe is one loopback connection, so polling
// every 100ms costs nothing.
const (
	pollInitial = 10 * time.Millisecond
	pollMax     = 100 * time.Millisecond
)

// Server is one ZooKeeper server process, standalone or an ensemble member. Its port and directory stay the same
// across Stop and Restart, so clients can reconnect to the same address and find their data. Methods are safe for
// concurrent use.
type Server struct {
	cfg        Config // defaults applied, Dir absolute
	id         int    // myid; 0 for a standalone server
	peers      []peer // every ensemble member, including this one; nil when standalone
	clientPort int
	ownsDir    bool // Dir was created by Launch and is removed by Close

	mu     sync.Mutex // serialises Stop, Kill, Restart and Close; guards proc and closed
	proc   *process   // the current or last run; nil before the first
	closed bool
}

// Launch starts a standalone ZooKeeper server and waits until it serves clients. ctx bounds the startup only
// (together with Config.StartTimeout); the server runs until Stop, Kill or Close. If Config.ClientPort is zero and
// the picked port is taken before ZooKeeper binds it, Launch retries with another port.
func Launch(ctx context.Context, cfg Config) (*Server, error) {
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
	cfg.Dir = dir
	for attempt := 1; ; attempt++ {
		port := cfg.ClientPort
		if port == 0 {
			ports, err := freePorts(1)
			if err != nil {
				return nil, cleanupDir(dir, owns, err)
			}
			port = ports[0]
		}
		s := &Server{cfg: cfg, clientPort: port, ownsDir: owns}
		p, err := s.spawn()
		if err == nil {
			err = s.waitServing(ctx, p)
		}
		if err == nil {
			return s, nil
		}
		if cfg.ClientPort == 0 && attempt < launchAttempts && errors.Is(err, errAddressInUse) {
			continue
		}
		return nil, cleanupDir(dir, owns, err)
	}
}

// Addr returns the client address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort)) }

// Port returns the client port.
func (s *Server) Port() int { return s.clientPort }

// ID returns the server's myid within its ensemble, or 0 for a standalone server.
func (s *Server) ID() int { return s.id }

// Dir returns the directory holding zoo.cfg, the data directory and the logs.
func (s *Server) Dir() string { return s.cfg.Dir }

// LogPath returns the path of ZooKeeper's log file.
func (s *Server) LogPath() string { return filepath.Join(s.cfg.Dir, logFile) }

// LogTail returns up to maxBytes from the end of ZooKeeper's log, for failure messages.
func (s *Server) LogTail(maxBytes int) string { return tailFrom(s.LogPath(), 0, int64(maxBytes)) }

// Running reports whether the server process is alive (not whether it serves; see Mode).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// FourLetter sends a four-letter command to the server and returns its raw response.
func (s *Server) FourLetter(cmd string) (string, error) {
	return FourLetterWord(context.Background(), s.Addr(), cmd)
}

// Srvr returns the server's srvr report (version, latency, Zxid, Mode, node count).
func (s *Server) Srvr() (string, error) { return s.FourLetter("srvr") }

// Mntr returns the server's mntr report as a map (zk_server_state, zk_znode_count, zk_followers, ...).
func (s *Server) Mntr() (map[string]string, error) {
	resp, err := s.FourLetter("mntr")
	if err != nil {
		return nil, err
	}
	return ParseMntr(resp)
}

// Mode returns the mode srvr reports: ModeStandalone, ModeLeader or ModeFollower, or "" while not serving.
func (s *Server) Mode() (string, error) {
	resp, err := s.Srvr()
	if err != nil {
		return "", err
	}
	return ParseMode(resp), nil
}

// Stop shuts the server down (SIGTERM to its process group, SIGKILL after Config.StopTimeout) and waits until it
// has exited. Data is kept for Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.proc == nil || s.proc.exited() {
		return nil
	}
	if err := s.proc.stop(s.cfg.StopTimeout); err != nil {
		return fmt.Errorf("zkserver: stop %s: %w", s.Addr(), err)
	}
	return nil
}

// Kill ends the server abruptly with SIGKILL, like a crash or a power cut of the process (written data survives in
// the page cache), and waits until it has exited.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return nil
	}
	if err := s.proc.kill(); err != nil {
		return fmt.Errorf("zkserver: kill %s: %w", s.Addr(), err)
	}
	return nil
}

// Restart stops the server if it is running, starts it again on the same ports with the same data, and waits until
// it serves (for an ensemble member: until it has joined as leader or follower, which needs a quorum of running
// members). ctx bounds the wait, as does Config.StartTimeout; a server that does not serve in time is killed, so
// that a failed Restart never leaves a half-started process behind.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("zkserver: restart %s: server is closed", s.Addr())
	}
	if err := s.stopLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	p, err := s.spawnLocked()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.waitServing(ctx, p)
}

// Close stops the server for good and, if Launch created its directory, removes it.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.stopLocked()
	if s.ownsDir {
		if rerr := os.RemoveAll(s.cfg.Dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("zkserver: remove %s: %w", s.cfg.Dir, rerr))
		}
	}
	return err
}

// spawn writes the server's files and starts its process without waiting for readiness.
func (s *Server) spawn() (*process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spawnLocked()
}

func (s *Server) spawnLocked() (*process, error) {
	if err := s.writeFiles(); err != nil {
		return nil, err
	}
	p, err := startProcess(s.cfg.Script, filepath.Join(s.cfg.Dir, cfgFile), s.cfg.Dir,
		filepath.Join(s.cfg.Dir, outFile), s.LogPath(), s.env())
	if err != nil {
		return nil, err
	}
	s.proc = p
	return p, nil
}

// writeFiles (re)writes zoo.cfg, myid and log4j.properties; the data directory's contents are left alone.
func (s *Server) writeFiles() error {
	data := filepath.Join(s.cfg.Dir, dataDir)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("zkserver: create data directory: %w", err)
	}
	files := map[string]string{
		filepath.Join(s.cfg.Dir, cfgFile):   renderZooCfg(s.cfg, data, s.clientPort, s.peers),
		filepath.Join(s.cfg.Dir, log4jFile): renderLog4j(s.cfg.LogLevel, s.LogPath()),
	}
	if s.peers != nil {
		files[filepath.Join(data, "myid")] = strconv.Itoa(s.id) + "\n"
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("zkserver: write %s: %w", path, err)
		}
	}
	return nil
}

// env is the script's environment: the caller's, minus the variables through which zkServer.sh could be steered
// elsewhere, plus ours.
func (s *Server) env() []string {
	managed := map[string]bool{
		"CLASSPATH": true, "CLIENT_JVMFLAGS": true, "JMXAUTH": true, "JMXDISABLE": true, "JMXHOSTNAME": true,
		"JMXLOCALONLY": true, "JMXLOG4J": true, "JMXPORT": true, "JMXSSL": true, "JVMFLAGS": true,
		"SERVER_JVMFLAGS": true, "ZOOCFG": true, "ZOOCFGDIR": true, "ZOOMAIN": true, "ZOOPIDFILE": true,
		"ZOO_DATADIR_AUTOCREATE_DISABLE": true, "ZOO_LOG4J_PROP": true, "ZOO_LOG_DIR": true, "ZOO_LOG_FILE": true,
		"ZOO_NOEXEC": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !managed[k] {
			env = append(env, kv)
		}
	}
	jvm := []string{"-Dlog4j.configuration=" + fileURL(filepath.Join(s.cfg.Dir, log4jFile))}
	if len(s.cfg.ClassPath) > 0 {
		// The script puts JVMFLAGS after its own -cp; the JVM uses the last one.
		jvm = append([]string{"-cp", strings.Join(s.cfg.ClassPath, ":")}, jvm...)
	}
	return append(env,
		// No JMX agent: its RMI connector listens on all interfaces.
		"JMXDISABLE=true",
		"SERVER_JVMFLAGS="+strings.Join(s.cfg.JVMFlags, " "),
		"JVMFLAGS="+strings.Join(jvm, " "),
		// Honoured by upstream's zkEnv.sh, overwritten by Debian's; harmless either way.
		"ZOOCFGDIR="+s.cfg.Dir,
		"ZOO_LOG_DIR="+s.cfg.Dir,
		"ZOO_LOG_FILE="+logFile,
		"ZOOPIDFILE="+filepath.Join(s.cfg.Dir, "zookeeper_server.pid"),
	)
}

// waitServing polls srvr until the server reports a serving mode, p exits, or the deadline passes. ZooKeeper has
// no readiness notification, so polling is the only option.
func (s *Server) waitServing(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	began := time.Now()
	backoff := pollInitial
	last := "no probe yet"
	for {
		if p.exited() {
			if p.addressInUse() {
				return fmt.Errorf("%w: %w", errAddressInUse, p.exitError())
			}
			return p.exitError()
		}
		resp, err := FourLetterWord(ctx, s.Addr(), "srvr")
		switch mode := ParseMode(resp); {
		case err != nil:
			last = err.Error()
		case s.servingMode(mode):
			return nil
		case mode != "":
			last = "mode " + mode
		default:
			last = strings.TrimSpace(resp)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			err := fmt.Errorf("zkserver: %s not serving after %v (last probe: %s): %w%s",
				s.Addr(), time.Since(began).Round(time.Millisecond), last, ctx.Err(), p.diagnostics())
			_ = p.kill() // a server that never became ready is of no use to anyone
			return err
		case <-p.done:
			timer.Stop()
		case <-timer.C:
		}
		backoff = min(2*backoff, pollMax)
	}
}

// servingMode reports whether mode means this server serves clients in its intended role.
func (s *Server) servingMode(mode string) bool {
	if len(s.peers) > 1 {
		return mode == ModeLeader || mode == ModeFollower
	}
	return mode == ModeStandalone
}

// checkScript distinguishes a missing ZooKeeper (ErrNoZooKeeper) from a broken installation.
func checkScript(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s (install the Debian package zookeeper or set %s)", ErrNoZooKeeper, path, ScriptEnv)
	}
	if err != nil {
		return fmt.Errorf("zkserver: launcher %s: %w", path, err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("zkserver: launcher %s is not an executable file", path)
	}
	return nil
}

// ensureDir creates dir, or a fresh temporary directory when dir is empty (owned: the caller removes it).
func ensureDir(dir string) (string, bool, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "zkserver-")
		if err != nil {
			return "", false, fmt.Errorf("zkserver: create temporary directory: %w", err)
		}
		return tmp, true, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("zkserver: create directory %s: %w", dir, err)
	}
	return dir, false, nil
}

// cleanupDir removes an owned directory after a failed launch, keeping err as the primary error.
func cleanupDir(dir string, owned bool, err error) error {
	if owned {
		if rerr := os.RemoveAll(dir); rerr != nil {
			return errors.Join(err, fmt.Errorf("zkserver: remove %s: %w", dir, rerr))
		}
	}
	return err
}

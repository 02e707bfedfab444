package zkserver

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DefaultScript is the Debian package's ZooKeeper launcher, used when neither Config.Script nor the
// OCHOPOD_ZK_SCRIPT environment variable names another one.
const DefaultScript = "/usr/share/zookeeper/bin/zkServer.sh"

// ScriptEnv is the environment variable that overrides the launcher path, for machines where ZooKeeper is
// installed elsewhere (for example an upstream tarball).
const ScriptEnv = "OCHOPOD_ZK_SCRIPT"

// Defaults chosen for tests: a short tick so that session expiry and leader election happen in seconds rather than
// tens of seconds, and generous limits so that a busy CI machine does not drop followers.
const (
	defaultTickTime          = 200 * time.Millisecond
	defaultInitLimit         = 20 // ticks: 4 s with the default tick
	defaultSyncLimit         = 10 // ticks: 2 s with the default tick
	defaultMaxSessionTimeout = 30 * time.Second
	defaultStartTimeout      = 60 * time.Second
	defaultStopTimeout       = 5 * time.Second
	defaultLogLevel          = "INFO"
)

// DefaultJVMFlags returns the JVM flags used when Config.JVMFlags is nil. A small serial-GC heap with C1-only JIT
// starts faster and uses far less memory than the JVM's server defaults, which matters when a test starts several
// servers; -XX:-UsePerfData keeps the JVM from leaving hsperfdata files in /tmp when a server is killed.
func DefaultJVMFlags() []string {
	return []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"}
}

// debianLogClassPath lists the jars that give the Debian-packaged server a working log4j backend; the package's own
// class path carries only slf4j-api, so without these ZooKeeper logs nothing.
func debianLogClassPath() []string {
	return []string{
		"/usr/share/java/zookeeper.jar",
		"/usr/share/java/slf4j-log4j12.jar",
		"/usr/share/java/log4j-1.2.jar",
	}
}

// Config describes one ZooKeeper server (or, for LaunchEnsemble, every member of an ensemble). The zero value is
// usable: zero fields take the defaults documented on each field.
type Config struct {
	// Dir holds zoo.cfg, the data directory and the logs. It must be private to this server: ensembles put each
	// member in a subdirectory. Empty: Launch creates a temporary directory and Close removes it.
	Dir string

	// Script is the zkServer.sh to run. Empty: $OCHOPOD_ZK_SCRIPT, else DefaultScript.
	Script string

	// ClientPort is the client port on 127.0.0.1. Zero picks a free port. Ignored by LaunchEnsemble, which always
	// picks free ports.
	ClientPort int

	// TickTime is ZooKeeper's basic time unit; session timeouts and sync limits are multiples of it.
	// Zero: 200ms. ZooKeeper only accepts whole milliseconds.
	TickTime time.Duration

	// InitLimit and SyncLimit bound, in ticks, how long followers may take to connect to and sync with a leader.
	// Zero: 20 and 10.
	InitLimit, SyncLimit int

	// MinSessionTimeout and MaxSessionTimeout clamp the session timeout that clients negotiate.
	// Zero minimum: ZooKeeper's default of two ticks. Zero maximum: 30s.
	MinSessionTimeout, MaxSessionTimeout time.Duration

	// MaxClientCnxns limits concurrent connections per client IP. Zero means unlimited, unlike ZooKeeper's own
	// default of 60, because in tests every client comes from 127.0.0.1.
	MaxClientCnxns int

	// ForceSync makes ZooKeeper fsync its transaction log. Off by default: tests do not survive power loss and
	// fsync dominates write latency. Data still survives Stop, Kill and Restart because it reaches the page cache.
	ForceSync bool

	// JVMFlags are passed to the JVM (as SERVER_JVMFLAGS). Nil: DefaultJVMFlags(); an empty non-nil slice passes
	// none. zkServer.sh splits them on whitespace, so no flag may contain whitespace.
	JVMFlags []string

	// ClassPath, when non-empty, replaces the script's class path, so that a logging backend can be added.
	// Nil: when Script is Debian's, the Debian jars zookeeper.jar, slf4j-log4j12.jar and log4j-1.2.jar (if all
	// exist); otherwise the script's own class path, so that another installation runs its own jars and logs
	// through its own backend (into zkServer.out when that is the console). Entries may not contain whitespace,
	// for the same reason as JVMFlags.
	ClassPath []string

	// LogLevel is the log4j root level for zookeeper.log. Empty: INFO.
	LogLevel string

	// StartTimeout bounds how long Launch, Restart and WaitReady wait for the server to serve. Zero: 60s.
	StartTimeout time.Duration

	// StopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL. Zero: 5s.
	StopTimeout time.Duration

	// Settings adds or overrides zoo.cfg properties, written after the typed fields above. Keys that the package
	// manages for isolation (dataDir, clientPort, clientPortAddress, server.N) are rejected.
	Settings map[string]string
}

// Option adjusts a Config; Start and StartEnsemble apply options in order to the zero Config.
type Option func(*Config)

// WithDir places the server files in dir instead of a fresh t.TempDir().
func WithDir(dir string) Option { return func(c *Config) { c.Dir = dir } }

// WithScript runs the given zkServer.sh.
func WithScript(path string) Option { return func(c *Config) { c.Script = path } }

// WithTickTime sets ZooKeeper's tick.
func WithTickTime(d time.Duration) Option { return func(c *Config) { c.TickTime = d } }

// WithSessionTimeouts sets the negotiable session timeout range.
func WithSessionTimeouts(min, max time.Duration) Option {
	return func(c *Config) { c.MinSessionTimeout, c.MaxSessionTimeout = min, max }
}

// WithJVMFlags replaces DefaultJVMFlags.
func WithJVMFlags(flags ...string) Option {
	return func(c *Config) { c.JVMFlags = append([]string{}, flags...) }
}

// WithStartTimeout bounds how long startup may take.
func WithStartTimeout(d time.Duration) Option { return func(c *Config) { c.StartTimeout = d } }

// WithSetting adds one zoo.cfg property.
func WithSetting(key, value string) Option {
	return func(c *Config) {
		settings := make(map[string]string, len(c.Settings)+1)
		for k, v := range c.Settings {
			settings[k] = v
		}
		settings[key] = value
		c.Settings = settings
	}
}

// withDefaults returns a copy of c with zero fields filled in and Dir made absolute (zkServer.sh only uses a
// configuration path verbatim when it is absolute).
func (c Config) withDefaults() (Config, error) {
	if c.Script == "" {
		c.Script = os.Getenv(ScriptEnv)
	}
	if c.Script == "" {
		c.Script = DefaultScript
	}
	if c.TickTime == 0 {
		c.TickTime = defaultTickTime
	}
	if c.InitLimit == 0 {
		c.InitLimit = defaultInitLimit
	}
	if c.SyncLimit == 0 {
		c.SyncLimit = defaultSyncLimit
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = defaultMaxSessionTimeout
	}
	if c.JVMFlags == nil {
		c.JVMFlags = DefaultJVMFlags()
	}
	if c.ClassPath == nil && sameFile(c.Script, DefaultScript) && filesExist(debianLogClassPath()) {
		c.ClassPath = debianLogClassPath()
	}
	if c.LogLevel == "" {
		c.LogLevel = defaultLogLevel
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = defaultStartTimeout
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = defaultStopTimeout
	}
	if c.Dir != "" {
		abs, err := filepath.Abs(c.Dir)
		if err != nil {
			return c, fmt.Errorf("zkserver: resolve directory %q: %w", c.Dir, err)
		}
		c.Dir = abs
	}
	return c, c.validate()
}

func (c Config) validate() error {
	switch {
	case c.TickTime < time.Millisecond || c.TickTime%time.Millisecond != 0:
		return fmt.Errorf("zkserver: tick time %v is not a positive whole number of milliseconds", c.TickTime)
	case c.InitLimit < 0 || c.SyncLimit < 0:
		return fmt.Errorf("zkserver: negative init/sync limit %d/%d", c.InitLimit, c.SyncLimit)
	case c.MinSessionTimeout < 0 || c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("zkserver: invalid session timeout range [%v, %v]", c.MinSessionTimeout, c.MaxSessionTimeout)
	case c.MaxClientCnxns < 0:
		return fmt.Errorf("zkserver: negative MaxClientCnxns %d", c.MaxClientCnxns)
	case c.ClientPort < 0 || c.ClientPort > 65535:
		return fmt.Errorf("zkserver: client port %d out of range", c.ClientPort)
	}
	for _, f := range append(append([]string{}, c.JVMFlags...), c.ClassPath...) {
		if f == "" || strings.ContainsAny(f, " \t\n") {
			return fmt.Errorf("zkserver: JVM flag or class path entry %q is empty or contains whitespace, "+
				"which zkServer.sh would split", f)
		}
	}
	for k := range c.Settings {
		switch {
		case k == "dataDir" || k == "dataLogDir" || k == "clientPort" || k == "clientPortAddress" ||
			strings.HasPrefix(k, "server."):
			return fmt.Errorf("zkserver: setting %q is managed by zkserver", k)
		case k == "" || strings.ContainsAny(k, "=:\n"):
			return fmt.Errorf("zkserver: invalid setting key %q", k)
		case strings.Contains(c.Settings[k], "\n"):
			return fmt.Errorf("zkserver: value of setting %q contains a newline", k)
		}
	}
	return nil
}

// peer is one ensemble member as every member's zoo.cfg lists it.
type peer struct {
	id           int
	quorumPort   int
	electionPort int
}

// renderZooCfg produces zoo.cfg for the server with client port clientPort whose data lives in dataDir; peers is
// empty for a standalone server.
func renderZooCfg(c Config, dataDir string, clientPort int, peers []peer) string {
	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	b.WriteString("# Generated by github.com/ochopod/ochopod/testkit/zkserver. Everything listens on 127.0.0.1.\n")
	line("tickTime", c.TickTime.Milliseconds())
	line("initLimit", c.InitLimit)
	line("syncLimit", c.SyncLimit)
	line("dataDir", escapeProperty(dataDir))
	line("clientPort", clientPort)
	line("clientPortAddress", "127.0.0.1")
	line("maxClientCnxns", c.MaxClientCnxns)
	if c.MinSessionTimeout > 0 {
		line("minSessionTimeout", c.MinSessionTimeout.Milliseconds())
	}
	line("maxSessionTimeout", c.MaxSessionTimeout.Milliseconds())
	line("admin.enableServer", false)
	line("4lw.commands.whitelist", "*")
	// Unknown keys become zookeeper.* system properties, so this sets zookeeper.forceSync.
	if c.ForceSync {
		line("forceSync", "yes")
	} else {
		line("forceSync", "no")
	}
	for _, p := range peers {
		line(fmt.Sprintf("server.%d", p.id), fmt.Sprintf("127.0.0.1:%d:%d", p.quorumPort, p.electionPort))
	}
	keys := make([]string, 0, len(c.Settings))
	for k := range c.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line(k, c.Settings[k])
	}
	return b.String()
}

// renderLog4j produces a log4j 1.2 configuration that appends everything at level to logFile, keeping ZooKeeper's
// chatter out of the test output while preserving it for failure reports.
func renderLog4j(level, logFile string) string {
	return "log4j.rootLogger=" + level + ", FILE\n" +
		"log4j.appender.FILE=org.apache.log4j.FileAppender\n" +
		"log4j.appender.FILE.File=" + escapeProperty(logFile) + "\n" +
		"log4j.appender.FILE.Append=true\n" +
		"log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
}

// escapeProperty escapes a java.util.Properties value; only backslashes matter for file paths.
func escapeProperty(v string) string { return strings.ReplaceAll(v, `\`, `\\`) }

// fileURL turns a path into a file: URL, percent-encoding anything (such as spaces) that zkServer.sh's word
// splitting of JVMFLAGS would otherwise break.
func fileURL(path string) string { return (&url.URL{Scheme: "file", Path: path}).String() }

// sameFile reports whether a and b name the same existing file, following symlinks.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func filesExist(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

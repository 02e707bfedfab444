package zkserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one run of zkServer.sh start-foreground. The script execs java, but it runs in its own process group
// and is always signalled as a group, so that a java forked rather than exec'd (ZOO_NOEXEC, other packagings) can
// never outlive it.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // Wait's result; read only after done is closed

	// logStart and outStart are the log files' sizes when this run began, so that failure reports and the
	// "address in use" check only look at this run's output.
	logPath, outPath   string
	logStart, outStart int64
}

// startProcess runs script start-foreground cfgPath in dir with stdout and stderr appended to outPath.
func startProcess(script, cfgPath, dir, outPath, logPath string, env []string) (*process, error) {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("zkserver: open %s: %w", outPath, err)
	}
	p := &process{
		done:     make(chan struct{}),
		logPath:  logPath,
		outPath:  outPath,
		logStart: fileSize(logPath),
		outStart: fileSize(outPath),
	}
	cmd := exec.Command(script, "start-foreground", cfgPath)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil
	// An *os.File needs no copying goroutine, so nothing outlives the process.
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Best effort for a test binary that dies without running its cleanups (a panic, a -timeout): the
		// kernel then kills the server instead of leaving a stray JVM. It survives the script's exec of java.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("zkserver: start %s: %w", script, err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		_ = out.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to grace for the script's process to exit, then sends SIGKILL
// to whatever is left of the group.
func (p *process) stop(grace time.Duration) error {
	if err := p.signalGroup(syscall.SIGTERM); err != nil {
		return err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
	}
	return p.kill()
}

// kill sends SIGKILL to the process group and waits for the script's process to be reaped. Sending it after a
// graceful exit is deliberate: it reaches any straggler left in the group.
func (p *process) kill() error {
	err := p.signalGroup(syscall.SIGKILL)
	<-p.done
	return err
}

// signalGroup signals the whole process group. A group that no longer exists is not an error: the server is
// already gone, which is what the caller wants.
func (p *process) signalGroup(sig syscall.Signal) error {
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("zkserver: signal %v to process group %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// exitError describes an unexpected exit, with the tail of this run's output and log for diagnosis.
func (p *process) exitError() error {
	return fmt.Errorf("zkserver: ZooKeeper exited during startup (%v)%s", p.err, p.diagnostics())
}

// diagnostics returns the tail of this run's script output and ZooKeeper log, formatted for an error message.
func (p *process) diagnostics() string {
	var b strings.Builder
	if t := tailFrom(p.outPath, p.outStart, 2048); t != "" {
		fmt.Fprintf(&b, "\n--- %s (tail) ---\n%s", p.outPath, t)
	}
	if t := tailFrom(p.logPath, p.logStart, 8192); t != "" {
		fmt.Fprintf(&b, "\n--- %s (tail) ---\n%s", p.logPath, t)
	}
	return b.String()
}

// addressInUse reports whether this run failed because a port was taken between freePorts and ZooKeeper's bind.
func (p *process) addressInUse() bool {
	return strings.Contains(tailFrom(p.logPath, p.logStart, 1<<20), "Address already in use") ||
		strings.Contains(tailFrom(p.outPath, p.outStart, 1<<20), "Address already in use")
}

// tailFrom returns up to limit bytes from the end of path, never reading before offset start, trimmed to whole
// lines.
func tailFrom(path string, start, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	from := max(start, st.Size()-limit)
	if from >= st.Size() {
		return ""
	}
	buf := make([]byte, st.Size()-from)
	n, _ := f.ReadAt(buf, from)
	s := string(buf[:n])
	if from > start {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
